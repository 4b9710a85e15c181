"""Bokeh messages built with lazy model references equal those built without."""
import json
import re

import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div, Range1d
from bokeh.plotting import figure
from bokeh.protocol import Protocol

from playground.bokeh_compat import speedups as bokeh_speedups


def patch_message(change):
    """The PATCH-DOC message (header and ids aside) for ``change(doc, plot, source)`` on a
    fresh document with a plot already synced to the page."""
    doc = Document()
    source = ColumnDataSource(dict(x=[1.0, 2.0], y=[3.0, 4.0]))
    plot = figure(width=200, height=200, x_range=Range1d(0, 1))
    plot.line("x", "y", source=source)
    doc.add_root(plot)
    doc.models.flush_synced()  # as after the page pulled the document
    events = []
    doc.on_change(lambda event: events.append(event))
    change(doc, plot, source)
    message = Protocol().create("PATCH-DOC", events)
    # ids differ between documents: number them in the order they appear
    text = json.dumps(json.loads(message.content_json), sort_keys=True)
    ids = {model.id for model in doc.models}
    order = {}
    for found in re.findall(r'"(p\d+)"', text):
        if found in ids:
            order.setdefault(found, f"model{len(order)}")
    for real, stable in sorted(order.items(), key=lambda item: -len(item[0])):
        text = text.replace(f'"{real}"', f'"{stable}"')
    return text, [len(b.data) for b in message.buffers]


CHANGES = {
    "stream": lambda doc, plot, source: source.stream(dict(x=[5.0], y=[6.0])),
    "patch": lambda doc, plot, source: source.patch({"y": [(0, 9.0)]}),
    "an existing model as a value": lambda doc, plot, source: setattr(plot, "y_range", plot.x_range),
    "a new model": lambda doc, plot, source: setattr(plot, "x_range", Range1d(2, 3)),
    "a new root": lambda doc, plot, source: doc.add_root(Div(text="<b>hello</b>")),
}


@pytest.mark.parametrize("name", CHANGES)
def test_messages_are_the_same_with_lazy_references(name):
    bokeh_speedups.uninstall()
    expected = patch_message(CHANGES[name])
    try:
        assert bokeh_speedups.install()
        got = patch_message(CHANGES[name])
    finally:
        bokeh_speedups.uninstall()
    assert got == expected
    assert ('"id"' in expected[0]) and len(expected[0]) > 40


def synced_document():
    doc = Document()
    source = ColumnDataSource(dict(x=[1.0, 2.0], y=[3.0, 4.0]))
    plot = figure(width=200, height=200, x_range=Range1d(0, 1))
    plot.line("x", "y", source=source)
    doc.add_root(plot)
    doc.models.flush_synced()
    return doc, plot, source


def test_the_synced_models_view_holds_what_bokehs_set_holds():
    doc, plot, source = synced_document()
    doc.add_root(Div(text="new"))  # not synced yet: a new model
    outside = Range1d(5, 6)
    bokeh_speedups.uninstall()
    expected = set(doc.models.synced_references)
    try:
        assert bokeh_speedups.install()
        view = doc.models.synced_references
        assert isinstance(view, bokeh_speedups.SyncedModels)
        assert set(view) == expected and len(view) == len(expected)
        assert all(model in view for model in expected)
        assert not any(model in view for model in doc.models if model not in expected)  # the new Div
        assert outside not in view and "not a model" not in view
    finally:
        bokeh_speedups.uninstall()
    assert len(expected) > 10


def page_patch(doc, plot, source):
    """What a page sends: a changed range end, a changed column, and a range of its own making."""
    return {"events": [
        {"kind": "ModelChanged", "model": {"id": plot.x_range.id}, "attr": "end", "new": 7.5},
        {"kind": "ModelChanged", "model": {"id": source.id}, "attr": "data",
         "new": {"type": "map", "entries": [["x", [9.0]], ["y", [8.0]]]}},
        {"kind": "ModelChanged", "model": {"id": plot.id}, "attr": "y_range",
         "new": {"type": "object", "name": "Range1d", "id": "page-made-range",
                 "attributes": {"start": -2.0, "end": 2.0}}},
    ]}


def applied(doc, plot, source):
    doc.apply_json_patch(page_patch(doc, plot, source), setter="the page")
    return (plot.x_range.end, dict(source.data), plot.y_range.id, plot.y_range.start, plot.y_range.end,
            sorted(model.id for model in doc.models), doc.models.get_by_id("page-made-range") is plot.y_range,
            sorted(model.id for model in doc.models._new_models))


def test_patches_from_the_page_apply_the_same():
    bokeh_speedups.uninstall()
    before = synced_document()
    expected = applied(*before)
    after = synced_document()
    try:
        assert bokeh_speedups.install()
        got = applied(*after)
    finally:
        bokeh_speedups.uninstall()
    stable = lambda result: result[:5] + (len(result[5]), result[6], len(result[7]))  # ids differ per document
    assert stable(got) == stable(expected)
    assert expected[0] == 7.5 and expected[1] == {"x": [9.0], "y": [8.0]} and expected[3:5] == (-2.0, 2.0)
    assert expected[6]  # the page's new range is in the document


def test_a_patch_from_the_page_is_applied_and_needs_no_ok_reply():
    import asyncio

    from bokeh.server.session import ServerSession
    from tornado.ioloop import IOLoop

    class Connection:  # what ServerSession asks of the page's connection
        def ok(self, message):
            return "OK"

    async def handle():
        doc = Document()
        rng = Range1d(0, 1)
        doc.add_root(rng)
        doc.models.flush_synced()
        events = []
        doc.on_change(events.append)
        rng.end = 5.0  # the page's change, as the message it sends
        message = Protocol().create("PATCH-DOC", events)
        rng.end = 1.0
        session = ServerSession("a-session", doc, io_loop=IOLoop.current())
        reply = await session._handle_patch(message, Connection())
        return reply, rng.end

    bokeh_speedups.uninstall()
    assert asyncio.run(handle()) == ("OK", 5.0)
    try:
        assert bokeh_speedups.install()
        assert asyncio.run(handle()) == (None, 5.0)
    finally:
        bokeh_speedups.uninstall()
