"""The frame channel: a frame's changes leave as one Bokeh event, and leave the server's
models exactly as Bokeh's own changes would (the page side is in tests/ui)."""
import numpy as np
import pytest
from bokeh.document import Document
from bokeh.document.events import ModelChangedEvent
from bokeh.models import ColumnDataSource, Range1d

from playground.transport.frame_channel import DIRECT, FrameChannel


def models():
    source = ColumnDataSource(dict(x=[1.0, 2.0, 3.0], y=np.array([4.0, 5.0, 6.0]), color=["a", "b", "c"],
                                   image=[np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8), np.eye(2, dtype=np.uint8)]))
    return source, Range1d(0, 1)


CHANGES = {
    "set": lambda w, source, rng: w.set(rng, start=-1.5, end=2.5),
    "data": lambda w, source, rng: w.data(source, x=[7.0, 8.0, 9.0], y=np.array([1.0, 1.0, 2.0])),
    "stream": lambda w, source, rng: w.stream(source, dict(x=[10.0], y=np.array([11.0]), color=["d"],
                                                           image=[np.full((2, 2), 7, np.uint8)])),
    "stream with rollover": lambda w, source, rng: w.stream(source, dict(x=[10.0, 11.0], y=[12.0, 13.0],
                                                                         color=["d", "e"],
                                                                         image=[np.eye(2, dtype=np.uint8)] * 2), 3),
    "patch": lambda w, source, rng: w.patch(source, {"x": [(0, 5.0), (slice(1, 3), np.array([6.0, 7.0]))],
                                                     "color": [(slice(0, 2), ["p", "q"])],
                                                     "image": [(slice(0, 2), [np.full((2, 2), 3, np.uint8)] * 2)]}),
}


def state(source, rng):
    return ({name: [np.asarray(v).tolist() for v in column] if name == "image" else np.asarray(column).tolist()
             for name, column in source.data.items()}, rng.start, rng.end)


@pytest.mark.parametrize("name", CHANGES)
def test_quiet_changes_leave_the_server_models_as_bokehs_own(name):
    expected_models = models()
    CHANGES[name](DIRECT, *expected_models)
    channel, got_models = FrameChannel(), models()
    with channel.batch(1):
        CHANGES[name](channel, *got_models)
    assert state(*got_models) == state(*expected_models)
    assert state(*expected_models) != state(*models())  # the change changed something


def on_a_page():
    """A channel and a source in one document, with the document's change events recorded."""
    doc, channel = Document(), FrameChannel(name="frame_channel")
    root = channel.get_root(doc)
    source, rng = models()
    doc.add_root(root)
    doc.add_root(ColumnDataSource(name="holder", data=dict(x=[])))
    doc.add_root(source)
    doc.add_root(rng)
    events = []
    doc.on_change(events.append)
    return channel, root, source, rng, events


def test_a_frame_is_one_event_with_its_numbers_packed():
    channel, root, source, rng, events = on_a_page()
    image = np.arange(4, dtype=np.uint8).reshape(2, 2)
    with channel.batch(7):
        channel.set(rng, start=2.0)
        channel.stream(source, dict(x=[4.0], y=np.array([0.25]), color=["d"], image=[image]))
        channel.patch(source, {"x": [(slice(0, 2), np.array([9.0, 8.0]))]})
    assert len(events) == 1
    [event] = events
    assert isinstance(event, ModelChangedEvent) and event.model is root.data and event.attr == "changes"
    changes = event.new
    assert changes.frame == 7
    assert [op[:2] for op in changes.ops] == [[rng.id, "set"], [source.id, "stream"], [source.id, "patch"]]

    def unpack(marker):
        offset, dtype, shape = marker["array"]
        count = int(np.prod(shape))
        return np.frombuffer(changes.arrays, dtype=dtype, count=count, offset=offset).reshape(shape)

    streamed = changes.ops[1][2]
    assert streamed["x"] == [4.0] and streamed["color"] == ["d"]  # lists go as they are
    np.testing.assert_array_equal(unpack(streamed["y"]), [0.25])
    np.testing.assert_array_equal(unpack(streamed["image"][0]), image)
    [(where, patched)] = changes.ops[2][2]["x"]
    assert where == slice(0, 2)
    np.testing.assert_array_equal(unpack(patched), [9.0, 8.0])
    assert all(marker["array"][0] % 8 == 0 for marker in (streamed["y"], streamed["image"][0], patched))


def test_outside_a_frame_changes_are_bokehs_own_events():
    channel, root, source, rng, events = on_a_page()
    channel.stream(source, dict(x=[4.0], y=[1.0], color=["d"], image=[np.zeros((2, 2), np.uint8)]))
    channel.set(rng, end=3.0)
    assert [type(event).__name__ for event in events] == ["ColumnsStreamedEvent", "ModelChangedEvent"]
    assert source.data["x"][-1] == 4.0 and rng.end == 3.0


def test_the_page_reports_drawn_frames():
    channel, root, source, rng, events = on_a_page()
    heard = []
    channel.on_drawn(heard.append)
    root.data.drawn = 3  # as the page's acknowledgement sets it
    assert heard == [3]
