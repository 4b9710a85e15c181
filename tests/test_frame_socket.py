"""Frame messages (playground/transport/frame_socket.py): a frame sent on the page's socket
carries exactly what the same frame sent as a Bokeh change carries; frames go the Bokeh way
whenever a frame message could not be in order or could not say the same; a page's READY and
DRAWN reach its own channel only. The page's side is exercised by the UI tests (tests/ui)
and the load test's clients (tests/test_load.py)."""
import asyncio
import json
from types import SimpleNamespace

import numpy as np
import pytest
from bokeh.document import Document
from tornado.locks import Lock
from tornado.websocket import WebSocketClosedError

from playground.transport import frame_socket
from playground.transport.frame_channel import FrameChannel
from tests.test_frame_channel import on_a_page


class FakePageSocket:
    """Stands in for frame_socket.PageSocket: keeps what it is asked to send."""

    def __init__(self, writable=True):
        self.writable, self.sent = writable, []

    def send(self, message, doc):
        if self.writable:
            self.sent.append(message)
        return self.writable


def a_frame(channel, source, rng):
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)
    with channel.batch(12, ack=True):
        channel.set(rng, start=np.float32(0.5), end=2)
        channel.stream(source, dict(x=[4.0], y=np.array([0.25]), color=["d"], image=[image]), rollover=np.int64(5))
        channel.patch(source, {"x": [(slice(0, 2), np.array([9.0, 8.0]))], "color": [(1, "z")]})
        channel.data(source, y=np.array([np.nan, 1.0, 2.0, 3.0]))  # NaN inside an array: packed, fine


def as_json(value):
    """Bokeh-path values as plain JSON would carry them (slices as frame_socket writes them)."""
    return json.loads(json.dumps(value, default=lambda v: {"slice": [v.start, v.stop, v.step]}
                                 if isinstance(v, slice) else v.item()))


def test_a_frame_message_says_what_the_bokeh_change_says():
    channel, root, source, rng, events = on_a_page()
    a_frame(channel, source, rng)  # no page socket yet: a Bokeh change
    [event] = events
    bokeh = event.new
    channel2, root2, source2, rng2, events2 = on_a_page()
    channel2.page_socket = FakePageSocket()
    a_frame(channel2, source2, rng2)
    assert events2 == [] and len(channel2.page_socket.sent) == 1
    header, arrays = frame_socket.decode(channel2.page_socket.sent[0])
    ids = {source2.id: source.id, rng2.id: rng.id}
    ops = [[ids[op[0]], *op[1:]] for op in header["ops"]]
    assert (header["frame"], header["ack"]) == (bokeh.frame, bokeh.ack) == (12, True)
    assert ops == as_json(bokeh.ops)
    assert bytes(arrays) == bokeh.arrays and len(arrays) > 0
    assert channel.frames_sent == {"bokeh": 1} and channel2.frames_sent == {"message": 1}


def test_the_arrays_start_8_byte_aligned_in_the_message():
    channel, root, source, rng, events = on_a_page()
    for extra in range(8):  # headers of every length modulo 8
        channel.page_socket = FakePageSocket()
        with channel.batch(1):
            channel.set(rng, name="x" * extra)
            channel.data(source, y=np.array([1.0, 2.0, 3.0]))
        message = channel.page_socket.sent[0]
        header, arrays = frame_socket.decode(message)
        start = len(message) - len(arrays)
        assert start % 8 == 0
        np.testing.assert_array_equal(np.frombuffer(arrays, dtype=float), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}])
def test_what_plain_json_cannot_say_goes_as_a_bokeh_change(value):
    channel, root, source, rng, events = on_a_page()
    channel.page_socket = FakePageSocket()
    with channel.batch(3):
        channel.set(rng, start=value)
    assert channel.page_socket.sent == []
    assert len(events) == 1 and events[0].attr == "changes" and events[0].new.ops[0][2] == {"start": value}


def test_a_frame_the_socket_cannot_take_now_goes_as_a_bokeh_change():
    channel, root, source, rng, events = on_a_page()
    channel.page_socket = FakePageSocket(writable=False)
    with channel.batch(4):
        channel.set(rng, start=1.0)
    assert len(events) == 1 and events[0].new.frame == 4


class FakeProtocol:
    def __init__(self):
        self.closing, self.written = False, []

    def is_closing(self):
        return self.closing

    def write_message(self, message, binary=False):
        if self.closing:
            raise WebSocketClosedError()
        self.written.append((message, binary))
        future = asyncio.get_event_loop().create_future()
        future.set_result(None)
        return future


