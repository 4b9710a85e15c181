"""Bokeh messages built with lazy model references equal those built without."""
import json
import re

import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div, Range1d
from bokeh.plotting import figure
from bokeh.protocol import Protocol

from playground import lazy_refs


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
    lazy_refs.uninstall()
    expected = patch_message(CHANGES[name])
    try:
        assert lazy_refs.install()
        got = patch_message(CHANGES[name])
    finally:
        lazy_refs.uninstall()
    assert got == expected
    assert ('"id"' in expected[0]) and len(expected[0]) > 40
