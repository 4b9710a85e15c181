"""A text readout that changes every frame without re-laying-out the page.

A Bokeh ``Div`` re-renders and recomputes the layout of the whole page on every change
(even of its tags), which costs a busy page more than all its plots together. This
readout sets its HTML in place: its box has a fixed size, so nothing else moves.

Its script also carries :data:`~playground.views.charts.BOKEH_SPEEDUPS_JS`: every page
with live figures has the epoch readout. It also paces the frames: the server numbers each frame it sends (``frame``), and the
browser echoes the number back (``drawn``) once it has painted that frame.
"""
from __future__ import annotations

import param
from panel.custom import JSComponent

from .charts import BOKEH_SPEEDUPS_JS


class Readout(JSComponent):
    """Fixed-size text; ``html`` is markup we compose (escape user text before)."""

    html = param.String(default="", doc="the readout's content, as HTML")
    frame = param.Integer(default=0, doc="number of the last frame the server sent")
    drawn = param.Integer(default=0, doc="number of the last frame the browser painted")

    def __init__(self, **params):
        super().__init__(**params)
        self._drawn_callbacks = []

    def on_drawn(self, callback) -> None:
        """Call ``callback(number)`` when the browser reports that it painted frame ``number``.

        Heard from the page's Bokeh model directly; the ``drawn`` parameter itself is not
        updated: Panel's path for a change from the browser (scheduling, busy-state
        bookkeeping, parameter watchers) cost ~5 ms of server time a frame.
        """
        self._drawn_callbacks.append(callback)

    @property
    def _linked_properties(self) -> tuple[str, ...]:
        # Panel listens to its models for changes from the browser; the browser changes none
        # of these three (and ``set`` writes html and frame to the models directly: Panel
        # would hear those as changes from the browser, and process each).
        return tuple(name for name in super()._linked_properties if name not in ("html", "frame", "drawn"))

    def _get_model(self, doc, root=None, parent=None, comm=None):
        model = super()._get_model(doc, root, parent, comm)
        model.data.on_change("drawn", self._heard_drawn)
        return model

    def _heard_drawn(self, attr, old, new) -> None:
        for callback in self._drawn_callbacks:
            callback(int(new))

    _esm = BOKEH_SPEEDUPS_JS + """
    export function render({ model, el }) {
      const box = document.createElement('div');
      box.className = 'readout';
      box.innerHTML = model.html;
      model.on('html', () => { box.innerHTML = model.html; });
      model.on('frame', () => {
        const frame = model.frame;
        requestAnimationFrame(() => { model.drawn = frame; });
      });
      el.appendChild(box);
    }
    """

    def set(self, **values) -> None:
        """Change ``html`` and/or ``frame`` every frame, cheaply.

        Panel's generic path for a parameter change costs about a millisecond of server
        time here (theme lookups, change diffs); this sets the values on the page's models
        directly (Panel keeps them in ``_models``; the JavaScript side reads ``data``) and
        stores them as the parameters' values without any of param's machinery (its
        instance values dict, param 2.x: ``param.update`` took 0.4 ms a readout, even
        with events discarded).
        """
        stored = getattr(getattr(self, "_param__private", None), "values", None)
        if isinstance(stored, dict) and values.keys() <= stored.keys():
            values = {name: value for name, value in values.items() if stored[name] != value}
            if not values:
                return  # nothing new: nothing sent
            stored.update(values)
        else:  # another param version: the public, slower way
            with param.parameterized.discard_events(self):
                self.param.update(**values)
        for model, _ in self._models.values():
            model.data.update(**values)
