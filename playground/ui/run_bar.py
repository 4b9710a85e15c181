"""The run's buttons and readouts: Reset, Play, Step, the epoch, the losses and the status line.

The buttons trigger the tab state's events (the play loop answers them, see play_loop.py);
the Play button reads what a click would do. The readouts are fixed-size (views/readout.py:
text that changes every frame must not make the browser re-layout the page) and are written
through the tab's frame channel with the rest of a frame.
"""
from __future__ import annotations

import math
import time

import panel as pn

from playground.core.session import Frame, Session
from playground.ui.tab_state import TabState
from playground.ui.views.readout import Readout

READOUT_CSS = """
.label { font-size: 11px; color: #777; text-transform: uppercase; letter-spacing: 1px; }
.value { font-size: 26px; font-family: monospace; color: #222; }
.losses { font-size: 14px; line-height: 1.5; }
.losses b { font-family: monospace; font-size: 15px; }
.status { font-size: 12px; color: #666; }
"""


class RunBar:
    """Reset, Play and Step for ``state``, and the readouts that :meth:`show` fills per frame."""

    def __init__(self, state: TabState):
        self.state = state
        self.play_button = pn.widgets.Button(label="Play", color="primary", width=90, css_classes=["play-button"])
        self.step_button = pn.widgets.Button(label="Step", width=70, description="Train one epoch")
        self.reset_button = pn.widgets.Button(label="Reset", width=70, description="New weights, epoch 0")
        self.play_button.on_click(lambda e: state.param.trigger("play"))
        self.step_button.on_click(lambda e: state.param.trigger("step"))
        self.reset_button.on_click(lambda e: state.param.trigger("reset"))
        self.epoch_div = Readout(name="epoch_readout", width=130, height=50, margin=(10, 8), stylesheets=[READOUT_CSS])
        self.loss_div = Readout(name="loss_readout", width=330, height=72, stylesheets=[READOUT_CSS])
        self.status_div = Readout(name="status_readout", width=330, height=22, stylesheets=[READOUT_CSS])
        self.readouts = (self.epoch_div, self.loss_div, self.status_div)
        self.steps_per_second = 0.0
        self._rate_window = (time.perf_counter(), 0)  # (perf_counter time, step) the count started at
        state.param.watch(self._follow_playing, "playing")

    def _follow_playing(self, event) -> None:
        """The Play button reads what a click would do; a new run's steps/s count starts."""
        self.play_button.label = "Pause" if event.new else "Play"
        if event.new:
            self._rate_window = (time.perf_counter(), self.state.session.step)

    def show(self, frame: Frame, session: Session) -> None:
        """Fill the readouts for ``frame`` of ``session``."""
        now = time.perf_counter()
        started, first_step = self._rate_window
        if frame.step < first_step:  # reset, or a new network: a new count
            self._rate_window, self.steps_per_second = (now, frame.step), 0.0
        elif now - started >= 1.0:
            self.steps_per_second = (frame.step - first_step) / (now - started)
            self._rate_window = (now, frame.step)
        self.epoch_div.set(f"<div class='label'>Epoch</div><div class='value'>{frame.epoch:07,.0f}</div>")
        self.loss_div.set(loss_text(frame))
        self.status_div.set(f"<div class='status'>{self.steps_per_second:,.0f} steps/s · backend "
                            f"<b>{session.backend.name}</b> · "
                            f"{'-'.join(map(str, session.spec.layer_sizes))} {session.loss}</div>")


def loss_text(frame: Frame) -> str:
    """The losses readout's HTML (numbers only: nothing from a user)."""
    def number(x):
        if not math.isfinite(x):
            return "—"
        return f"{x:.3f}" if abs(x) < 1000 else f"{x:.3g}"

    text = (f"<div class='losses'><div>Test loss <b class='test-loss'>{number(frame.test_loss)}</b></div>"
            f"<div>Training loss <b class='train-loss'>{number(frame.train_loss)}</b></div>")
    if frame.train_accuracy is not None and frame.test_accuracy is not None:
        text += f"<div>Accuracy: training {frame.train_accuracy:.1%} · test {frame.test_accuracy:.1%}</div>"
    return text + "</div>"
