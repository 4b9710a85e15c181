"""The frame channel's own messages, on the page's Bokeh websocket.

A frame sent as a Bokeh change (``FrameChannel.changes``) costs the server a Bokeh message:
its serializer walks the frame's values one by one, and the message leaves as five
websocket writes (header, metadata, content, buffer header, buffer); the page's
acknowledgement comes back as a Bokeh patch that the server decodes and applies under the
document's lock. In a room of thirty that was about half of a frame's server time. So,
once the page says it can, a frame travels as one binary websocket message of its own, on
the same socket (so in order with Bokeh's messages), and the page's acknowledgement as one
short text message:

- page -> server, text: ``READY + token`` (this socket understands frame messages; token:
  the channel's ``token``), then ``DRAWN + number`` once it has painted frame ``number``;
- server -> page, binary: :data:`MAGIC` (8 bytes), the header's length (uint32, little
  endian), the header (JSON: ``{"frame", "ack", "ops"}``), zero bytes to a multiple of 8,
  then the frame's packed arrays (see ``FrameChannel._packed``).

The page's script finds its Bokeh socket (the one that carries its next change), and reads
the frame messages before Bokeh's own handler, which never sees them. A message Bokeh would
encode differently from plain JSON (a NaN, a model) is sent the Bokeh way instead, as is a
frame while a Bokeh message is still being written to that socket (it must not overtake it),
a frame made after a Bokeh change not yet sent (a chart cleared by Reset in the same
callback: Bokeh sends that change after the callback), and every frame before READY or
after the socket has closed. :func:`install` makes the server hand these text messages to
the channel before Bokeh's receiver sees them.

Leans on Bokeh's ``WSHandler`` (``on_message``, ``write_lock``, ``connection``) and on
Panel's queue of messages waiting for that lock; :func:`install` checks they are there.
"""
from __future__ import annotations

import inspect
import json
import logging
import struct
import weakref

import numpy as np
from bokeh.server.views.ws import WSHandler
from tornado.websocket import WebSocketClosedError

try:  # Panel's messages waiting to be written (pn.io.unlocked, when the socket was busy)
    from panel.io.document import _WRITE_BLOCK, _WRITE_MSGS
except ImportError:  # another Panel: only the socket's own lock is checked
    _WRITE_BLOCK = _WRITE_MSGS = {}

MAGIC = b"nnpFrame"
READY = "nn-playground frames "
DRAWN = "nn-playground drawn "
_HEAD = struct.Struct("<8sI")

