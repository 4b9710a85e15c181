"""The slow step: one training step in four phases, shown on the network diagram.

**Slow step** (next to Step) pauses training and walks through the network's next
minibatch step one phase at a time, with Next/Back or automatically:

1. *forward*: one training point (the first of the batch, or one clicked on the data
   plot) goes in; layer by layer each neuron shows its weighted sum ``z`` and its output
   ``a``, and the edges light up in the order the signal travels (width = |w·a|);
2. *loss*: the prediction against the target, the loss and its formula; on the data plot
   every training point is drawn as big as its own loss, and the batch is outlined;
3. *backward*: from the output back to the input, layer by layer, each edge shows dL/dw
   (colour = sign, width = magnitude on a log scale) and each neuron dL/db; hovering an
   edge writes out the chain-rule product behind it;
4. *update*: each edge's width shows how far its weight moves, hovering it gives the
   weight before and after with the optimizer's state (velocity, m and v with Adam's bias
   correction); the boundary morphs from the old weights to the new.

The numbers come from :mod:`playground.core.slow_step_numbers`. Next on the update phase takes the step
with the session's own kernels (``advance(1)``), so the network ends where a normal step
puts it. A normal Step, Play or Reset (or a new network) while a slow step is half done
cancels it: the overlays go, and nothing of it is applied.

Every change of the page is data-source changes (and the diagram's normal edges hidden
or shown), each batch of them inside one ``pn.io.unlocked()`` block.
"""
from __future__ import annotations

import math

import numpy as np
import panel as pn
import param

from kernels.rules import UPDATE_FORMULAS
from playground.core import slow_step_numbers as slowstep
from playground.core.session import Session
from playground.ui.tab_state import TabState
from playground.core.slow_step_numbers import OUTPUT_ERROR_FORMULAS, SlowStepData, SlowStepRefused
from playground.ui.views.boundary import BoundaryView
from playground.ui.views.network import NetworkDiagram, _edge_style
from playground.ui.views.readout import Readout
from playground.ui.views.text import as_text, error_html

GREY = "#c8c8c8"
TEXT = "#222222"
BATCH_OUTLINE = "#111111"
MORPH_FRAMES = 8  # boundaries from the old weights to the new, both included
MORPH_MS = 110  # per morph frame
# A training point's diameter in the loss phase: a fixed scale, so that two losses compare.
SIZE_BASE, SIZE_PER_LOSS, SIZE_MAX = 4.0, 10.0, 40.0
CAPTION_WIDTH = 600
DETAIL_HEIGHT = 120
PHASE_NAMES = {"forward": "Forward", "loss": "Loss", "backward": "Backward", "update": "Update"}
PHASE_NUMBERS = {"forward": 1, "loss": 2, "backward": 3, "update": 4}
IDLE_TEXT = ("<b>Slow step</b> shows one training step in four phases: forward, loss, backward, "
             "update. Click a training point on the data plot to follow it.")
# Colours from the page's theme variables (see views/appearance.py), light values as fallbacks.
CAPTION_CSS = """
.readout { font-size: 14px; line-height: 1.35; color: var(--pg-text, #222); }
.readout .phase { font-weight: bold; color: var(--pg-link, #0877bd); }
.readout .error { color: var(--pg-error, #b00020); font-weight: bold; }
"""
DETAIL_CSS = """
:host { font-size: 13px; line-height: 1.45; color: var(--pg-text, #333); }
.formula { font-family: monospace; font-size: 12.5px; }
.hint { color: var(--pg-muted, #777); }
"""


def num(x, digits: int = 3) -> str:
    return slowstep.describe_number(float(x), digits)


def factor(x, digits: int = 3) -> str:
    """A number inside a product or a power: negative ones in parentheses."""
    text = num(x, digits)
    return f"({text})" if text.startswith("−") else text


def hyper(x) -> str:
    """A hyper-parameter as the user set it (0.9, 0.999, 1e-08)."""
    return f"{float(x):g}"


def phase_list(n_layers: int) -> list[tuple[str, int | None]]:
    """The slow step's stops: forward layer by layer, loss, backward from the output layer
    to the first, update, and ``done`` once the step is applied."""
    return ([("forward", layer) for layer in range(n_layers)] + [("loss", None)]
            + [("backward", layer) for layer in reversed(range(n_layers))] + [("update", None), ("done", None)])


