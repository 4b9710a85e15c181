"""Colours shared by the views: the TensorFlow Playground's orange (negative, class 0)
to white to blue (positive, class 1), and a categorical set for more classes."""
from __future__ import annotations

import numpy as np

NEGATIVE = (245, 147, 34)  # #f59322
POSITIVE = (8, 119, 189)  # #0877bd
NEUTRAL = (232, 234, 235)
CLASS_COLORS = ("#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
LEVELS = 256  # images travel as uint8 indexes into a 256-colour palette


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(round(c)) for c in rgb)


def diverging_palette(levels: int = LEVELS, lightness: float = 0.0) -> list[str]:
    """Orange -> near-white -> blue, ``levels`` colours; ``lightness`` 0..1 mixes in white."""
    colors = []
    for t in np.linspace(0.0, 1.0, levels):
        if t < 0.5:
            rgb = np.add(NEGATIVE, (np.subtract(NEUTRAL, NEGATIVE)) * (t / 0.5))
        else:
            rgb = np.add(NEUTRAL, (np.subtract(POSITIVE, NEUTRAL)) * ((t - 0.5) / 0.5))
        colors.append(_hex(rgb + (255 - rgb) * lightness))
    return colors


def class_palette(n_classes: int) -> list[str]:
    """One light colour per class, for the K-class decision regions."""
    light = []
    for color in CLASS_COLORS[:n_classes]:
        rgb = np.array([int(color[i: i + 2], 16) for i in (1, 3, 5)])
        light.append(_hex(rgb + (255 - rgb) * 0.55))
    return light


def to_levels(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map ``values`` from [low, high] onto palette indexes 0..255 as uint8 (clipped)."""
    with np.errstate(invalid="ignore"):
        scaled = (np.asarray(values, dtype=np.float64) - low) / max(high - low, 1e-12)
    scaled = np.nan_to_num(scaled, nan=0.5)
    return np.clip(np.round(scaled * (LEVELS - 1)), 0, LEVELS - 1).astype(np.uint8)