log = logging.getLogger(__name__)
_ORIGINAL_ON_MESSAGE = WSHandler.on_message
_channels: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # token -> FrameChannel
# WSHandler -> weakref to its FrameChannel: neither keeps the other (nor its playground) alive
_sockets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _plain(value):
    """What JSON cannot encode by itself: numpy scalars, a slice (as ``{"slice": [start,
    stop, step]}``); anything else raises TypeError (and the frame goes the Bokeh way)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, slice):
        return {"slice": [value.start, value.stop, value.step]}
    raise TypeError(f"not sent as a frame message: {type(value).__name__}")


def encode(frame: int, ack: bool, ops: list, arrays: bytes) -> bytes | None:
    """The frame message for these changes, or None if plain JSON cannot carry them as
    Bokeh would (a NaN or infinity among the small values, a model, a set...)."""
    try:
        header = json.dumps({"frame": frame, "ack": ack, "ops": ops}, default=_plain, allow_nan=False,
                            separators=(",", ":")).encode()
    except (TypeError, ValueError):
        return None
    padding = b"\0" * (-(_HEAD.size + len(header)) % 8)
    return b"".join((_HEAD.pack(MAGIC, len(header)), header, padding, arrays))


def decode(message: bytes) -> tuple[dict, memoryview] | None:
    """(header, packed arrays) of a frame message; None for any other message."""
    if len(message) < _HEAD.size or message[:8] != MAGIC:
        return None
    _, length = _HEAD.unpack_from(message)
    start = _HEAD.size + length
    header = json.loads(bytes(message[_HEAD.size:start]))
    return header, memoryview(message)[start + (-start % 8):]


class PageSocket:
    """The websocket of the page that sent READY: frames go straight to it while it is open
    and no Bokeh message is waiting to be written to it."""

    def __init__(self, handler: WSHandler):
        self._handler = weakref.ref(handler)

    def is_open(self) -> bool:
        """Whether the page's websocket is still open."""
        protocol = getattr(self._handler(), "ws_connection", None)
        return protocol is not None and not protocol.is_closing()

    def send(self, message: bytes, doc) -> bool:
        """Write ``message`` now; False (nothing written) when that would not be in order
        with the Bokeh messages of ``doc`` (its document), or the socket has closed."""
        handler = self._handler()
        protocol = getattr(handler, "ws_connection", None)
        if protocol is None or protocol.is_closing():
            return False
        if handler.write_lock._block._value == 0 or doc in _WRITE_MSGS or doc in _WRITE_BLOCK:
            return False  # a Bokeh message is being written, or waits: this frame would overtake it
        if doc.callbacks._held_events or getattr(_server_session(doc), "_pending_writes", None):
            return False  # a Bokeh change made earlier in this callback is still to be sent
        try:
            written = protocol.write_message(message, binary=True)
        except WebSocketClosedError:
            return False
        written.add_done_callback(_quietly_failed)
        return True


def _server_session(doc):
    context = doc.session_context
    return getattr(context, "session", None) if context is not None else None


def _quietly_failed(future) -> None:
    if not future.cancelled():
        future.exception()  # a tab closed while its frame was written: nothing to report


def _gone():
    return None


def register(token: str, channel) -> None:
    """Let the page of ``channel`` say READY with ``token``."""
    _channels[token] = channel


def _heard(handler: WSHandler, text: str) -> None:
    if text.startswith(DRAWN):
        number, channel = text[len(DRAWN):], _sockets.get(handler, _gone)()
        if channel is not None and number.isdecimal() and len(number) <= 12:  # else not from our page
            channel.heard_drawn(int(number))
        return
    channel = _channels.get(text[len(READY):])
    connection = handler.connection
    if channel is None or connection is None or connection._session is None:
        return
    if connection.session.document is not channel.document:
        log.warning("a page said READY for a frame channel of another session: ignored")
        return
    current = channel.page_socket
    if current is not None and current.is_open() and current._handler() is not handler:
        # A second connection to this session (Bokeh serves several): the frames stay with the
        # page that has them, until its socket closes (a page that reconnects says READY anew).
        log.warning("a second connection said READY for a frame channel in use: ignored")
        return
    _sockets[handler] = weakref.ref(channel)
    channel.page_socket = PageSocket(handler)


async def _on_message(self: WSHandler, fragment: str | bytes) -> None:
    """Bokeh's on_message, after taking out the frame channel's own text messages."""
    if isinstance(fragment, str) and fragment.startswith((READY, DRAWN)):
        try:
            _heard(self, fragment)
        except Exception:  # noqa: BLE001 - one page's bad message ends nothing
            log.exception("a frame channel message failed: %.60r", fragment)
        return None
    return await _ORIGINAL_ON_MESSAGE(self, fragment)


def install() -> bool:
    """Take the frame channel's text messages out before Bokeh reads a page's message;
    False (and nothing changed) if Bokeh's websocket handler is not shaped as expected."""
    if WSHandler.on_message is _on_message:
        return True
    source = inspect.getsource(WSHandler)
    if not all(f"self.{name} =" in source for name in ("connection", "write_lock")):
        return False
    WSHandler.on_message = _on_message
    return True


def uninstall() -> None:
    WSHandler.on_message = _ORIGINAL_ON_MESSAGE