def point_sizes(point_losses: np.ndarray) -> np.ndarray:
    """Diameter in pixels of each training point in the loss phase: proportional to its
    loss on a fixed scale (SIZE_BASE + SIZE_PER_LOSS × loss, at most SIZE_MAX)."""
    return np.clip(SIZE_BASE + SIZE_PER_LOSS * np.nan_to_num(point_losses, nan=0.0, posinf=1e9), SIZE_BASE, SIZE_MAX)


class SlowStep(pn.viewable.Viewer):
    """The Slow step control and its panel; see the module's docstring.

    ``state``: the tab's TabState: its session (and the lock held while the session's
    numbers are read); the slow step triggers its ``pause`` and asks it to train a step
    (``request_steps``); Play, Step, Reset and a new session leave a half-done slow step.
    """

    auto = param.Boolean(default=False, doc="go on to the next phase by itself")
    seconds_per_phase = param.Number(default=2.0, bounds=(0.3, 8.0), doc="time on each phase when automatic")

    def __init__(self, network: NetworkDiagram, boundary: BoundaryView, state: TabState, **params):
        super().__init__(**params)
        self._network, self._boundary, self._state = network, boundary, state
        self._lock = state.session_lock
        self.button = pn.widgets.Button(label="Slow step", width=90,
                                        description="One minibatch step in four phases: forward, loss, backward, update")
        self.back_button = pn.widgets.Button(label="Back", width=64, disabled=True)
        self.next_button = pn.widgets.Button(label="Next", width=64, disabled=True, color="primary")
        self.cancel_button = pn.widgets.Button(label="Cancel", width=70, disabled=True,
                                               description="Leave the slow step; nothing is applied")
        self.button.on_click(lambda event: self.start())
        self.next_button.on_click(lambda event: self.next())
        self.back_button.on_click(lambda event: self.back())
        self.cancel_button.on_click(lambda event: self.cancel())
        state.param.watch(lambda event: self.cancel(), ["play", "step", "reset"])
        state.param.watch(lambda event: self.cancel(), "session", onlychanged=False)
        self.caption = Readout(name="slow_step_caption", html=IDLE_TEXT, width=CAPTION_WIDTH, height=60,
                               margin=(4, 5), stylesheets=[CAPTION_CSS])
        # A minimum height: the page below jumps less from phase to phase.
        self.detail = pn.pane.HTML("", width=CAPTION_WIDTH, min_height=DETAIL_HEIGHT, margin=(0, 5), visible=False,
                                   stylesheets=[DETAIL_CSS], css_classes=["slow-step-detail"])
        controls = pn.Row(
            self.back_button, self.next_button, self.cancel_button,
            pn.widgets.Checkbox.from_param(self.param.auto, label="Auto-advance", margin=(14, 10, 0, 10)),
            pn.widgets.FloatSlider.from_param(self.param.seconds_per_phase, label="Seconds per phase", step=0.1,
                                              width=150, margin=(0, 5)),
            margin=0)
        self._layout = pn.Column(self.caption, controls, self.detail, margin=(4, 0), css_classes=["slow-step"])
        boundary.on_point_tap(self.choose_point)
        self._session: Session | None = None
        self._data: SlowStepData | None = None
        self._phases: list[tuple[str, int | None]] = []
        self._index = 0
        self._point: int | None = None  # a training point clicked on the data plot
        self._point_session: Session | None = None  # the session whose data it is in
        self._auto_callback = None
        self._morph_callback = None
        self._boundary_changed = False  # the boundary shows a morph frame, not the network

    def __panel__(self):
        return self._layout

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        """True from Slow step until the step is applied or cancelled."""
        return self._data is not None and self.phase != "done"

    @property
    def phase(self) -> str | None:
        """forward, loss, backward, update or done; None when no slow step was started."""
        return self._phases[self._index][0] if self._data is not None else None

    @property
    def data(self) -> SlowStepData | None:
        return self._data

    # ------------------------------------------------------------------ actions
    def start(self) -> None:
        """Pause training and show the first phase of the next step."""
        self._state.param.trigger("pause")
        self._stop_timers()
        session = self._state.session
        point = self._chosen_point(session)
        try:
            with self._lock:
                data = slowstep.compute(session, point)
        except SlowStepRefused as err:
            self.cancel(message=error_html(err))
            return
        # A frame still in flight when training was paused is dropped: draw the network as it is.
        self._state.request_steps(0)
        self._boundary_changed = False
        self._session, self._data = session, data
        self._phases, self._index = phase_list(session.spec.n_layers), 0
        self._render()
        self._schedule_auto()

    def next(self) -> None:
        """The next phase; on the update phase, apply the step."""
        if not self.active or not self._still_current():
            return
        if self.phase == "update":
            self._apply()
        else:
            self._index += 1
            self._render()
        self._schedule_auto()

    def back(self) -> None:
        """The phase before (not once the step is applied)."""
        if not self.active or self._index == 0 or not self._still_current():
            return
        self._index -= 1
        self._render()
        self._schedule_auto()

    def cancel(self, message: str | None = None) -> None:
        """Leave the slow step without applying it; the views show the network as it is."""
        self._stop_timers()
        was_shown = self._data is not None
        self._data, self._session, self._phases, self._index = None, None, [], 0
        with pn.io.unlocked():
            if was_shown:
                self._network.set_overlay()
                self._boundary.set_point_style()
            self._boundary.highlight_point(self._chosen_point(self._state.session))
            self._restore_boundary()
            self.caption.set(html=message or IDLE_TEXT)
            self.detail.object = ""
            self.detail.visible = False
            self._set_buttons()

    def choose_point(self, index: int) -> None:
        """Follow training point ``index`` (a row of ``Session.X_train``), now and in later slow steps."""
        self._point, self._point_session = index, self._state.session
        if self.active:
            session = self._session
            if self._state.session is session and session.step == self._data.step_before and not session.diverged:
                with self._lock:
                    self._data = slowstep.compute(session, index)
                self._render()
                return
            self.cancel()
        session = self._state.session
        with pn.io.unlocked():
            self._boundary.highlight_point(index)
            if 0 <= index < len(session.X_train):
                self.caption.set(html=f"Point #{index} {as_text(self._describe_point(session, index))} chosen: "
                                      "press <b>Slow step</b> to follow it through one training step.")

    # ------------------------------------------------------------------ helpers
    def _chosen_point(self, session: Session) -> int | None:
        """The clicked training point, while it belongs to this session's data."""
        if self._point is None or self._point_session is not session or self._point >= len(session.X_train):
            return None
        return self._point

    def _still_current(self) -> bool:
        """Whether the step shown is still the session's next, unchanged. When only the
        optimizer or regularization settings changed, the phase is shown again with the
        new numbers (False: the click that noticed it does nothing more); when the network
        moved on, the slow step is cancelled (False)."""
        session, data = self._state.session, self._data
        if session is not self._session or session.step != data.step_before or session.diverged:
            self.cancel(message="The network changed since the slow step began, so it was left. "
                                "Press <b>Slow step</b> to start again.")
            return False
        if not data.is_current(session):
            with self._lock:
                self._data = slowstep.compute(session, data.point)
            self._render()
            return False
        return True

    def _apply(self) -> None:
        session, data = self._session, self._data
        self._stop_timers()
        self._boundary_changed = False  # the frame of advance() draws the new boundary
        with self._lock:
            if not data.is_current(session):
                self.cancel(message="The network changed since the slow step began, so it was left.")
                return
        self._state.request_steps(1)
        applied = session.backend.get_params()
        scale = max(float(np.abs(data.update.after).max()), 1e-300)
        self._mismatch = float(np.abs(applied - data.update.after).max() / scale)
        self._index = len(self._phases) - 1
        self._render()

    def _stop_timers(self) -> None:
        for name in ("_auto_callback", "_morph_callback"):
            callback = getattr(self, name)
            if callback is not None:
                callback.stop()
                setattr(self, name, None)

    def _restore_boundary(self) -> None:
        """Put the network's own boundary back after a morph that was not applied."""
        if self._boundary_changed:
            self._boundary_changed = False
            self._boundary.update(self._state.session.boundary())

    @staticmethod
    def _served() -> bool:
        return pn.state.curdoc is not None and pn.state.curdoc.session_context is not None

    @param.depends("auto", "seconds_per_phase", watch=True)
    def _schedule_auto(self) -> None:
        """Automatic: one periodic callback that presses Next every seconds_per_phase."""
        if self._auto_callback is not None:
            self._auto_callback.stop()
            self._auto_callback = None
        if self.auto and self.active and self._served():
            self._auto_callback = pn.state.add_periodic_callback(self._auto_next,
                                                                 period=int(self.seconds_per_phase * 1000))

    def _auto_next(self) -> None:
        if not self.active:
            self._stop_timers()
            return
        self.next()

    def _set_buttons(self) -> None:
        active = self.active
        self.back_button.disabled = not active or self._index == 0
        self.next_button.disabled = not active
        self.cancel_button.disabled = not active
        self.next_button.label = "Apply" if active and self.phase == "update" else "Next"

    # ------------------------------------------------------------------ drawing
    def _render(self) -> None:
        """Draw the current phase: caption, detail, diagram overlay, data plot, boundary."""
        session, data = self._session, self._data
        kind, layer = self._phases[self._index]
        if self._morph_callback is not None:
            self._morph_callback.stop()
            self._morph_callback = None
        with pn.io.unlocked():
            self._set_buttons()
            if kind != "update":
                self._restore_boundary()
            if kind == "done":
                self._network.set_overlay()
                self._boundary.set_point_style()
                self._boundary.highlight_point(self._chosen_point(session))
                self.caption.set(html=self._done_caption(session, data))
                self.detail.object = ""
                self.detail.visible = False
                return
            picture = _Picture(session, data, self._network)
            caption, detail = getattr(picture, kind)(layer)
            self._network.set_overlay(edges=picture.edges, labels=picture.labels)
            outlines = np.full(len(session.X_train), "white", dtype=object)
            outlines[data.batch] = BATCH_OUTLINE
            sizes = point_sizes(data.point_losses) if kind in ("loss", "backward", "update") else None
            self._boundary.set_point_style(sizes=sizes, outlines=list(outlines))
            self._boundary.highlight_point(data.point)
            title = f"<span class='phase'>Phase {PHASE_NUMBERS[kind]} of 4 · {PHASE_NAMES[kind]}</span>"
            self.caption.set(html=f"{title} — {caption}")
            self.detail.object = detail
            self.detail.visible = True
        if kind == "update":
            self._morph()

    def _morph(self) -> None:
        """The boundary from the old weights to the new, a frame every MORPH_MS."""
        frames = slowstep.morph_frames(self._session, self._data, MORPH_FRAMES)
        self._boundary_changed = True
        if not self._served():  # no page to animate: show where it ends
            self._boundary.update(frames[-1])
            return
        remaining = list(frames)

        def draw_next():
            if not remaining or self.phase != "update":
                return
            with pn.io.unlocked():
                self._boundary.update(remaining.pop(0))

        draw_next()
        self._morph_callback = pn.state.add_periodic_callback(draw_next, period=MORPH_MS, count=len(remaining))

    @staticmethod
    def _describe_point(session: Session, index: int) -> str:
        x1, x2 = session.data.points[session.data.is_train][index]
        label = session.data.labels[session.data.is_train][index]
        what = f"value {num(label)}" if session.n_classes == 0 else f"class {int(label)}"
        return f"at ({num(x1)}, {num(x2)}), {what}"

    def _done_caption(self, session: Session, data: SlowStepData) -> str:
        text = (f"<span class='phase'>Done</span> — step {data.step_after} applied (epoch "
                f"{data.epoch_before:g} → {data.epoch_after:g}): the network is where a normal step puts it. "
                "<b>Slow step</b> again follows the next batch.")
        if getattr(self, "_mismatch", 0.0) > 1e-9:
            text += f" (The kernels' numbers differ from those shown by {self._mismatch:.1g}: rounding.)"
        return text


