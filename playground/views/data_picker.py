"""The data set picker: one thumbnail and button per data set."""
from __future__ import annotations

import io
from functools import lru_cache

import panel as pn
from PIL import Image

from ..config import RunConfig
from ..data import DATASETS, generate
from .colors import CLASS_COLORS, diverging_palette, to_levels

THUMB = 56  # pixels


@lru_cache(maxsize=None)
def thumbnail_png(name: str) -> bytes:
    """A small PNG of data set ``name`` (noise 0, 3 classes for blobs); cached per process."""
    data = generate(name, n_points=300, noise=0, seed=0, classes=3 if name == "blobs" else 2)
    image = Image.new("RGB", (THUMB, THUMB), (245, 245, 245))
    pixels = image.load()
    if data.is_regression:
        palette = diverging_palette()
        colors = [palette[i] for i in to_levels(data.labels, -1.0, 1.0)]
    else:
        colors = [CLASS_COLORS[int(c)] for c in data.labels]
    scale = (THUMB - 3) / 12.0
    for (x, y), color in zip(data.points, colors):
        px, py = int((x + 6) * scale) + 1, int((6 - y) * scale) + 1
        rgb = tuple(int(color[i: i + 2], 16) for i in (1, 3, 5))
        for dx in (0, 1):
            for dy in (0, 1):
                if 0 <= px + dx < THUMB and 0 <= py + dy < THUMB:
                    pixels[px + dx, py + dy] = rgb
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class DataPicker(pn.viewable.Viewer):
    """Sets ``config.dataset`` when a data set's button is clicked."""

    def __init__(self, config: RunConfig, **params):
        super().__init__(**params)
        self.config = config
        self.buttons = {}
        cells = []
        for name in DATASETS:
            button = pn.widgets.Button(label=name, width=THUMB + 16, margin=(0, 2), height=28)
            button.on_click(lambda e, n=name: self._choose(n))
            self.buttons[name] = button
            cells.append(pn.Column(pn.pane.PNG(thumbnail_png(name), width=THUMB, height=THUMB, margin=(2, 10)),
                                   button, margin=2))
        self._layout = pn.GridBox(*cells, ncols=4, margin=0)
        config.param.watch(lambda e: self._highlight(), ["dataset", "csv"])
        self._highlight()

    def __panel__(self):
        return self._layout

    def _choose(self, name: str) -> None:
        self.config.param.update(dataset=name, csv=None)

    def _highlight(self) -> None:
        for name, button in self.buttons.items():
            button.color = "primary" if name == self.config.dataset and not self.config.csv else "default"
