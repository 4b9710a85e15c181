"""Idle tabs in a room: a run left playing pauses, a tab left alone is ended.

Thirty tabs left open over lunch must not keep the server busy. :class:`IdleWatch`
follows one playground's user actions (any setting, Play/Step/Reset, speed, lesson,
import). A run still playing ``pause_after_s`` seconds after the last action pauses, with
a notice that says so; a tab without an action for ``timeout_after_s`` seconds is ended:
the page is told to reload, its websocket is closed, and the server drops the session
(and its memory) UNUSED_SESSION_MS later, as for a closed tab.
"""
from __future__ import annotations

import time

from playground.bokeh_compat import sessions
from playground.ui.views.text import error_html, notice_html

IDLE_PAUSE_MINUTES = 20.0  # serve --idle-pause-minutes: a run playing this long without a click pauses
SESSION_TIMEOUT_MINUTES = 120.0  # serve --session-timeout-minutes: a tab this long without a click ends
MAX_TABS_PER_ADDRESS = 60  # one server process's open tabs from one client address (a room behind
# one NAT address: 30 learners with two tabs each); a page costs ~5 MB and most of a second to build
MIN_CHECK_S, MAX_CHECK_S = 0.2, 10.0  # how often the idle time is looked at (a fifth of the shortest limit)


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}" if minutes >= 1 else f"{seconds:.0f} seconds"


class IdleWatch:
    """Pauses and ends one playground's session when its user has gone quiet."""

    def __init__(self, state, pause_after_s: float, timeout_after_s: float):
        """``state``: the tab's TabState (playground/ui/tab_state.py): a change of its settings
        or speed, or one of its user events, is an action; pausing is its ``pause`` event."""
        self.state = state
        self.pause_after_s = pause_after_s
        self.timeout_after_s = timeout_after_s
        self.last_action = time.monotonic()
        self.ended = False
        state.config.param.watch(self.touch, state.config.setting_names())
        state.param.watch(self.touch, ["speed", "play", "step", "reset", "acted"])
        import panel as pn
        from panel.io.callbacks import PeriodicCallback

        period_s = min(MAX_CHECK_S, max(MIN_CHECK_S, min(pause_after_s, timeout_after_s) / 5))
        # background: without Panel's busy indicator and its bookkeeping (see Playground.play).
        self._callback = PeriodicCallback(callback=self.check, period=int(1000 * period_s), background=True)
        # Started once the page has loaded: before that, Panel re-schedules a start on every
        # turn of the event loop (a busy loop while a page loads, forever if it never does).
        self._doc = pn.state.curdoc
        pn.state.onload(self._start)
        if self._doc is not None and self._doc.session_context is not None:
            pn.state.on_session_destroyed(lambda context: self.stop())

    def _start(self) -> None:
        from panel.io.state import set_curdoc

        if self._callback is not None and not self.ended:
            # Within the session's document: Panel then runs it as the session's callback
            # (without one, as a task of its own that outlived the session, and its playground).
            with set_curdoc(self._doc):
                self._callback.start()

    def touch(self, *events) -> None:
        """A user action: the idle clock starts again."""
        self.last_action = time.monotonic()

    def idle_seconds(self) -> float:
        return time.monotonic() - self.last_action

    def check(self) -> None:
        """Periodically: pause a run nobody watches over, end a tab nobody uses."""

        if not sessions.page_connected(self._doc):
            self.stop()  # the tab is gone; the server drops the session shortly
            return
        idle = self.idle_seconds()
        if self.state.playing and idle >= self.pause_after_s:
            self.state.param.trigger("pause")
            self.state.notice = notice_html(f"Paused: no click for {_minutes(self.pause_after_s)}. "
                                                 "Press Play to go on.")
        if idle >= self.timeout_after_s:
            self.end()

    def end(self) -> None:
        """End the session: say so on the page, then close its websocket."""
        self.ended = True
        self.stop()
        self.state.param.trigger("pause")
        self.state.notice = error_html(f"This page was left alone for {_minutes(self.timeout_after_s)} and "
                                            "has been closed to free the server: reload the page to start again.")
        import panel as pn

        doc = pn.state.curdoc
        # The notice leaves first; the socket closes on the next turn of the event loop.
        if doc is not None:
            doc.add_next_tick_callback(lambda: sessions.close_connections(doc, "idle timeout"))

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

