"""One layer at a time: histograms of its weights and of its gradients, and how many of
its units are saturated (sigmoid/tanh) or dead (relu)."""
from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Div
from bokeh.plotting import figure

from playground.core.session import Frame, Session
from playground.bokeh_compat.quiet import quietly
from playground.transport.frame_channel import DIRECT

BINS = 24


class _OffPage:
    """A writer for models on no page: sets their values in place, without change events."""

    @staticmethod
    def data(source, **columns) -> None:
        quietly.data(source, columns)

    @staticmethod
    def set(model, **properties) -> None:
        quietly.set(model, properties)


def histogram(values: np.ndarray) -> dict:
    """Quads of a histogram of the finite ``values``: left, right, top."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return dict(left=[], right=[], top=[])
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=BINS, range=(low, high))
    return dict(left=edges[:-1], right=edges[1:], top=counts)


class LayerStats(pn.viewable.Viewer):
    """Weights (linear) and gradients (log10 of |dL/dw|) of the chosen layer."""

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    layer = param.Selector(default="layer 1", objects=["layer 1"], doc="Layer")

    def __init__(self, **params):
        super().__init__(**params)
        self.weights = ColumnDataSource(histogram(np.array([])), name="weight_histogram")
        self.gradients = ColumnDataSource(histogram(np.array([])), name="gradient_histogram")
        self.figures = []
        for source, title, color in ((self.weights, "weights", "#0877bd"),
                                     (self.gradients, "log10 |dL/dw|", "#f59322")):
            fig = figure(width=200, height=140, toolbar_location=None, tools="", title=title, min_border=4)
            fig.quad(left="left", right="right", top="top", bottom=0, source=source, color=color, alpha=0.8)
            fig.title.text_font_size = "9pt"
            fig.yaxis.visible = False
            self.figures.append(fig)
        self.units = Div(text="", name="unit_readout", width=400, height=20)  # fixed: no re-layout
        self.select = pn.widgets.Select.from_param(self.param.layer, label="Layer", width=120)
        self._session: Session | None = None
        self._last = None

    def __panel__(self):
        return pn.Column(pn.Row(self.select, pn.pane.Bokeh(self.units, margin=(24, 8))),
                         pn.Row(*[pn.pane.Bokeh(f) for f in self.figures]))

    def set_session(self, session: Session) -> None:
        self._session = session
        self._last = None  # an old frame does not fit the new network
        n = session.spec.n_layers
        names = [f"layer {l + 1}" for l in range(n - 1)] + ["output"]
        self.param.layer.objects = names
        if self.layer not in names:
            self.layer = names[0]

    @param.depends("layer", watch=True)
    def _redraw(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def show(self, frame: Frame, fractions: tuple[list[float], list[float]] | None, draw: bool = True) -> None:
        """Draw the histograms of ``frame``. ``draw=False``: the view is on no page (its tab
        is closed), so its models are only updated in place, without change events; Panel
        sends them as they are when the tab opens."""
        if self._session is None:
            return
        self._last = (frame, fractions)
        writer = self.writer if draw else _OffPage
        names = self.param.layer.objects
        index = names.index(self.layer) if self.layer in names else 0
        layout = self._session.spec.layout()
        writer.data(self.weights, **histogram(layout.weights(frame.params, index).ravel()))
        if frame.gradient is not None:
            magnitude = np.abs(layout.weights(frame.gradient, index).ravel())
            writer.data(self.gradients, **histogram(np.log10(magnitude[magnitude > 0])))
        if fractions is not None and index < len(fractions[0]):
            saturated, dead = fractions[0][index], fractions[1][index]
            activation = self._session.spec.activations[index]
            text = (f"<small>{activation}: saturated {saturated:.0%} of outputs · "
                    f"dead {dead:.0%} of units</small>")
        else:
            text = "<small>output layer</small>"
        if text != self.units.text:
            writer.set(self.units, text=text)
