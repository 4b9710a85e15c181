"""A fix for a race in Bokeh's server: a page that closes just before the keep-alive ping.

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
"""
from __future__ import annotations

from bokeh.server.connection import ServerConnection
from bokeh.server.tornado import BokehTornado
from bokeh.server.views.ws import WSHandler

_ORIGINAL = {"client_lost": BokehTornado.client_lost, "on_close": WSHandler.on_close}


def _client_lost(self: BokehTornado, connection: ServerConnection) -> None:
    """Stop pinging ``connection``; its websocket's on_close detaches its session."""
    self._clients.discard(connection)


def _on_close(self: WSHandler) -> None:
    """Bokeh's on_close (the session hears that its connection is lost), then detach."""
    _ORIGINAL["on_close"](self)
    if self.connection is not None:
        self.connection.detach_session()


def install() -> bool:
    """Detach a closed page's connection only in its websocket's on_close; False (and
    nothing changed) if this Bokeh's server is not shaped as this expects."""
    if BokehTornado.client_lost is _client_lost:
        return True
    if not (hasattr(BokehTornado, "_keep_alive") and hasattr(ServerConnection, "detach_session")):
        return False
    BokehTornado.client_lost = _client_lost
    WSHandler.on_close = _on_close
    return True


def uninstall() -> None:
    BokehTornado.client_lost = _ORIGINAL["client_lost"]
    WSHandler.on_close = _ORIGINAL["on_close"]