def test_the_page_socket_writes_only_in_order_with_bokeh():
    async def check():
        handler = SimpleNamespace(ws_connection=FakeProtocol(), write_lock=Lock())
        socket, doc = frame_socket.PageSocket.__new__(frame_socket.PageSocket), Document()
        socket._handler = lambda: handler
        assert socket.send(b"one", doc)
        async with handler.write_lock:  # a Bokeh message is being written
            assert not socket.send(b"two", doc)
        assert socket.send(b"three", doc)
        handler.ws_connection.closing = True
        assert not socket.send(b"four", doc)
        return handler.ws_connection.written

    assert asyncio.run(check()) == [(b"one", True), (b"three", True)]


class PageHandler:
    """A websocket handler whose connection serves ``doc``'s session."""

    def __init__(self, doc):
        session = SimpleNamespace(document=doc)
        self.connection = SimpleNamespace(_session=session, session=session)
        self.ws_connection, self.write_lock = FakeProtocol(), Lock()


def test_ready_and_drawn_reach_the_pages_own_channel_only():
    channel, root, source, rng, events = on_a_page()
    heard = []
    channel.on_drawn(heard.append)
    stranger = PageHandler(Document())
    frame_socket._heard(stranger, frame_socket.READY + channel.token)  # another session's page
    frame_socket._heard(stranger, frame_socket.DRAWN + "9")
    assert channel.page_socket is None and heard == []
    own = PageHandler(channel.document)
    frame_socket._heard(own, frame_socket.READY + "not-the-token")
    assert channel.page_socket is None
    frame_socket._heard(own, frame_socket.READY + channel.token)
    assert channel.page_socket is not None
    frame_socket._heard(own, frame_socket.DRAWN + "9")
    for bad in ("", "-1", "1e3", "9" * 5000, "<b>"):  # ignored, not an error
        frame_socket._heard(own, frame_socket.DRAWN + bad)
    assert heard == [9]


def test_a_second_connection_to_the_session_cannot_take_the_frames_of_the_page():
    channel, root, source, rng, events = on_a_page()
    heard = []
    channel.on_drawn(heard.append)
    own, second = PageHandler(channel.document), PageHandler(channel.document)
    frame_socket._heard(own, frame_socket.READY + channel.token)
    frame_socket._heard(second, frame_socket.READY + channel.token)  # the same session, another socket
    assert channel.page_socket._handler() is own
    frame_socket._heard(second, frame_socket.DRAWN + "5")  # forged acknowledgements are not heard
    assert heard == []
    own.ws_connection.closing = True  # the page's socket closed: its reconnection may take over
    frame_socket._heard(second, frame_socket.READY + channel.token)
    assert channel.page_socket._handler() is second


def test_other_messages_are_not_frame_messages():
    assert frame_socket.decode(b"\x00" * 64) is None
    assert frame_socket.decode(b"nnpFr") is None


def test_a_frame_after_an_unsent_bokeh_change_goes_after_it():
    """Reset clears a chart (a Bokeh change, sent when the callback ends) and shows the first
    frame in the same callback: that frame must not overtake the clearing."""
    async def check():
        channel, root, source, rng, events = on_a_page()
        handler = SimpleNamespace(ws_connection=FakeProtocol(), write_lock=Lock())
        channel.page_socket = frame_socket.PageSocket.__new__(frame_socket.PageSocket)
        channel.page_socket._handler = lambda: handler
        doc = channel.document
        doc.hold("collect")  # as pn.io.unlocked does around a frame
        source.data = {name: [] for name in source.data}  # the clearing: held until the callback ends
        with channel.batch(1):
            channel.stream(source, dict(x=[1.0], y=[2.0], color=["a"], image=[np.zeros((2, 2), np.uint8)]))
        doc.unhold()
        with channel.batch(2):  # nothing waits now: a frame message
            channel.set(rng, start=0.5)
        return events, handler.ws_connection.written

    events, written = asyncio.run(check())
    assert [(type(e).__name__, getattr(getattr(e, "new", None), "frame", None)) for e in events] == [
        ("ColumnDataChangedEvent", None), ("ModelChangedEvent", 1)]
    assert [frame_socket.decode(message)[0]["frame"] for message, binary in written] == [2]
