"""The page's Bokeh websocket, for the frame messages (playground/transport/frame_socket.py).

Three things Bokeh and Panel do not offer publicly:

- **hearing our own text messages**: :func:`install` wraps ``WSHandler.on_message`` so that
  a text message starting with a prefix given to :func:`listen` goes to its listener, and
  never reaches Bokeh's receiver;
- **whether a write now would overtake a Bokeh message**: :func:`bokeh_message_waits` reads
  the handler's ``write_lock`` (a tornado lock: its semaphore is 0 while a message is
  written), Panel's queues of messages waiting for it (``panel.io.document._WRITE_MSGS``
  and ``_WRITE_BLOCK``), the document's held events and the session's pending writes;
- **which document a connection serves**: :func:`connection_document`.
"""
from __future__ import annotations

import inspect
import logging
from typing import Callable

from bokeh.server.views.ws import WSHandler

try:  # Panel's messages waiting to be written (pn.io.unlocked, when the socket was busy)
    from panel.io.document import _WRITE_BLOCK, _WRITE_MSGS
except ImportError:  # another Panel: only the socket's own lock is checked
    _WRITE_BLOCK = _WRITE_MSGS = {}

VERIFIED_ON = "bokeh 3.9.2, panel 1.9.4"

log = logging.getLogger(__name__)
_ORIGINAL_ON_MESSAGE = WSHandler.on_message
_listeners: dict[str, Callable[[WSHandler, str], None]] = {}  # text prefix -> listener


def listen(prefixes: tuple[str, ...], listener: Callable[[WSHandler, str], None]) -> None:
    """Hand every text message that starts with one of ``prefixes`` to ``listener(handler,
    text)`` instead of Bokeh (once :func:`install` has run)."""
    for prefix in prefixes:
        _listeners[prefix] = listener


async def _on_message(self: WSHandler, fragment: str | bytes) -> None:
    """Bokeh's on_message, after taking out the messages that have a listener."""
    if isinstance(fragment, str) and _listeners:
        for prefix, listener in _listeners.items():
            if fragment.startswith(prefix):
                try:
                    listener(self, fragment)
                except Exception:  # noqa: BLE001 - one page's bad message ends nothing
                    log.exception("a websocket message failed: %.60r", fragment)
                return None
    return await _ORIGINAL_ON_MESSAGE(self, fragment)


def install() -> bool:
    """Route listened-to text messages before Bokeh reads a page's message; False (and nothing
    changed) if Bokeh's websocket handler is not shaped as expected."""
    if WSHandler.on_message is _on_message:
        return True
    source = inspect.getsource(WSHandler)
    if not all(f"self.{name} =" in source for name in ("connection", "write_lock")):
        return False
    WSHandler.on_message = _on_message
    return True


def uninstall() -> None:
    WSHandler.on_message = _ORIGINAL_ON_MESSAGE


def protocol_of(handler: WSHandler | None):
    """The handler's open tornado websocket protocol, or None once it is closing."""
    protocol = getattr(handler, "ws_connection", None)
    return None if protocol is None or protocol.is_closing() else protocol


def bokeh_message_waits(handler: WSHandler, doc) -> bool:
    """Whether a Bokeh message for ``doc`` is being written to ``handler``'s socket, waits to
    be, or is still to be made from changes made earlier in this callback."""
    if handler.write_lock._block._value == 0 or doc in _WRITE_MSGS or doc in _WRITE_BLOCK:
        return True
    context = doc.session_context
    session = getattr(context, "session", None) if context is not None else None
    return bool(doc.callbacks._held_events or getattr(session, "_pending_writes", None))


def connection_document(handler: WSHandler):
    """The document of the session that ``handler``'s connection serves, None if none (yet)."""
    connection = handler.connection
    if connection is None or connection._session is None:
        return None
    return connection.session.document
