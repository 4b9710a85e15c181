"""The optimizer race: every optimizer of the engine runs down an analytic surface from
the same start, side by side. Click the surface to choose the start.

Served at ``/race`` next to the playground. The paths come from
:func:`playground.core.descend.descend`, the engine's own update rules.
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import Arrow, ColumnDataSource, Div, LinearColorMapper, Range1d, VeeHead
from bokeh.palettes import Category10_10, Greys256
from bokeh.plotting import figure

from kernels.optimizers import OPTIMIZERS, OptimizerSettings
from kernels.surfaces import SURFACES
from playground import bokeh_compat
from playground.core.descend import descend
from playground.ui.views.text import as_text

COLORS = dict(zip(OPTIMIZERS, Category10_10))
RESOLUTION = 160  # surface image pixels per side
STEPS_PER_FRAME = 3
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def surface_image(name: str):
    """log(1 + f - min f) over the surface's extent, ``(RESOLUTION, RESOLUTION)``, plus x, y."""
    s = SURFACES[name]
    x0, x1, y0, y1 = s.extent
    xs, ys = np.linspace(x0, x1, RESOLUTION), np.linspace(y0, y1, RESOLUTION)
    gx, gy = np.meshgrid(xs, ys)
    values = np.vectorize(s.value)(gx, gy)
    return xs, ys, np.log1p(values - values.min())