class _Picture:
    """The overlay, caption and detail of one phase of one slow step."""

    def __init__(self, session: Session, data: SlowStepData, network: NetworkDiagram):
        self.session, self.data = session, data
        self.names = NetworkDiagram._node_names(session)
        self.sizes = data.layer_sizes
        self.n_layers = len(self.sizes) - 1
        self.layout = session.spec.layout()
        self.edge_index = network.edge_parameter_index
        self.node_index = network.node_parameter_index
        # Per edge: its weight layer and (i, j) in W[layer]; per neuron: its column and row.
        self.edge_layer = np.concatenate([[l] * (self.sizes[l] * self.sizes[l + 1]) for l in range(self.n_layers)])
        self.edge_i = np.concatenate([np.repeat(np.arange(self.sizes[l]), self.sizes[l + 1]) for l in range(self.n_layers)])
        self.edge_j = np.concatenate([np.tile(np.arange(self.sizes[l + 1]), self.sizes[l]) for l in range(self.n_layers)])
        self.node_column = np.concatenate([[c] * size for c, size in enumerate(self.sizes)])
        self.node_row = np.concatenate([np.arange(size) for size in self.sizes])
        n_edges, n_nodes = len(self.edge_layer), len(self.node_column)
        self.edges = dict(color=[GREY] * n_edges, width=[0.6] * n_edges, alpha=[0.35] * n_edges, info=[""] * n_edges)
        self.labels = dict(text=[""] * n_nodes, color=[TEXT] * n_nodes)
        self.point = f"#{data.point}"

    # ------------------------------------------------------------------ pieces
    def _edge_name(self, e: int) -> str:
        l, i, j = self.edge_layer[e], self.edge_i[e], self.edge_j[e]
        return as_text(f"{self.names[l][i]} → {self.names[l + 1][j]}")

    def _set_edges(self, mask: np.ndarray, values: np.ndarray, alpha: float, log_scale: bool) -> None:
        """Colour (sign) and width (magnitude, scaled within the chosen edges) of ``mask``'s edges."""
        if not mask.any():
            return
        colors, widths = _edge_style(values[mask], log_scale=log_scale)
        for k, e in enumerate(np.flatnonzero(mask)):
            self.edges["color"][e] = colors[k]
            self.edges["width"][e] = float(widths[k]) * (1.0 if log_scale else 1.4)
            self.edges["alpha"][e] = alpha

    def _contributions(self) -> np.ndarray:
        """Per edge: w × a, what it adds to z of the unit it leads to, for the point."""
        weights = self.data.update.before[self.edge_index]
        inputs = np.array([self.data.forward.inputs[l][0, i] for l, i in zip(self.edge_layer, self.edge_i)])
        return weights * inputs

    def _forward_labels(self, up_to: int) -> None:
        """z and a of every neuron up to weight layer ``up_to``, and the inputs."""
        forward, loss = self.data.forward, self.data.loss
        for n, (column, row) in enumerate(zip(self.node_column, self.node_row)):
            if column == 0:
                self.labels["text"][n] = f"{self.names[0][row]} = {num(forward.inputs[0][0, row])}"
            elif column - 1 <= up_to:
                z = forward.zs[column - 1][0, row]
                if column < len(self.sizes) - 1:
                    a = forward.inputs[column][0, row]
                    self.labels["text"][n] = f"z {num(z)} → a {num(a)}"
                elif loss == "mse":
                    self.labels["text"][n] = f"ŷ = z = {num(z)}"
                else:
                    self.labels["text"][n] = f"z {num(z)} → {'ŷ' if loss == 'bce' else 'p'} {num(self.data.prediction[row])}"

    def _target_text(self) -> str:
        data, session = self.data, self.session
        if data.loss == "ce":
            return f"class {int(np.argmax(data.target))}"
        if session.n_classes == 0:
            return f"y = {num(data.target[0])}"
        return f"y = {data.target[0]:g} (class {int(data.target[0] > 0)})"

    def _point_text(self) -> str:
        x1, x2 = self.session.data.points[self.session.data.is_train][self.data.point]
        where = f"point {self.point} at ({num(x1)}, {num(x2)})"
        if not self.data.point_in_batch:
            where += " (not in this batch)"
        return where

    # ------------------------------------------------------------------ phases
    def forward(self, layer: int):
        data, names = self.data, self.names
        contributions = self._contributions()
        self._set_edges(self.edge_layer < layer, contributions, 0.35, log_scale=False)
        self._set_edges(self.edge_layer == layer, contributions, 0.95, log_scale=False)
        self._forward_labels(layer)
        for e in np.flatnonzero(self.edge_layer <= layer):
            l, i, j = self.edge_layer[e], self.edge_i[e], self.edge_j[e]
            w = data.update.before[self.edge_index[e]]
            a = data.forward.inputs[l][0, i]
            self.edges["info"][e] = (f"<b>{self._edge_name(e)}</b><br>weight w = {num(w, 4)}<br>"
                                     f"input a = {num(a)} (point {self.point})<br>w·a = {num(w * a)}, "
                                     f"added into z = {num(data.forward.zs[l][0, j])}")
        output = layer == self.n_layers - 1
        activation = self.session.spec.activations[layer] if not output else slowstep.OUTPUT_FUNCTIONS[data.loss]
        if not output:
            caption = (f"hidden layer {layer + 1} of {self.n_layers - 1}: each neuron adds its inputs × weights "
                       f"plus a bias (z), then applies {activation} (a).")
        else:
            then = {"mse": "and that z is the prediction ŷ",
                    "bce": "then ŷ = σ(z) is the predicted probability of class 1",
                    "ce": "then softmax turns the z's into class probabilities ŷ"}[data.loss]
            caption = f"the output: z = inputs × weights + bias, {then}."
        caption += f" Following point {self.point}{'' if data.point_in_batch else ' (not in the batch)'}; edge width = |w·a|."
        # The first neuron of this layer, written out.
        j = 0
        W = self.layout.weights(data.update.before, layer)
        b = self.layout.bias(data.update.before, layer)
        a_in = data.forward.inputs[layer][0]
        terms = " + ".join(f"{factor(W[i, j])}×{factor(a_in[i])}" for i in range(len(a_in)))
        z = data.forward.zs[layer][0, j]
        if output and data.loss == "mse":
            result = f"ŷ = z = {num(z)}"
        elif output and data.loss == "bce":
            result = f"ŷ = σ(z) = {num(data.prediction[0])}, the probability of class 1"
        elif output:
            result = ("ŷ = softmax(z) = [" + ", ".join(num(p) for p in data.prediction)
                      + "], one probability per class")
        else:
            result = f"a = {activation}({num(z)}) = {num(data.forward.inputs[layer + 1][0, j])}"
        detail = (f"<div><b>{as_text(names[layer + 1][j])}</b> for {self._point_text()}:</div>"
                  f"<div class='formula'>z = {terms} + {factor(b[j])} (bias) = {num(z)}</div>"
                  f"<div class='formula'>{result}</div>"
                  "<div class='hint'>Under each neuron: its z and its output. Hover an edge for w × a.</div>")
        return caption, detail

    def loss(self, layer=None):
        data = self.data
        contributions = self._contributions()
        self._set_edges(np.ones(len(self.edge_layer), bool), contributions, 0.3, log_scale=False)
        self._forward_labels(self.n_layers - 1)
        first_output = len(self.node_column) - self.sizes[-1]
        for k in range(self.sizes[-1]):
            p = data.prediction[k]
            y = data.target[k]
            y_text = num(y) if self.session.n_classes == 0 else f"{y:g}"
            self.labels["text"][first_output + k] = (f"ŷ {num(p)} vs y {y_text}" if data.loss != "ce"
                                                     else f"p {num(p)} vs y {y_text}")
        y_text = self._target_text()
        if data.loss == "bce":
            p = data.prediction[0]
            if data.target[0] > 0.5:
                written = f"−log ŷ = −log {num(p)} = {num(data.point_loss)}"
            else:
                written = f"−log(1 − ŷ) = −log {num(1 - p)} = {num(data.point_loss)}"
        elif data.loss == "mse":
            written = f"(ŷ − y)² = ({num(data.prediction[0])} − {factor(data.target[0])})² = {num(data.point_loss)}"
        else:
            k = int(np.argmax(data.target))
            written = f"−log ŷ_{k} = −log {num(data.prediction[k])} = {num(data.point_loss)}"
        shown = "ŷ = [" + ", ".join(num(p) for p in data.prediction) + "]" if data.loss == "ce" else f"ŷ = {num(data.prediction[0])}"
        caption = (f"{shown} against {y_text}: this point's loss is {num(data.point_loss)}; the mean over "
                   f"the batch's {len(data.batch)} points is {num(data.batch_loss)}. Dot size = each point's own loss.")
        compare = (" Switch the loss between bce and mse and slow-step again: cross-entropy punishes a confident "
                   "mistake far more." if self.session.n_classes == 2 else "")
        penalty = ""
        if data.regularization != "none":
            penalty = (f"<div>Penalty ({data.regularization}, λ = {num(data.reg_rate)}): {num(data.penalty)}, so the "
                       f"step descends {num(data.batch_loss + data.penalty)}.</div>")
        detail = (f"<div class='formula'>{as_text(data.loss_formula)}</div>"
                  f"<div>For {self._point_text()}: <span class='formula'>L = {written}</span></div>{penalty}"
                  f"<div class='hint'>On the data plot each training point's diameter is "
                  f"{SIZE_BASE:g} px + {SIZE_PER_LOSS:g} px × its loss; the batch's points have a dark outline. "
                  f"Confident mistakes are big.{compare}</div>")
        return caption, detail

    def backward(self, layer: int):
        data = self.data
        gradients = data.gradient[self.edge_index]
        self._set_edges(self.edge_layer > layer, gradients, 0.4, log_scale=True)
        self._set_edges(self.edge_layer == layer, gradients, 0.95, log_scale=True)
        for n, (column, row) in enumerate(zip(self.node_column, self.node_row)):
            if column >= layer + 1:
                g = data.gradient[self.node_index[n]]
                self.labels["text"][n] = f"dL/db {num(g)}"
        output = self.n_layers - 1
        for e in np.flatnonzero(self.edge_layer >= layer):
            self.edges["info"][e] = self._chain_rule_html(e)
        if layer == output:
            where = "the output layer"
            how = f"dL/dz of the output ({OUTPUT_ERROR_FORMULAS[data.loss]}) × the input a"
        else:
            where = f"the weights into layer {layer + 1}" if layer > 0 else "the weights from the inputs"
            how = "upstream gradient × f′(z) × input a"
        caption = (f"{where}: each weight's dL/dw = {how}, averaged over the batch's {len(data.batch)} points. "
                   "Hover an edge for its product.")
        in_layer = np.flatnonzero(self.edge_layer == layer)
        biggest = int(in_layer[np.argmax(np.abs(gradients[in_layer]))])
        detail = (f"<div>Largest in this layer — {self._chain_rule_html(biggest)}</div>"
                  "<div class='hint'>Colour = sign of dL/dw (blue +, orange −); width = its size, log scale. "
                  "A positive dL/dw means the weight will go down.</div>")
        return caption, detail

    def _chain_rule_html(self, e: int) -> str:
        data = self.data
        l, i, j = int(self.edge_layer[e]), int(self.edge_i[e]), int(self.edge_j[e])
        rule = slowstep.chain_rule(data, l, i, j)
        mine = slowstep.chain_rule(data, l, i, j, passed=data.forward)
        output = l == self.n_layers - 1
        if output:
            factors = f"dL/dz × a = {num(mine.upstream[0])} × {factor(mine.inputs[0])}"
            rule_text = f"dL/dz ({OUTPUT_ERROR_FORMULAS[data.loss]}) × input a"
        else:
            factors = f"{num(mine.upstream[0])} × {factor(mine.slope[0])} × {factor(mine.inputs[0])}"
            rule_text = "upstream dL/da × f′(z) × input a"
        counted = "" if data.point_in_batch else " — not in this batch, so not counted"
        total = (f"mean {num(rule.mean)} + penalty {factor(rule.penalty)} = <b>{num(rule.total)}</b>" if rule.penalty
                 else f"mean = <b>{num(rule.total)}</b>")
        return (f"<b>{self._edge_name(e)}</b><br>dL/dw = mean over the batch of {rule_text}<br>"
                f"point {self.point}: {factors} = {num(mine.mean)}{counted}<br>"
                f"all {len(rule.products)} points of the batch: {total}")

    def update(self, layer=None):
        data, u = self.data, self.data.update
        changes = u.change[self.edge_index]
        self._set_edges(np.ones(len(self.edge_layer), bool), changes, 0.9, log_scale=True)
        for n, index in enumerate(self.node_index):
            if index >= 0:
                self.labels["text"][n] = f"b {num(u.before[index], 4)}→{num(u.after[index], 4)}"
        for e, index in enumerate(self.edge_index):
            self.edges["info"][e] = (f"<b>{self._edge_name(e)}</b><br>" + "<br>".join(update_lines(data, int(index))))
        s = u.settings
        caption = (f"{s.name} (lr = {hyper(s.learning_rate)}) moves every weight and bias by its own step; "
                   "edge width = how far it moves, colour = up (blue) or down (orange). <b>Apply</b> takes the step.")
        biggest = int(self.edge_index[np.argmax(np.abs(changes))])
        e = int(np.argmax(np.abs(changes)))
        old, new = self.session.boundary(u.before), self.session.boundary(u.after)
        if data.loss == "ce":
            moved = f"{int(np.sum(old != new))} of {old.size} grid points change their class"
        else:
            what = "prediction" if self.session.n_classes == 0 else "probability of class 1"
            moved = f"the {what} moves by up to {num(np.max(np.abs(new - old)))} somewhere on the plane"
        detail = (f"<div>{s.name}: <span class='formula'>{UPDATE_FORMULAS[s.name]}</span></div>"
                  f"<div>Moves most — <b>{self._edge_name(e)}</b>:</div><div class='formula'>"
                  + "<br>".join(update_lines(data, biggest)) + "</div>"
                  f"<div class='hint'>g = dL/dw from the backward phase. The data plot morphs from the old "
                  f"boundary to the new ({moved}). Hover an edge for its numbers.</div>")
        return caption, detail


