"""Fixes for two races in Bokeh's server and Panel's event handling.

**A page that closes just before the keep-alive ping.**

Bokeh's keep-alive job (``BokehTornado._keep_alive``, every 37 s) pings every connection,
and for one whose websocket has already closed (``WebSocketClosedError``) it calls
``client_lost``, which detaches the connection from its session. But tornado has not yet
run that websocket's ``on_close``, and may still hand it a message that arrived before the
close (here, a page's acknowledgement of a frame). Both then ask the detached connection
for its session and fail with ``AssertionError``, with a traceback in the server's log
(seen in CI, in a UI test that closed a playing page). Compare bokeh/bokeh#13654, where the
keep-alive job's handling of closed connections was added.

With :func:`install`, ``client_lost`` only stops pinging the connection, and the websocket's
``on_close`` (which tornado always runs, once) detaches it from its session after telling
the session that the connection is lost, as Bokeh does for any closed page. Both methods
are looked up when called, so installing while the server runs is enough.

**A click while a widget's change waits.** Panel runs a browser event (a button's click) as a
coroutine that Bokeh starts without the document's lock, and that coroutine first runs any
widget change still waiting for its debounce (Theme, a checkbox), in place. A change made
there to a Bokeh model that Panel does not own (a glyph's colour, a renderer's visibility)
fails in Bokeh's session with ``RuntimeError: _pending_writes should be non-None`` and the
rest of that change is lost: clicking Step right after changing Theme left half the page in
the other theme (issue 22, item 6). With :func:`install`, Panel's event coroutine is marked
to run under the document's lock (Panel's ``async_execute`` honours a ``lock`` attribute),
as Bokeh runs its own callbacks.
"""
from __future__ import annotations

from bokeh.server.connection import ServerConnection
from bokeh.server.tornado import BokehTornado
from bokeh.server.views.ws import WSHandler
from panel.reactive import Syncable

VERIFIED_ON = "bokeh 3.9.2, panel 1.9.4"

_ORIGINAL = {"client_lost": BokehTornado.client_lost, "on_close": WSHandler.on_close}


def _client_lost(self: BokehTornado, connection: ServerConnection) -> None:
    """Stop pinging ``connection``; its websocket's on_close detaches its session."""
    self._clients.discard(connection)


def _on_close(self: WSHandler) -> None:
    """Bokeh's on_close (the session hears that its connection is lost), then detach."""
    _ORIGINAL["on_close"](self)
    if self.connection is not None:
        self.connection.detach_session()


def _panel_honours_lock() -> bool:
    """Whether Panel's async_execute reads a coroutine's ``lock`` attribute (Panel 1.x)."""
    import inspect

    from panel.io import server as panel_server

    execute = getattr(panel_server, "async_execute", None)
    return (execute is not None and "func.func, 'lock'" in inspect.getsource(execute)
            and inspect.iscoroutinefunction(getattr(Syncable, "_event_coroutine", None)))


def install() -> bool:
    """Detach a closed page's connection only in its websocket's on_close, and run Panel's
    browser events under the document's lock; False (and nothing changed) if this Bokeh's
    server or Panel is not shaped as this expects."""
    if BokehTornado.client_lost is _client_lost:
        return True
    if not (hasattr(BokehTornado, "_keep_alive") and hasattr(ServerConnection, "detach_session")
            and _panel_honours_lock()):
        return False
    BokehTornado.client_lost = _client_lost
    WSHandler.on_close = _on_close
    Syncable._event_coroutine.lock = True
    return True


def uninstall() -> None:
    BokehTornado.client_lost = _ORIGINAL["client_lost"]
    WSHandler.on_close = _ORIGINAL["on_close"]
    vars(Syncable._event_coroutine).pop("lock", None)
