"""Changes made to the server's copy of Bokeh models without a Bokeh event.

The frame channel (playground/transport/frame_channel.py) sends a frame's changes itself, so
the server's models must take them without Bokeh's machinery (validation, change events,
callbacks): a property goes straight into ``HasProps._property_values`` (what the property
descriptors read back), a column past ``PropertyValueColumnData``'s change-notifying
``__setitem__``. Both are Bokeh internals; ``check()`` says whether they are still shaped so.
"""
from __future__ import annotations

import numpy as np
from bokeh.model import Model

VERIFIED_ON = "bokeh 3.9.2"


def install() -> bool:
    """Nothing to patch: True if :class:`quietly`'s writes still read back through Bokeh's
    properties on this Bokeh (checked on a throw-away source)."""
    from bokeh.models import ColumnDataSource

    source = ColumnDataSource(data={"x": [0]})
    try:
        quietly.set(source, {"name": "probe"})
        quietly.data(source, {"x": [1]})
    except (AttributeError, TypeError):
        return False
    return source.name == "probe" and list(source.data["x"]) == [1]


class quietly:
    """The same changes, made to the server's copy of the models only: no Bokeh event, no
    validation. Columns are replaced, never changed in place (a Bokeh event still waiting to
    be sent may hold the old one)."""

    @staticmethod
    def set(model: Model, properties: dict) -> None:
        model._property_values.update(properties)  # what HasProps' descriptors read back

    @staticmethod
    def data(source, columns: dict) -> None:
        for name, column in columns.items():
            dict.__setitem__(source.data, name, column)  # past the change-notifying wrapper

    @staticmethod
    def stream(source, rows: dict, rollover: int | None) -> None:
        for name, new in rows.items():
            old = source.data[name]
            if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
                column = np.concatenate([np.asarray(old), np.asarray(new)])
            else:
                column = list(old) + list(new)
            dict.__setitem__(source.data, name, column[-rollover:] if rollover else column)

    @staticmethod
    def patch(source, patches: dict) -> None:
        for name, changes in patches.items():
            old = source.data[name]
            column = old.copy() if isinstance(old, np.ndarray) else list(old)
            for index, value in changes:
                if not isinstance(index, (int, np.integer, slice)):
                    raise TypeError(f"patch index {index!r}: only an int or a slice is supported here")
                column[index] = value
            dict.__setitem__(source.data, name, column)