def update_lines(data: SlowStepData, index: int) -> list[str]:
    """The optimizer's update of parameter ``index`` written out with its numbers, one
    step per line (plain text with ← and → arrows)."""
    u = data.update
    s = u.settings
    w, after, g0 = u.before[index], u.after[index], u.gradient[index]
    lr, wd = s.learning_rate, s.weight_decay
    lines = []
    g, start = g0, w
    if s.name == "adamw" or not wd:
        lines.append(f"g = dL/dw = {num(g)}")
    else:  # torch's weight decay: added to the gradient
        g = g0 + wd * w
        lines.append(f"g = dL/dw + wd·w = {num(g0)} + {hyper(wd)} × {factor(w)} = {num(g)}")
    if s.name == "adamw" and wd:  # AdamW decays the weight itself first
        start = w * (1.0 - lr * wd)
        lines.append(f"decay: w·(1 − lr·λ) = {num(w, 5)} × {num(1 - lr * wd, 5)} = {num(start, 5)}")
    if s.name == "sgd":
        lines.append(f"w ← w − lr·g = {num(w, 5)} − {hyper(lr)} × {factor(g)}")
    elif s.name in ("momentum", "nesterov"):
        v0, v = u.state1[index], u.new_state1[index]
        if u.step == 1:
            lines.append(f"velocity v = g = {num(v)} (first step: no history yet)")
        else:
            lines.append(f"velocity v ← μ·v + g = {hyper(s.momentum)} × {factor(v0)} + {factor(g)} = {num(v)}")
        if s.name == "nesterov":
            lines.append(f"w ← w − lr·(g + μ·v) = {num(w, 5)} − {hyper(lr)} × {factor(g + s.momentum * v)}")
        else:
            lines.append(f"w ← w − lr·v = {num(w, 5)} − {hyper(lr)} × {factor(v)}")
    elif s.name == "rmsprop":
        s0, s1 = u.state1[index], u.new_state1[index]
        lines.append(f"mean square s ← α·s + (1 − α)·g² = {hyper(s.alpha)} × {num(s0)} + {hyper(1 - s.alpha)} × "
                     f"{factor(g)}² = {num(s1)}")
        scaled = g / (math.sqrt(s1) + s.eps)
        if s.momentum > 0:
            b0, b = u.state2[index], u.new_state2[index]
            lines.append(f"buffer b ← μ·b + g/(√s + ε) = {hyper(s.momentum)} × {factor(b0)} + {factor(scaled)} = {num(b)}")
            lines.append(f"w ← w − lr·b = {num(w, 5)} − {hyper(lr)} × {factor(b)}")
        else:
            lines.append(f"w ← w − lr·g/(√s + ε) = {num(w, 5)} − {hyper(lr)} × {factor(scaled)}")
    elif s.name == "adagrad":
        s0, s1 = u.state1[index], u.new_state1[index]
        lines.append(f"sum of squares s ← s + g² = {num(s0)} + {factor(g)}² = {num(s1)}")
        lines.append(f"w ← w − lr·g/(√s + ε) = {num(w, 5)} − {hyper(lr)} × {factor(g / (math.sqrt(s1) + s.eps))}")
    else:  # adam, adamw
        m0, m, v0, v = u.state1[index], u.new_state1[index], u.state2[index], u.new_state2[index]
        t = u.step
        lines.append(f"m ← β1·m + (1 − β1)·g = {hyper(s.beta1)} × {factor(m0)} + {hyper(1 - s.beta1)} × {factor(g)} = {num(m)}")
        lines.append(f"v ← β2·v + (1 − β2)·g² = {hyper(s.beta2)} × {factor(v0)} + {hyper(1 - s.beta2)} × {factor(g)}² = {num(v)}")
        lines.append(f"bias correction at step t = {t}: m̂ = m / (1 − β1^{t}) = {num(m)} / {num(u.bias_correction1)} "
                     f"= {num(u.m_hat[index])}, v̂ = v / (1 − β2^{t}) = {num(v)} / {num(u.bias_correction2)} "
                     f"= {num(u.v_hat[index])}")
        step = lr * u.m_hat[index] / (math.sqrt(u.v_hat[index]) + s.eps)
        lines.append(f"w ← w − lr·m̂/(√v̂ + ε) = {num(start, 5)} − {hyper(lr)} × {factor(u.m_hat[index])} / "
                     f"{num(math.sqrt(u.v_hat[index]) + s.eps)} = {num(start, 5)} − {factor(step)}")
    lines.append(f"w: {num(w, 5)} → <b>{num(after, 5)}</b> (change {num(after - w)})")
    return lines
