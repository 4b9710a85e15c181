"""One browser tab's state: what the parts of its page read, change and react to.

The page (page.py) builds the parts and wires them to this one object; none of them holds a
reference to another's widgets. The controls and the keyboard set parameters and trigger
events here (``play``, ``pause``, ``step``, ``reset``, ``acted``); the play loop, the slow step
and the idle watch (server/idle.py) watch them; the views follow ``session``.

Concurrency: everything here is changed on the event loop only (under the document's lock,
when served). A training job in the pool gets a frozen copy of what it needs
(``Session.training_settings()``) and a :class:`FrameJob` names what it was trained for, so a
frame that comes back after Step, Reset, Pause or a new network (each bumps ``generation``)
is recognised as stale and dropped.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

import param

from playground.core.config import RunConfig
from playground.core.session import Session

EPOCHS_PER_FRAME = {"0.1 epoch": 0.1, "0.25 epoch": 0.25, "1 epoch": 1.0, "2 epochs": 2.0,
                    "5 epochs": 5.0, "20 epochs": 20.0}


@dataclass(frozen=True)
class FrameJob:
    """A frame sent to the training pool: the future of its ``(frame, extras)``, and the
    session, generation, minibatch steps and kind (``secondary``) it was trained for."""

    future: Future
    session: Session
    generation: int
    steps: int = 0
    secondary: bool = False

    def trained_for(self, session: Session, generation: int, steps: int, secondary: bool) -> bool:
        return (self.session, self.generation, self.steps, self.secondary) == (session, generation, steps, secondary)


class TabState(param.Parameterized):
    """One tab: its settings, its run, whether it plays, and what the user just did."""

    config = param.ClassSelector(class_=RunConfig, doc="the run's settings (the widgets are bound to it)")
    session = param.ClassSelector(class_=Session, doc="the run the page shows; a new one for a new network or data")
    speed = param.Selector(default="1 epoch", objects=list(EPOCHS_PER_FRAME), doc="epochs per frame")
    playing = param.Boolean(default=False, doc="training frame after frame")
    notice = param.String(default="", doc="the line under the controls (HTML composed by the page: user text escaped)")
    generation = param.Integer(default=0, doc="bumped by Step, Reset, Pause and a new session: older frames are stale")
    resets = param.Integer(default=0, doc="Reset presses so far: each draws new weights")
    in_flight = param.ClassSelector(class_=FrameJob, default=None, allow_None=True,
                                    doc="the frame being trained for the play loop, until it is shown")
    ahead = param.ClassSelector(class_=FrameJob, default=None, allow_None=True,
                                doc="the next frame, trained while the page draws the current one")
    advance_by = param.Integer(default=None, allow_None=True,
                               doc="a request: train this many minibatch steps now and show the frame (0: show it as it is)")

    play = param.Event(doc="Play/Pause pressed (or its key)")
    pause = param.Event(doc="stop playing (a slow step, the idle watch, a lesson, an import)")
    step = param.Event(doc="Step pressed: one epoch")
    reset = param.Event(doc="Reset pressed: new weights, epoch 0")
    acted = param.Event(doc="any other user action (a lesson, an import): the idle clock starts again")

    def __init__(self, **params):
        super().__init__(**params)
        self.session_lock = threading.Lock()  # one advance at a time on this tab's session

    def make_stale(self) -> None:
        """Frames trained before now will not be shown."""
        self.generation += 1

    def is_current(self, job: FrameJob) -> bool:
        """Whether ``job`` was trained for the session and generation shown now."""
        return job.session is self.session and job.generation == self.generation

    def request_steps(self, n_steps: int) -> None:
        """Ask the play loop to train ``n_steps`` minibatch steps now and show the frame."""
        self.advance_by = n_steps
        self.advance_by = None
