"""Training and test loss over epochs, streamed point by point."""
from __future__ import annotations

import math

import panel as pn
import param
from bokeh.models import ColumnDataSource, BasicTickFormatter, Range1d

from playground.core.session import Frame
from playground.ui.views.charts import GrowingSource, legend_html, live_figure
from playground.transport.frame_channel import DIRECT

MAX_POINTS = 2000  # older points roll off the chart
TRAIN_COLOR, TEST_COLOR = "#333333", "#999999"
DARK_TRAIN_COLOR = "#e9ecef"  # the training line on the dark theme's background


class LossChart(pn.viewable.Viewer):
    """Two lines, training (dark) and test (grey); linear or log y-axis.

    Axis ranges are set from the server (not auto-ranged), which keeps the browser from
    sending range updates on every streamed point.
    """

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    log_scale = param.Boolean(default=False, doc="Log scale")

    def __init__(self, **params):
        super().__init__(**params)
        self.source = ColumnDataSource(dict(epoch=[], train=[], test=[]), name="loss_source")
        self.rows = GrowingSource(self.source, MAX_POINTS)
        self.figures = {}
        for scale in ("linear", "log"):
            fig = live_figure(width=330, height=150, sizing_mode="stretch_width", y_axis_type=scale, x_range=Range1d(0, 1),
                              y_range=Range1d(1e-3 if scale == "log" else 0, 1), name=f"loss_figure_{scale}")
            fig.line("epoch", "train", source=self.source, color=TRAIN_COLOR, line_width=2)
            fig.line("epoch", "test", source=self.source, color=TEST_COLOR, line_width=2)
            fig.xgrid.visible = False
            fig.xaxis.axis_label = "epoch"
            if scale == "linear":  # labels of one width: a wider label would re-lay-out the page
                fig.yaxis.formatter = BasicTickFormatter(precision=2, power_limit_high=4)
            self.figures[scale] = fig
        # One figure on the page at a time: a hidden one would still be redrawn on every
        # streamed point, and its unplaced axes would re-lay-out the whole page each time.
        self.pane = pn.pane.Bokeh(self.figures["linear"], sizing_mode="stretch_width")
        self._top, self._bottom = 1e-9, math.inf  # the losses' range so far
        self._pending = []  # (epoch, train, test) not yet streamed
        legend = pn.pane.HTML(legend_html([("training", TRAIN_COLOR), ("test", TEST_COLOR)]), margin=(0, 5))
        self._layout = pn.Column(legend, self.pane,
                                 pn.widgets.Checkbox.from_param(self.param.log_scale, label="Log scale"),
                                 sizing_mode="stretch_width")
        self._toggle_scale()

    def __panel__(self):
        return self._layout

    @param.depends("log_scale", watch=True)
    def _toggle_scale(self):
        shown = self._shown()
        # A theme change gave the figure on the page Panel's stylesheet models; the pane copies
        # a figure's stylesheets into its own parameter, which takes text only (TypeError: Log
        # scale could not be turned off after a theme change). The same sheets, as text:
        shown.stylesheets = [getattr(sheet, "url", None) or getattr(sheet, "css", None) or sheet
                             for sheet in shown.stylesheets]
        self.pane.object = shown
        self._fit_ranges()

    def set_theme(self, dark: bool) -> None:
        """Colour the training line (and its legend) for a dark or a light background."""
        train = DARK_TRAIN_COLOR if dark else TRAIN_COLOR
        for fig in self.figures.values():
            for renderer in fig.renderers:
                if renderer.glyph.y == "train":
                    renderer.glyph.line_color = train
        self._layout.objects[0].object = legend_html([("training", train), ("test", TEST_COLOR)])

    def _shown(self):
        return self.figures["log" if self.log_scale else "linear"]

    def clear(self, history: dict | None = None) -> None:
        """Empty the chart, or start it from a session's ``history`` (epoch/train_loss/test_loss)."""
        self._top, self._bottom = 1e-9, math.inf
        self._pending = []
        columns = dict(epoch=[], train=[], test=[])
        if history and len(history["epoch"]) > 1:
            points = zip(history["epoch"][:-1], history["train_loss"][:-1], history["test_loss"][:-1])
            for epoch, train, test in list(points)[-MAX_POINTS:]:
                if math.isfinite(train):
                    self._track(train, test)
                    for name, value in zip(columns, (epoch, train, test if math.isfinite(test) else float("nan"))):
                        columns[name].append(value)
        self.rows.reset(columns)
        self._fit_ranges(DIRECT)

    def show(self, frame: Frame, draw: bool = True) -> None:
        """Add the frame's point (non-finite losses are not drawn). ``draw=False`` keeps it
        for the next drawn frame: while playing, the chart is redrawn every other frame."""
        train, test = frame.train_loss, frame.test_loss
        if math.isfinite(train):
            self._pending.append((frame.epoch, train, test if math.isfinite(test) else float("nan")))
            self._track(train, test)
        if draw and self._pending:
            epochs, trains, tests = (list(column) for column in zip(*self._pending))
            self._pending = []
            self.rows.append(dict(epoch=epochs, train=trains, test=tests), self.writer)
            self._fit_ranges(self.writer)

    def _track(self, train: float, test: float) -> None:
        finite = [v for v in (train, test) if math.isfinite(v)]
        self._top = max(self._top, *finite)
        self._bottom = min(self._bottom, *[v for v in finite if v > 0] or [self._bottom])

    def _fit_ranges(self, writer=DIRECT) -> None:
        """The shown figure's ranges around the data (the other one's follow when shown)."""
        epochs = self.source.data["epoch"]
        if not len(epochs):
            return
        fig = self._shown()
        writer.set(fig.x_range, start=float(epochs[0]), end=float(max(epochs[-1], 1.0)))
        if not self.log_scale:
            writer.set(fig.y_range, start=0.0, end=self._top * 1.05)
        elif math.isfinite(self._bottom):
            writer.set(fig.y_range, start=self._bottom * 0.8, end=self._top * 1.25)
