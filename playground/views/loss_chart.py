"""Training and test loss over epochs, streamed point by point."""
from __future__ import annotations

import math

import panel as pn
import param
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from ..session import Frame

MAX_POINTS = 2000  # older points roll off the chart


class LossChart(pn.viewable.Viewer):
    """Two lines, training (dark) and test (grey); linear or log y-axis.

    Axis ranges are set from the server (not auto-ranged), which keeps the browser from
    sending range updates on every streamed point.
    """

    log_scale = param.Boolean(default=False, doc="Log scale")

    def __init__(self, **params):
        super().__init__(**params)
        self.source = ColumnDataSource(dict(epoch=[], train=[], test=[]), name="loss_source")
        self.figures = {}
        for scale in ("linear", "log"):
            fig = figure(width=330, height=150, y_axis_type=scale, x_range=Range1d(0, 1),
                         y_range=Range1d(1e-3 if scale == "log" else 0, 1), toolbar_location=None,
                         tools="", name=f"loss_figure_{scale}", min_border=4)
            fig.line("epoch", "train", source=self.source, color="#333333", line_width=2,
                     legend_label="training")
            fig.line("epoch", "test", source=self.source, color="#999999", line_width=2,
                     legend_label="test")
            fig.legend.location = "top_right"
            fig.legend.label_text_font_size = "8pt"
            fig.legend.background_fill_alpha = 0.6
            fig.xaxis.axis_label = "epoch"
            self.figures[scale] = fig
        self.panes = {scale: pn.pane.Bokeh(fig) for scale, fig in self.figures.items()}
        self._top = 1e-9
        self._bottom = math.inf
        self._layout = pn.Column(self.panes["linear"], self.panes["log"],
                                 pn.widgets.Checkbox.from_param(self.param.log_scale, label="Log scale"))
        self._toggle_scale()

    def __panel__(self):
        return self._layout

    @param.depends("log_scale", watch=True)
    def _toggle_scale(self):
        # the figures themselves (toggling the panes twice does not reach the browser)
        self.figures["linear"].visible = not self.log_scale
        self.figures["log"].visible = self.log_scale

    def clear(self, history: dict | None = None) -> None:
        """Empty the chart, or start it from a session's ``history`` (epoch/train_loss/test_loss)."""
        self.source.data = dict(epoch=[], train=[], test=[])
        self._top, self._bottom = 1e-9, math.inf
        if history and len(history["epoch"]) > 1:
            points = zip(history["epoch"][:-1], history["train_loss"][:-1], history["test_loss"][:-1])
            for epoch, train, test in list(points)[-MAX_POINTS:]:
                if math.isfinite(train):
                    self.source.stream(dict(epoch=[epoch], train=[train], test=[test]), rollover=MAX_POINTS)

    def show(self, frame: Frame) -> None:
        """Stream one point (non-finite losses are not drawn) and adjust the ranges."""
        train, test = frame.train_loss, frame.test_loss
        if not math.isfinite(train):
            return
        test = test if math.isfinite(test) else float("nan")
        self.source.stream(dict(epoch=[frame.epoch], train=[train], test=[test]), rollover=MAX_POINTS)
        finite = [v for v in (train, test) if math.isfinite(v)]
        self._top = max(self._top, *finite)
        self._bottom = min(self._bottom, *[v for v in finite if v > 0] or [self._bottom])
        epochs = self.source.data["epoch"]
        start, end = epochs[0], max(epochs[-1], 1.0)
        for scale, fig in self.figures.items():
            fig.x_range.update(start=start, end=end)
        self.figures["linear"].y_range.update(start=0, end=self._top * 1.05)
        if math.isfinite(self._bottom):
            self.figures["log"].y_range.update(start=self._bottom * 0.8, end=self._top * 1.25)