class OptimizerRace(pn.viewable.Viewer):
    """Surface, start, learning rate and hyper-parameters in; one path per optimizer out."""

    surface = param.Selector(default="ravine", objects=list(SURFACES))
    learning_rate = param.Selector(default=0.1, objects=LEARNING_RATES)
    momentum = param.Number(default=0.9, bounds=(0, 0.99), step=0.01)
    beta1 = param.Number(default=0.9, bounds=(0, 0.99), step=0.01)
    beta2 = param.Number(default=0.999, bounds=(0.9, 0.9999), step=0.0001)
    alpha = param.Number(default=0.99, bounds=(0.5, 0.999), step=0.001)
    steps = param.Integer(default=150, bounds=(10, 1000))
    start = param.Tuple(default=(-9.0, 2.0), length=2)

    def __init__(self, **params):
        super().__init__(**params)
        self.paths = {}
        self.position = 0
        self._callback = None
        self.image = ColumnDataSource(dict(image=[], x=[], y=[], dw=[], dh=[]), name="surface_source")
        self.figure = figure(width=520, height=420, toolbar_location=None, tools="", name="race_figure",
                             x_range=Range1d(0, 1), y_range=Range1d(0, 1), title="Click to choose the start")
        self.figure.image("image", x="x", y="y", dw="dw", dh="dh", source=self.image,
                          color_mapper=LinearColorMapper(palette=list(reversed(Greys256))[40:200]))
        self.loss_figure = figure(width=380, height=300, y_axis_type="log", toolbar_location=None, tools="",
                                  title="Loss per step", name="race_loss_figure")
        self.loss_figure.xaxis.axis_label = "step"
        self.sources, self.loss_sources, self.heads = {}, {}, {}
        for name in OPTIMIZERS:
            color = COLORS[name]
            self.sources[name] = ColumnDataSource(dict(x=[], y=[]), name=f"path_{name}")
            self.loss_sources[name] = ColumnDataSource(dict(step=[], loss=[]), name=f"loss_{name}")
            self.figure.line("x", "y", source=self.sources[name], color=color, line_width=2, legend_label=name)
            self.loss_figure.line("step", "loss", source=self.loss_sources[name], color=color, line_width=2,
                                  legend_label=name)
        self.arrows = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[], color=[]), name="gradient_arrows")
        self.figure.add_layout(Arrow(source=self.arrows, x_start="x0", y_start="y0", x_end="x1", y_end="y1",
                                     line_color="color", line_width=2, end=VeeHead(size=8, line_color="color",
                                                                                   fill_color="color")))
        self.start_source = ColumnDataSource(dict(x=[], y=[]), name="race_start")
        self.figure.scatter("x", "y", source=self.start_source, size=10, marker="x", color="black", line_width=3)
        self.minimum_source = ColumnDataSource(dict(x=[], y=[]), name="race_minimum")
        self.figure.scatter("x", "y", source=self.minimum_source, size=14, marker="star", color="gold",
                            line_color="black")
        for fig in (self.figure, self.loss_figure):
            fig.legend.label_text_font_size = "8pt"
            fig.legend.background_fill_alpha = 0.7
            fig.legend.click_policy = "hide"
        self.figure.legend.visible = False  # the loss chart's legend names the colours
        self.loss_figure.add_layout(self.loss_figure.legend[0], "right")
        self.figure.on_event(Tap, self._on_tap)
        self.about = Div(text="", width=880)
        self.messages = pn.pane.HTML("", css_classes=["notice"])
        self.play_button = pn.widgets.Button(label="Race", color="primary", width=90)
        self.play_button.on_click(lambda e: self.play())
        widgets = pn.Param(self.param, parameters=["surface", "learning_rate", "momentum", "beta1", "beta2",
                                                   "alpha", "steps"], show_name=False,
                           widgets={"surface": pn.widgets.Select, "learning_rate": pn.widgets.Select,
                                    "beta2": {"type": pn.widgets.FloatSlider, "format": "0.0000"},
                                    "alpha": {"type": pn.widgets.FloatSlider, "format": "0.000"}}, width=200)
        self._layout = pn.Row(
            pn.Column(pn.pane.HTML("<h3>Optimizer race</h3><a href='./'>← back to the playground</a>"),
                      self.play_button, widgets, width=230),
            pn.Column(pn.pane.Bokeh(self.about), pn.Row(pn.pane.Bokeh(self.figure), pn.pane.Bokeh(self.loss_figure)),
                      self.messages))
        self._new_surface()

    def __panel__(self):
        return self._layout

    # ------------------------------------------------------------------ state
    def settings(self, name: str) -> OptimizerSettings:
        """Each optimizer with the shared learning rate and its own hyper-parameters."""
        own = dict(learning_rate=self.learning_rate, beta1=self.beta1, beta2=self.beta2, alpha=self.alpha)
        own["momentum"] = self.momentum if name in ("momentum", "nesterov") else None
        return OptimizerSettings.with_defaults(name, **own)

    @param.depends("surface", watch=True)
    def _new_surface(self) -> None:
        s = SURFACES[self.surface]
        x0, x1, y0, y1 = s.extent
        xs, ys, values = surface_image(self.surface)
        self.image.data = dict(image=[values], x=[x0], y=[y0], dw=[x1 - x0], dh=[y1 - y0])
        self.figure.x_range.update(start=x0, end=x1)
        self.figure.y_range.update(start=y0, end=y1)
        self.about.text = f"<b>{s.name}</b>: {s.about}."
        self.minimum_source.data = dict(x=[s.minimum[0]], y=[s.minimum[1]])
        if tuple(self.start) == s.default_start:
            self.recompute()  # same start: no event would fire
        else:
            self.start = s.default_start

    @param.depends("start", "learning_rate", "momentum", "beta1", "beta2", "alpha", "steps", watch=True)
    def recompute(self) -> None:
        """Run every optimizer from the start; show the whole race at once."""
        self.pause()
        s = SURFACES[self.surface]
        if not s.contains(*self.start):
            self.messages.object = "That start is off the surface; click inside the picture."
            return
        self.paths = {name: descend(self.surface, self.settings(name), self.start, self.steps)
                      for name in OPTIMIZERS}
        stopped = [p.message for p in self.paths.values() if p.stopped]
        self.messages.object = "<br>".join(as_text(m) for m in stopped)
        self.start_source.data = dict(x=[self.start[0]], y=[self.start[1]])
        self.show_until(self.steps)

    def show_until(self, position: int) -> None:
        """Draw every path up to ``position`` steps, with the gradient arrow at its head."""
        self.position = position
        x0, x1, y0, y1 = SURFACES[self.surface].extent
        arrow = dict(x0=[], y0=[], x1=[], y1=[], color=[])
        length = 0.08 * max(x1 - x0, y1 - y0)
        for name, result in self.paths.items():
            path = np.array(result.path[: position + 1])
            self.sources[name].data = dict(x=path[:, 0], y=path[:, 1])
            losses = np.maximum(np.array(result.loss[: position + 1]), 1e-300)
            self.loss_sources[name].data = dict(step=np.arange(len(losses)), loss=losses)
            gx, gy = SURFACES[self.surface].gradient(*path[-1])
            norm = math.hypot(gx, gy)
            if math.isfinite(norm) and norm > 0:
                arrow["x0"].append(path[-1, 0])
                arrow["y0"].append(path[-1, 1])
                arrow["x1"].append(path[-1, 0] - length * gx / norm)
                arrow["y1"].append(path[-1, 1] - length * gy / norm)
                arrow["color"].append(COLORS[name])
        self.arrows.data = arrow

    def _on_tap(self, event) -> None:
        if SURFACES[self.surface].contains(event.x, event.y):
            self.start = (float(event.x), float(event.y))

    # ------------------------------------------------------------------ animation
    def play(self) -> None:
        self.pause()
        self.show_until(0)
        self._callback = pn.state.add_periodic_callback(self._tick, period=40)

    def pause(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _tick(self) -> None:
        if self.position >= self.steps:
            self.pause()
            return
        self.show_until(min(self.steps, self.position + STEPS_PER_FRAME))


def create_race() -> pn.viewable.Viewable:
    """A new optimizer race for one browser session."""
    bokeh_compat.install()  # the request guard, before Panel reads the page's query
    race = OptimizerRace()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda context: race.pause())
    return race
