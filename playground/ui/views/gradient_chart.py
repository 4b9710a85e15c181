"""Per-layer gradient norms over epochs (log scale): vanishing gradients made visible."""
from __future__ import annotations

import math

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.palettes import Viridis256

from playground.core.config import MAX_HIDDEN_LAYERS
from playground.core.session import Frame, Session
from playground.ui.views.charts import GrowingSource, legend_html, live_figure
from playground.transport.frame_channel import DIRECT

MAX_LAYERS = MAX_HIDDEN_LAYERS + 1  # weight layers: every hidden layer and the output
MAX_POINTS = 2000


class GradientNormChart(pn.viewable.Viewer):
    """One line per weight layer, first hidden layer in dark purple, output in yellow."""

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    def __init__(self, **params):
        super().__init__(**params)
        columns = {"epoch": []} | {f"layer{l}": [] for l in range(MAX_LAYERS)}
        self.source = ColumnDataSource(columns, name="gradient_norms_source")
        self.rows = GrowingSource(self.source, MAX_POINTS)
        self.figure = live_figure(width=400, height=160, sizing_mode="stretch_width", min_width=360, y_axis_type="log", x_range=Range1d(0, 1),
                                  y_range=Range1d(1e-6, 1), name="gradient_norm_figure")
        self.figure.xaxis.axis_label = "epoch"
        self.figure.xgrid.visible = False
        self.lines = [self.figure.line("epoch", f"layer{l}", source=self.source, line_width=2)
                      for l in range(MAX_LAYERS)]
        self.legend = pn.pane.HTML("", margin=(0, 5), name="gradient_norm_legend")
        self._layout = pn.Column(self.legend, pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
                                 sizing_mode="stretch_width")
        self._session = None
        self._low, self._high = math.inf, 0.0

    def __panel__(self):
        return self._layout

    def set_session(self, session: Session) -> None:
        self._session = session
        n = session.spec.n_layers
        palette = [Viridis256[int(i * 220 / max(n - 1, 1))] for i in range(n)]
        entries = []
        for l, line in enumerate(self.lines):
            line.visible = l < n
            if l < n:
                line.glyph.line_color = palette[l]
                entries.append(("output" if l == n - 1 else f"layer {l + 1}", palette[l]))
        self.legend.object = legend_html(entries, title="Gradient norm per layer")
        self.rows.reset()
        self._low, self._high = math.inf, 0.0

    def show(self, frame: Frame) -> None:
        if frame.gradient is None or self._session is None:
            return
        norms = self._session.spec.layout().weight_norms(frame.gradient)
        if not all(math.isfinite(v) for v in norms):
            return
        # arrays, not lists: the NaNs (no such layer) then travel packed (see frame_socket)
        row = {"epoch": np.array([frame.epoch], dtype=float)} | {
            f"layer{l}": np.array([norms[l] if l < len(norms) else np.nan]) for l in range(MAX_LAYERS)}
        self.rows.append(row, self.writer)
        positive = [v for v in norms if v > 0]
        if positive:
            self._low, self._high = min(self._low, *positive), max(self._high, *positive)
            self.writer.set(self.figure.y_range, start=self._low / 2, end=self._high * 2)
        epochs = self.source.data["epoch"]
        self.writer.set(self.figure.x_range, start=float(epochs[0]), end=float(max(epochs[-1], 1.0)))
