"""The play loop of one tab: Play, Pause, Step and Reset, and every frame between them.

While playing, the pacer (playground/transport/pacing.py) asks for a frame whenever the page
has drawn the last one; :meth:`PlayLoop.run_frame` sends its training to the pool shared by
the room (the Numba kernels release the GIL), with a frozen copy of the settings, and shows
it under the document's lock; the next frame trains while the page draws this one. The loop
reads and changes only the tab's state (tab_state.py) and draws through the page's
``draw(frame, extras, chart)``; it feeds the descent-path view itself (its contours are
recomputed in the pool, at most once a second).
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import panel as pn

from playground.bokeh_compat import sessions
from playground.core.config import RunConfig
from playground.core.landscape import landscape
from playground.core.session import Session
from playground.transport.frame_channel import FrameChannel
from playground.transport.pacing import FramePacer, Scheduler
from playground.ui.tab_state import EPOCHS_PER_FRAME, FrameJob, TabState
from playground.ui.views.landscape_view import LandscapeView
from playground.ui.views.text import error_html

# While playing, the browser's drawing is the limit: each frame redraws the readouts and the
# boundary, odd frames the loss chart, every SECONDARY_EVERY-th (an even one) the diagram,
# gradient charts and descent path, so that no frame carries everything.
SECONDARY_EVERY = 4
LOSS_CHART_EVERY = 2
LANDSCAPE_PERIOD_S = 1.0  # redraw the loss contours around the path at most this often
# One shared pool for the training work of every session (a cache, not state):
# bounded, so a full room cannot start more threads than the machine has cores.
EXECUTOR = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="train")


class PlayLoop:
    """Trains and shows one tab's frames; ``draw(frame, extras, chart)`` puts one on the views."""

    def __init__(self, state: TabState, channel: FrameChannel, landscape_view: LandscapeView,
                 draw: Callable[..., None]):
        self.state, self.channel, self.landscape, self._draw = state, channel, landscape_view, draw
        self._scheduler = Scheduler()  # the pacer's, set by play(): runs work under the document's lock
        self.pacer = FramePacer(self.run_frame)
        channel.on_drawn(self.pacer.drawn)
        self._landscape_due = 0.0  # perf_counter time after which the contours are redrawn
        self._landscape_busy = False
        state.param.watch(lambda e: self.toggle_play(), "play")
        state.param.watch(lambda e: self.pause(), "pause")
        state.param.watch(lambda e: self.step_once(), "step")
        state.param.watch(lambda e: self.reset(), "reset")
        state.param.watch(self.on_steps_requested, "advance_by")

    # ------------------------------------------------------------------ running
    def toggle_play(self) -> None:
        if self.state.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.state.session.diverged:
            self.state.notice = error_html("The run diverged: press Reset, and choose a smaller learning rate.")
            return
        self.state.playing = True
        self._scheduler = Scheduler(pn.state.curdoc)
        self.pacer.start(self._scheduler)

    def pause(self) -> None:
        was_playing = self.state.playing
        self.state.playing = False
        self.pacer.stop()
        self.finish_frames_in_flight()
        if was_playing:
            self.refresh_landscape()  # the contours around where training stopped

    def finish_frames_in_flight(self) -> None:
        """Pause with a frame still training (sent off by :meth:`run_frame`, or trained
        ahead while the page drew): one that has not started is dropped (nothing was
        trained), and one that has is shown now, so that the page shows where training
        stopped before it reads Play. That waits at most for the rest of one frame's
        training; the frame's own :meth:`run_frame` then finds it stale."""
        state = self.state
        for job in (state.in_flight, state.ahead):
            if job is None or job.future.cancel() or not state.is_current(job):
                continue
            try:
                self.show(*job.future.result())
            except Exception:  # noqa: BLE001 - a failed frame is not shown; pausing goes on
                logging.getLogger(__name__).exception("a frame in flight at Pause failed")
        state.in_flight = state.ahead = None
        state.make_stale()

    def close(self) -> None:
        """The tab is gone: stop training callbacks and draw nothing more (its models are
        being taken apart: a frame trained ahead or still in flight is dropped)."""
        state = self.state
        state.make_stale()  # a frame in flight is stale when it returns
        for job in (state.in_flight, state.ahead):
            if job is not None:
                job.future.cancel()  # not trained at all if it has not started
        state.in_flight = state.ahead = None
        state.playing = False
        self.pacer.stop()

    def reset(self) -> None:
        """Stop; new weights, epoch 0, same settings."""
        self.pause()
        state, session = self.state, self.state.session
        state.make_stale()
        with state.session_lock:
            session.reset(reseed=state.resets + 1)
        with pn.io.unlocked():  # in one message with the first frame: see show
            state.resets += 1  # the charts start again (the page watches it)
            self.landscape.clear()
            state.notice = ""
            self.show(session.frame(boundary=True, gradient=True), (session.neuron_maps(), session.unit_fractions()))

    def steps_per_frame(self) -> int:
        wanted = max(1, round(EPOCHS_PER_FRAME[self.state.speed] * self.state.session.steps_per_epoch))
        # bounded work: a heavy setting trains fewer steps a frame (RunConfig.frame_steps)
        return RunConfig.frame_steps(wanted, self.state.config.batch_size, self.state.session.spec.layout().size)

    @staticmethod
    def compute(session: Session, n_steps: int, secondary: bool = True, settings=None):
        """Train, then gather what the views show (in a worker thread while playing).

        ``secondary``: also what the diagram and gradient views need (the gradient, the
        neuron maps, the unit fractions); without it the extras are None. ``settings``:
        Session.training_settings() taken on the event loop (default: taken now).
        """
        frame = session.advance(n_steps, boundary=True, gradient=secondary, settings=settings)
        return frame, (session.neuron_maps(), session.unit_fractions()) if secondary else None

    def compute_locked(self, session: Session, n_steps: int, secondary: bool = True, settings=None):
        """:meth:`compute` holding this tab's session lock: a Step or Reset clicked
        meanwhile waits for it instead of touching the same weights."""
        with self.state.session_lock:
            return self.compute(session, n_steps, secondary, settings)

    def submit(self, session: Session, steps: int, secondary: bool) -> FrameJob:
        """Send a frame's training to the pool, with the settings as they are now."""
        future = EXECUTOR.submit(self.compute_locked, session, steps, secondary, session.training_settings())
        return FrameJob(future, session, self.state.generation, steps, secondary)

    async def run_frame(self) -> None:
        """Train the next frame (or take the one trained ahead) and send it; the pacer
        (playground.transport.pacing) calls this while playing, when the page is ready for it.

        It holds the document's lock only to show the frame, not while the frame trains
        (in a pool shared by the whole room, it may wait there): a click meanwhile is
        answered at once. Pause shows or drops the frame in flight (see
        :meth:`finish_frames_in_flight`), after which this one finds it stale.
        """
        if not sessions.page_connected():
            await self._scheduler.locked(self.pause)  # the tab is gone: stop now, not when the session expires
            return
        state = self.state
        session, generation = state.session, state.generation
        number = self.pacer.frames_sent + 1
        secondary, chart = self.frame_kind(number)
        steps = self.steps_per_frame()
        ahead, state.ahead = state.ahead, None
        job = None
        try:
            if ahead is not None and not ahead.trained_for(session, generation, steps, secondary):
                job = state.in_flight = ahead
                await asyncio.wrap_future(job.future)  # computed for other settings: let it end
                ahead = None
                if generation != state.generation or not state.playing:
                    return  # paused (which showed it), or reset, meanwhile
            job = state.in_flight = ahead or self.submit(session, steps, secondary)  # until shown
            frame, extras = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            if job is not None and job.future.cancelled():
                return  # dropped by Pause before it started: nothing was trained
            raise
        except Exception:  # noqa: BLE001 - a failure stops this session's training, and no other
            logging.getLogger(__name__).exception("training a frame failed")
            await self._scheduler.locked(self.stop_after_failure)
            return
        await self._scheduler.locked(lambda: self.show_trained(frame, extras, chart, session, generation, number))

    def show_trained(self, frame, extras, chart: bool, session: Session, generation: int, number: int) -> None:
        """:meth:`run_frame`'s end, under the document's lock: show the frame unless it is
        stale, and start training the next one while the page draws this one."""
        state = self.state
        state.in_flight = None
        if session is not state.session or generation != state.generation:
            return  # the network changed, it was reset, or Pause showed it already
        self.show(frame, extras, chart=chart)
        if state.playing:  # train the next frame while the page draws this one
            state.ahead = self.submit(session, self.steps_per_frame(), self.frame_kind(number + 1)[0])
        if time.perf_counter() >= self._landscape_due:
            self.refresh_landscape(background=True)

    def stop_after_failure(self) -> None:
        self.state.in_flight = None  # failed: nothing to show
        self.pause()
        self.state.notice = error_html("Training stopped: something went wrong in this step (it is in the "
                                        "server's log). Press Reset to start again.")

    @staticmethod
    def frame_kind(number: int) -> tuple[bool, bool]:
        """(redraw the secondary pictures, redraw the loss chart) for frame ``number``."""
        return number % SECONDARY_EVERY == 0, number % LOSS_CHART_EVERY == 1

    def refresh_landscape(self, background: bool = False) -> None:
        """Recompute the loss contours around the path: in a worker while training, so
        the frame rate does not stall, and at most once a second."""
        if self._landscape_busy or len(self.landscape.trajectory) < 2:
            return
        if background and self.landscape.figure.document is None:
            return  # its tab was never opened: the dearest view (half a room's CPU), for no one
        session, trajectory = self.state.session, np.array(self.landscape.trajectory)
        self._landscape_due = time.perf_counter() + LANDSCAPE_PERIOD_S
        if not background:
            self.show_landscape(landscape(session, trajectory))
            return
        self._landscape_busy = True
        doc = pn.state.curdoc
        future = asyncio.get_running_loop().run_in_executor(EXECUTOR, landscape, session, trajectory)

        def done(future):
            self._landscape_busy = False
            if future.cancelled() or future.exception() is not None or session is not self.state.session:
                return
            result = future.result()
            if doc is not None and doc.session_context is not None:
                doc.add_next_tick_callback(lambda: self.show_landscape(result))  # under the doc lock
            else:
                self.show_landscape(result)

        future.add_done_callback(done)

    def show_landscape(self, result) -> None:
        with pn.io.unlocked():  # in order with the frames' path points: see show
            self.landscape.show(result)

    def step_once(self) -> None:
        if self.state.playing:
            self.pause()
        if self.state.session.diverged:
            return
        self.state.make_stale()  # a frame still in flight from Play is stale now
        frame, extras = self.compute_locked(self.state.session, self.state.session.steps_per_epoch)
        self.show(frame, extras)
        self.refresh_landscape()

    def on_steps_requested(self, event) -> None:
        """``state.request_steps(n)`` (the slow step): train n minibatch steps now and show them."""
        if event.new is not None:
            self.show(*self.compute_locked(self.state.session, event.new))

    # ------------------------------------------------------------------ drawing
    def show(self, frame, extras, chart: bool = True) -> None:
        """Draw a frame; ``extras`` = (neuron maps, (saturated, dead) fractions), or None
        to leave the secondary pictures as they are; ``chart=False`` keeps the loss chart's
        new point for the next frame that redraws it.

        The views' changes during a frame go to the page as one change of the frame
        channel (transport/frame_channel.py), numbered for the pacing. All of the frame's
        Bokeh events leave as one websocket message (``pn.io.unlocked``): Bokeh would send
        one per change. The frame pacing is the backpressure that this removes. Changes
        that must arrive in order with a frame (clearing a chart, then its first point) go
        in the same ``unlocked`` block: Bokeh's own messages are written later than these
        and could arrive after them.
        """
        number = self.pacer.sent()
        with pn.io.unlocked(), self.channel.batch(number, ack=self.pacer.wants_ack(number)):
            self._draw(frame, extras, chart)
