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

What this needs of Bokeh's and Panel's internals (hearing READY and DRAWN before Bokeh does,
whether a Bokeh message waits) is in playground/bokeh_compat/websocket.py.
"""
from __future__ import annotations

import json
import logging
import struct
import weakref

import numpy as np
from tornado.websocket import WebSocketClosedError

from playground.bokeh_compat import websocket

MAGIC = b"nnpFrame"
READY = "nn-playground frames "
DRAWN = "nn-playground drawn "
_HEAD = struct.Struct("<8sI")

log = logging.getLogger(__name__)
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

    def __init__(self, handler):
        self._handler = weakref.ref(handler)

    def is_open(self) -> bool:
        """Whether the page's websocket is still open."""
        return websocket.protocol_of(self._handler()) is not None

    def send(self, message: bytes, doc) -> bool:
        """Write ``message`` now; False (nothing written) when that would not be in order
        with the Bokeh messages of ``doc`` (its document), or the socket has closed."""
        handler = self._handler()
        protocol = websocket.protocol_of(handler)
        if protocol is None:
            return False
        if websocket.bokeh_message_waits(handler, doc):
            return False  # this frame would overtake a Bokeh message (being written, or to be)
        try:
            written = protocol.write_message(message, binary=True)
        except WebSocketClosedError:
            return False
        written.add_done_callback(_quietly_failed)
        return True


def _quietly_failed(future) -> None:
    if not future.cancelled():
        future.exception()  # a tab closed while its frame was written: nothing to report


def _gone():
    return None


def register(token: str, channel) -> None:
    """Let the page of ``channel`` say READY with ``token``."""
    _channels[token] = channel


def _heard(handler, text: str) -> None:
    """A READY or DRAWN message from ``handler``'s page (see playground/bokeh_compat/websocket.py)."""
    if text.startswith(DRAWN):
        number, channel = text[len(DRAWN):], _sockets.get(handler, _gone)()
        if channel is not None and number.isdecimal() and len(number) <= 12:  # else not from our page
            channel.heard_drawn(int(number))
        return
    channel = _channels.get(text[len(READY):])
    document = websocket.connection_document(handler)
    if channel is None or document is None:
        return
    if document is not channel.document:
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


def install() -> bool:
    """Have the server hand READY and DRAWN to the frame channels before Bokeh's receiver
    sees a page's message; False (and nothing changed) if Bokeh is not shaped as expected."""
    websocket.listen((READY, DRAWN), _heard)
    return websocket.install()
