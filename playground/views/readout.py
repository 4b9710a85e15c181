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

    _priority_changes = ["drawn"]  # Panel waits 50 ms before handling a browser change; not this one

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
        updates the parameters without triggering that path again.
        """
        with param.parameterized.discard_events(self):
            self.param.update(**values)
        for model, _ in self._models.values():
            model.data.update(**values)
