"""When a playing session's next frame is trained and sent.

A frame starts as soon as the page has drawn all but ``in_flight - 1`` of the frames sent to
it (the page echoes each frame's number once painted: backpressure, so a slow page never
builds a backlog and gets fewer frames), and no sooner than ``interval_s`` after the last
one started (a cap on frames per second). A page that acknowledges nothing for
``ack_timeout_s`` gets the next frame anyway.

Three frames in flight keep a fast page busy (the next ones travel while it draws), and it
acknowledges every second frame only (:meth:`FramePacer.wants_ack`; each acknowledgement is
a message the server reads and applies, ~0.5 ms of its time). A slow page (a room's browsers
sharing a laptop's cores: a frame takes it a few hundred ms from sending to painting) gets
one at a time, and acknowledges each, so that the answer to a click waits behind one frame
in the page's queue, not three; and after painting it rests as long as the frame took
(``SLOW_PAGE_REST``), so that a click mostly finds it idle. Where the pages share one
machine's cores (the room measured by scripts/measure_room.py: 12 Chromium pages on 2 cores)
the rest also lowers the contention that made them slow: they got as many frames as
before (about 2.2/s each), and the median click answer fell from about 470 ms to 200-300.

Event driven: the next frame is started by the page's acknowledgement, by the end of the
interval, or by Play, each through one scheduled callback; no session polls. (Polling every
10 ms cost a room of 30 sessions a fifth of the server's time, spent finding nothing due.)
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Awaitable, Callable

from panel.io.state import set_curdoc

FRAMES_IN_FLIGHT = 3  # frames sent but not yet drawn: the next ones travel while the page draws
ACK_EVERY = 2  # a page with frames in flight acknowledges every second one
FRAME_INTERVAL_S = 1 / 30  # at most 30 frames/s; a page that draws slower gets fewer
FRAME_ACK_TIMEOUT_S = 2.0  # a page that acknowledges nothing this long gets the next frame anyway
EARLY_S = 0.002  # a timer that fires this much before its time counts as on time
SLOW_PAGE_S = 0.2  # a page whose frames take longer than this, sent to painted, gets one at a time...
FAST_PAGE_S = 0.08  # ...until they take less than this again (in between: as it was)
SLOW_PAGE_REST = 1.0  # ...and then rests as long as it took to draw (at most 1 s) between frames


class Scheduler:
    """Runs a callback soon or after a delay on the event loop, cancels it, and runs work
    under the document's lock.

    With a Bokeh server document (``doc.session_context`` set) a callback runs as a plain
    task with ``pn.state.curdoc`` set (without it, ``pn.io.unlocked`` does not batch a
    frame's changes into one message), *without* the document's lock: a frame that waits
    for its training must not hold up this session's clicks. What changes the document runs
    through :meth:`locked` (``session_context.with_locked_document``, as Bokeh runs its own
    callbacks). The wait is a plain asyncio timer, and the run a plain task: Bokeh's own
    timeout and next-tick callbacks cost about a tenth of a frame's server time to add and
    remove (each is an event of the document). Without a document (a notebook, a test) the
    callback runs on the current asyncio loop, and :meth:`locked` runs its work at once.
    """

    def __init__(self, doc=None):
        self.doc = doc if doc is not None and doc.session_context is not None else None

    def later(self, seconds: float, callback: Callable[[], Awaitable | None]) -> "_Scheduled":
        """Run ``callback`` (a function or coroutine function) in ``seconds``; returns a
        handle for :meth:`cancel`."""
        scheduled = _Scheduled()
        doc = self.doc

        async def with_curdoc():
            if scheduled.cancelled:
                return
            with set_curdoc(doc):
                result = callback()
                if inspect.isawaitable(result):
                    await result

        def due():
            scheduled.timer = None
            if scheduled.cancelled:
                return
            if doc is not None:
                task = asyncio.ensure_future(with_curdoc())
                _RUNNING.add(task)  # the loop holds its tasks weakly
                task.add_done_callback(_finished)
                return
            result = callback()
            if asyncio.iscoroutine(result):
                asyncio.ensure_future(result)

        if seconds <= 0 and doc is not None:
            due()
        else:
            loop = _event_loop()
            if loop is not None:  # none: plain Python, where nothing could run it
                scheduled.timer = loop.call_later(max(0.0, seconds), due)
        return scheduled

    async def locked(self, work: Callable[[], None]) -> None:
        """Run ``work`` holding the document's lock (at once without a document); a session
        that ended meanwhile runs nothing (Bokeh skips it)."""
        if self.doc is None:
            work()
            return
        doc = self.doc

        def with_curdoc(_doc):
            with set_curdoc(doc):
                work()

        await doc.session_context.with_locked_document(with_curdoc)

    def cancel(self, scheduled: "_Scheduled | None") -> None:
        if scheduled is None:
            return
        scheduled.cancelled = True
        if scheduled.timer is not None:
            scheduled.timer.cancel()


_RUNNING: set[asyncio.Task] = set()  # scheduled callbacks' tasks until they end


def _finished(task: asyncio.Task) -> None:
    """A scheduled callback's error goes to the log (as Bokeh logs its callbacks' errors)."""
    _RUNNING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).error("a scheduled callback failed", exc_info=task.exception())


def _event_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            return None


class _Scheduled:
    """What :meth:`Scheduler.later` scheduled: an asyncio timer, then a task."""

    def __init__(self):
        self.timer = None
        self.cancelled = False


class FramePacer:
    """Decides when ``run_frame`` (a coroutine function that trains and sends one frame,
    calling :meth:`sent` when it sends) is called while playing.

    Times are ``time.perf_counter`` seconds (``clock``, replaceable in tests).
    """

    def __init__(self, run_frame: Callable[[], Awaitable[None]], *, interval_s: float = FRAME_INTERVAL_S,
                 in_flight: int = FRAMES_IN_FLIGHT, ack_timeout_s: float = FRAME_ACK_TIMEOUT_S,
                 rest: float = SLOW_PAGE_REST, clock: Callable[[], float] = time.perf_counter):
        self.run_frame = run_frame
        self.interval_s, self.max_in_flight, self.ack_timeout_s = interval_s, in_flight, ack_timeout_s
        self.rest = rest  # a slow page's idle time between frames, as a share of its drawing time
        self.in_flight = in_flight  # now: max_in_flight, or 1 for a slow page
        self.draw_s: float | None = None  # smoothed seconds from sending a frame to its painting
        # frame number -> when it was sent (None: on the timeout, see drawn), until drawn
        self._sent_at: dict[int, float | None] = {}
        self.clock = clock
        self.scheduler = Scheduler()
        self.frames_sent = 0  # numbered from 1; the page echoes the number it painted
        self.frames_drawn = 0
        self.ack_wanted_for = 0  # the last frame the page was asked to acknowledge
        self.last_sent_at = 0.0
        self.last_drawn_at = float("-inf")
        self.last_started_at = float("-inf")
        self.running = False  # between start() and stop()
        self._busy = False  # a frame is being trained or sent
        self._pending = None  # (handle, due time) of the scheduled frame

    # ------------------------------------------------------------------ from the app
    def start(self, scheduler: Scheduler) -> None:
        """Play: frames from now on, the first at once (a slow page's rest included)."""
        self.scheduler = scheduler
        self.running = True
        self.last_drawn_at = float("-inf")
        self._schedule()

    def stop(self) -> None:
        """Pause (the app shows or drops a frame still training: PlayLoop.finish_frames_in_flight)."""
        self.running = False
        self._cancel_pending()

    def sent(self) -> int:
        """A frame is being sent: its number, for the page to echo (see :meth:`wants_ack`)."""
        behind = self.frames_sent - self.frames_drawn >= self.in_flight  # sent on the timeout
        self.frames_sent += 1
        self.last_sent_at = self.clock()
        self._sent_at[self.frames_sent] = None if behind else self.last_sent_at
        if len(self._sent_at) > 64:  # a page that acknowledges nothing: keep the latest only
            del self._sent_at[next(iter(self._sent_at))]
        if (self.in_flight <= 1 or self.frames_sent % ACK_EVERY == 0
                or self.frames_sent - self.frames_drawn >= self.in_flight):  # the next one will wait for it
            self.ack_wanted_for = self.frames_sent
        return self.frames_sent

    def wants_ack(self, number: int) -> bool:
        """Whether the page should echo frame ``number`` once painted: every frame for a page
        that gets one at a time, else every ``ACK_EVERY``-th, and always a frame after which
        the pacer waits (an echo of frame n says that every frame up to n was painted)."""
        return number == self.ack_wanted_for

    def drawn(self, number: int) -> None:
        """The page painted frame ``number``: the next one may start now."""
        if number <= self.frames_drawn:
            return
        self.frames_drawn = number
        self.last_drawn_at = self.clock()
        sent_at = self._sent_at.get(number)
        self._sent_at = {n: t for n, t in self._sent_at.items() if n > number}
        took = None if sent_at is None else self.clock() - sent_at
        # A frame sent on the timeout, or painted after more than it, says that the page was
        # away (a frozen or stopped tab, a stalled network), not how fast it draws: judged
        # slow by it, a page that woke up got one frame a second for about 5 s.
        if took is not None and took <= self.ack_timeout_s:
            self.draw_s = took if self.draw_s is None else 0.7 * self.draw_s + 0.3 * took
            if self.draw_s > SLOW_PAGE_S:
                self.in_flight = 1
            elif self.draw_s < FAST_PAGE_S:
                self.in_flight = self.max_in_flight
        if self.running and not self._busy:
            self._schedule()

    # ------------------------------------------------------------------ deciding
    def page_is_behind(self) -> bool:
        """True while the page has ``in_flight`` frames to draw (and not for too long)."""
        waiting = self.frames_sent - self.frames_drawn >= self.in_flight
        return waiting and self.clock() - self.last_sent_at < self.ack_timeout_s

    def seconds_to_next(self) -> float:
        """How long until the next frame may start (0: now); while the page is behind, until
        its acknowledgement times out (its arrival calls :meth:`drawn` sooner)."""
        now = self.clock()
        if self.page_is_behind():
            return self.last_sent_at + self.ack_timeout_s - now
        return max(0.0, self.last_started_at + self.interval_s - now, self.last_drawn_at + self.rest_s() - now)

    def rest_s(self) -> float:
        """How long a slow page is left idle after painting a frame, so that it answers
        clicks between frames: ``rest`` times its drawing time, at most 1 s (0 for a page
        drawing in ``SLOW_PAGE_S`` or less)."""
        if self.in_flight > 1 or self.draw_s is None or self.draw_s <= SLOW_PAGE_S:
            return 0.0
        return min(1.0, self.rest * self.draw_s)

    def _schedule(self) -> None:
        if not self.running or self._busy:
            return
        due = self.clock() + self.seconds_to_next()
        if self._pending is not None:
            if self._pending[1] <= due:
                return  # already due as soon
            self._cancel_pending()
        self._pending = (self.scheduler.later(due - self.clock(), self._due), due)

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self.scheduler.cancel(self._pending[0])
            self._pending = None

    async def _due(self) -> None:
        self._pending = None
        if not self.running or self._busy:
            return
        if self.seconds_to_next() > EARLY_S:  # woken early (the page fell behind meanwhile)
            self._schedule()
            return
        self._busy = True
        self.last_started_at = self.clock()
        try:
            await self.run_frame()
        finally:  # even after an error: a later frame may go through (the app stops if not)
            self._busy = False
            self._schedule()
