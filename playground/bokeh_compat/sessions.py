"""A served page's Bokeh session, reached past Bokeh's and Panel's public API.

- :func:`use_local_panel_resources`: Panel's template variable ``dist_url`` (where a page's
  models find Panel's style sheets) set on a document that Panel's page rendering never saw;
- :func:`send_without_delay`: TCP_NODELAY on the page's websocket, reached through the
  session context's ``_session``, its ``_subscribed_connections`` and their ``_socket``;
- :func:`hold_until_connected`: ``ServerSession.block_expiration`` until the page connects;
- :func:`page_connected`, :func:`close_connections`: whether a page's websocket is open, and
  closing it (the idle timeout).
"""
from __future__ import annotations

import panel as pn
from panel.io.resources import LOCAL_DIST
from tornado.ioloop import IOLoop

VERIFIED_ON = "bokeh 3.9.2, panel 1.9.4"


def use_local_panel_resources(doc) -> None:
    """A session built for a websocket that reached it first (another process, or the page's
    first session expired) is never passed through Panel's page rendering, which tells models
    where Panel's style sheets are: without this, they would point at Panel's CDN,
    unreachable from a room without internet."""
    doc._template_variables.setdefault("dist_url", f"{pn.state.rel_path}/{LOCAL_DIST}"
                                       if pn.state.rel_path else LOCAL_DIST)


def send_without_delay(doc) -> None:
    """Turn off Nagle's algorithm on the page's websocket (TCP_NODELAY).

    A Bokeh message leaves as several small websocket frames (header, metadata, content,
    buffers); with Nagle on, the second waits for the page's delayed TCP acknowledgement,
    40 ms on Linux, often twice a message: a frame took 80 ms longer to arrive than to make,
    and a page that acknowledges each frame got 11 frames a second instead of 30."""
    for connection in list(getattr(_server_session(doc), "_subscribed_connections", ())):
        socket = getattr(connection, "_socket", None)
        try:
            socket.set_nodelay(True)
        except Exception:  # noqa: BLE001 - a socket already closed, or not a websocket
            pass


def hold_until_connected(doc, grace_s: float) -> None:
    """Keep a new session until its page connects (or ``grace_s`` passed without it).

    Bokeh drops a session without connections after its unused-session lifetime, counted from its
    creation for one that never had any: a page that takes longer to load its scripts (a
    room opening the page at once) found its session gone, and the server built it again
    for the page's websocket, twice the work when the server is busiest."""
    context = doc.session_context
    held = []

    def hold():  # Bokeh makes the ServerSession once the page's document is built
        session = getattr(context, "_session", None)
        if session is not None and hasattr(session, "block_expiration") and not session.destroyed:
            session.block_expiration()
            held.append(session)

    def release():
        while held:
            held.pop().unblock_expiration()

    IOLoop.current().add_callback(hold)
    pn.state.onload(release)
    IOLoop.current().call_later(grace_s, release)


def _server_session(doc):
    """Bokeh's ServerSession of ``doc`` (None outside a server)."""
    context = doc.session_context if doc is not None else None
    return getattr(context, "_session", None)


def page_connected(doc=None) -> bool:
    """False once the browser tab of ``doc``'s session (the current one by default) has no
    open websocket; True outside a server."""
    session = _server_session(doc if doc is not None else pn.state.curdoc)
    return session is None or session.connection_count > 0


def close_connections(doc, reason: str) -> None:
    """Close the websockets of ``doc``'s session (Bokeh then expires it like a closed tab's)."""
    for connection in list(getattr(_server_session(doc), "_subscribed_connections", ())):
        socket = getattr(connection, "_socket", None)
        if socket is not None:
            socket.close(1000, reason)


def install() -> bool:
    """Nothing to patch: True if Bokeh's sessions still have what these functions use."""
    from bokeh.document import Document
    from bokeh.server.connection import ServerConnection
    from bokeh.server.session import ServerSession

    return (hasattr(ServerSession, "block_expiration") and hasattr(ServerSession, "unblock_expiration")
            and "_socket" in ServerConnection.__init__.__code__.co_names
            and "_subscribed_connections" in ServerSession.__init__.__code__.co_names
            and "_template_variables" in Document.__init__.__code__.co_names)
