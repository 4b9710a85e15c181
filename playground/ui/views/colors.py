"""Colours shared by the views, in two palettes a user can choose between:

- ``default``: the TensorFlow Playground's orange (negative, class 0) to white to blue
  (positive, class 1), and a categorical set for more classes;
- ``colour-blind``: orange to white to purple (ColorBrewer's PuOr ends, which differ
  in lightness too, so they part even in grey), and Okabe and Ito's categorical colours
  with black for the fifth. Under simulated protanopia, deuteranopia and tritanopia every
  pair of its class colours stays at least 15 CIELAB units apart (tests/test_colors.py);
  the default set has pairs under 10 (blue/purple for protanopia, green/red for
  deuteranopia).

A palette is a view setting: it changes no run, so it is not part of ``RunConfig``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NEGATIVE = (245, 147, 34)  # #f59322
POSITIVE = (8, 119, 189)  # #0877bd
NEUTRAL = (232, 234, 235)
CLASS_COLORS = ("#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
LEVELS = 256  # images travel as uint8 indexes into a 256-colour palette


@dataclass(frozen=True)
class Palette:
    """``negative``/``neutral``/``positive``: RGB 0..255 of the diverging scale's ends and
    middle (class 0 is the negative end, class 1 the positive one); ``classes``: one
    ``#rrggbb`` per class, up to 6; ``names``: what the legends call the two ends."""

    negative: tuple[int, int, int]
    neutral: tuple[int, int, int]
    positive: tuple[int, int, int]
    classes: tuple[str, ...]
    names: tuple[str, str]  # the two ends in words: (negative, positive)


PALETTES = {
    "default": Palette(NEGATIVE, NEUTRAL, POSITIVE, CLASS_COLORS, ("orange", "blue")),
    "colour-blind": Palette((230, 97, 1), (247, 247, 247), (94, 60, 153),
                            ("#e66101", "#5e3c99", "#009e73", "#56b4e9", "#222222", "#cc79a7"), ("orange", "purple")),
}
DEFAULT_PALETTE = "default"


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(round(c)) for c in rgb)


def rgb(color: str) -> tuple[int, int, int]:
    """``#rrggbb`` -> (r, g, b) 0..255."""
    return tuple(int(color[i: i + 2], 16) for i in (1, 3, 5))


def palette(name: str = DEFAULT_PALETTE) -> Palette:
    """The palette called ``name`` (see PALETTES); ValueError for an unknown name."""
    try:
        return PALETTES[name]
    except KeyError:
        raise ValueError(f"unknown palette {name!r}; choose from {', '.join(PALETTES)}") from None


def class_colors(name: str = DEFAULT_PALETTE) -> tuple[str, ...]:
    """The point colour of each class, ``#rrggbb``."""
    return palette(name).classes


@lru_cache(maxsize=None)
def _diverging(levels: int, lightness: float, name: str) -> tuple[str, ...]:
    p = palette(name)
    colors = []
    for t in np.linspace(0.0, 1.0, levels):
        if t < 0.5:
            mixed = np.add(p.negative, (np.subtract(p.neutral, p.negative)) * (t / 0.5))
        else:
            mixed = np.add(p.neutral, (np.subtract(p.positive, p.neutral)) * ((t - 0.5) / 0.5))
        colors.append(_hex(mixed + (255 - mixed) * lightness))
    return tuple(colors)


def diverging_palette(levels: int = LEVELS, lightness: float = 0.0, name: str = DEFAULT_PALETTE) -> list[str]:
    """Negative -> near-white -> positive, ``levels`` colours; ``lightness`` 0..1 mixes in white."""
    return list(_diverging(levels, lightness, name))


def class_palette(n_classes: int, name: str = DEFAULT_PALETTE) -> list[str]:
    """One light colour per class, for the K-class decision regions."""
    return [_hex(np.array(rgb(color)) + (255 - np.array(rgb(color))) * 0.55)
            for color in class_colors(name)[:n_classes]]


def to_levels(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map ``values`` from [low, high] onto palette indexes 0..255 as uint8 (clipped)."""
    # In place on one float copy (a frame's boundary: 10,000 values, every frame). NaN -> the
    # middle level; +-inf -> the ends.
    scaled = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scaled -= low
        scaled *= (LEVELS - 1) / max(high - low, 1e-12)
    scaled[np.isnan(scaled)] = (LEVELS - 1) / 2
    np.clip(scaled, 0, LEVELS - 1, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def point_colors(labels: np.ndarray, n_classes: int, name: str = DEFAULT_PALETTE) -> list[str]:
    """The colour of each data point: its class's, or for regression (``n_classes`` 0) its
    target on the diverging scale from -1 to 1."""
    if n_classes == 0:
        scale = diverging_palette(name=name)
        return [scale[i] for i in to_levels(labels, -1.0, 1.0)]
    colors = class_colors(name)
    return [colors[int(c)] for c in labels]
