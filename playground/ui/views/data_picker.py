"""The data set picker: one thumbnail and button per data set."""
from __future__ import annotations

import io
from functools import lru_cache

import panel as pn
from PIL import Image

from playground.core.config import RunConfig
from playground.core.data import DATASETS, generate
from playground.ui.views.colors import DEFAULT_PALETTE, point_colors, rgb

THUMB = 56  # pixels


def scatter_png(points, labels, n_classes: int, extent=(-6.0, 6.0, -6.0, 6.0), size: int = THUMB,
                palette: str = DEFAULT_PALETTE) -> bytes:
    """A small PNG scatter of ``points`` ``(n, 2)`` coloured by ``labels`` ``(n,)`` (classes,
    or regression targets when ``n_classes`` is 0); ``extent`` = (x0, x1, y0, y1) fills it."""
    image = Image.new("RGB", (size, size), (245, 245, 245))
    pixels = image.load()
    x0, x1, y0, y1 = extent
    sx, sy = (size - 3) / max(x1 - x0, 1e-12), (size - 3) / max(y1 - y0, 1e-12)
    for (x, y), color in zip(points, point_colors(labels, n_classes, palette)):
        px, py = int((x - x0) * sx) + 1, int((y1 - y) * sy) + 1
        for dx in (0, 1):
            for dy in (0, 1):
                if 0 <= px + dx < size and 0 <= py + dy < size:
                    pixels[px + dx, py + dy] = rgb(color)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=None)
def thumbnail_png(name: str, palette: str = DEFAULT_PALETTE) -> bytes:
    """A small PNG of data set ``name`` (noise 0, 3 classes for blobs); cached per process."""
    data = generate(name, n_points=300, noise=0, seed=0, classes=3 if name == "blobs" else 2)
    return scatter_png(data.points, data.labels, data.n_classes, palette=palette)


class DataPicker(pn.viewable.Viewer):
    """Sets ``config.dataset`` when a data set's button is clicked."""

    def __init__(self, config: RunConfig, **params):
        super().__init__(**params)
        self.config = config
        self.buttons = {}
        self.thumbnails = {}
        cells = []
        for name in DATASETS:
            button = pn.widgets.Button(label=name, width=THUMB + 16, margin=(0, 2), height=28)
            button.on_click(lambda e, n=name: self._choose(n))
            self.buttons[name] = button
            self.thumbnails[name] = pn.pane.PNG(thumbnail_png(name), width=THUMB, height=THUMB, margin=(2, 10),
                                                alt_text=f"the {name} data set")
            cells.append(pn.Column(self.thumbnails[name], button, margin=2))
        self._layout = pn.GridBox(*cells, ncols=4, margin=0)
        config.param.watch(lambda *events: self._highlight(), ["dataset", "csv"])
        self._highlight()

    def __panel__(self):
        return self._layout

    def set_palette(self, palette: str) -> None:
        """Redraw the thumbnails in ``palette`` (see colors.PALETTES)."""
        for name, pane in self.thumbnails.items():
            pane.object = thumbnail_png(name, palette)

    def _choose(self, name: str) -> None:
        self.config.param.update(dataset=name, csv=None)

    def _highlight(self) -> None:
        for name, button in self.buttons.items():
            button.color = "primary" if name == self.config.dataset and not self.config.csv else "default"
