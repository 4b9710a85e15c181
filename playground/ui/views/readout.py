"""A text readout that changes every frame without re-laying-out the page.

A Bokeh ``Div`` re-renders and recomputes the layout of the whole page on every change
(even of its tags), which costs a busy page more than all its plots together. This
readout sets its HTML in place: its box has a fixed size, so nothing else moves.

Its script also carries :data:`~playground.bokeh_compat.browser.BOKEH_SPEEDUPS_JS`: every page
with live figures has the epoch readout.
"""
from __future__ import annotations

import param
from panel.custom import JSComponent

from playground.bokeh_compat import panel_state
from playground.bokeh_compat.browser import BOKEH_SPEEDUPS_JS
from playground.transport.frame_channel import DIRECT


class Readout(JSComponent):
    """Fixed-size text; ``html`` is markup we compose (escape user text before)."""

    html = param.String(default="", doc="the readout's content, as HTML")

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    @property
    def _linked_properties(self) -> tuple[str, ...]:
        # Panel listens to its models for changes from the browser; the browser never
        # changes ``html`` (and ``set`` writes it to the models directly: Panel would hear
        # that as a change from the browser, and process it).
        return tuple(name for name in super()._linked_properties if name != "html")

    _esm = BOKEH_SPEEDUPS_JS + """
    export function render({ model, el }) {
      const box = document.createElement('div');
      box.className = 'readout';
      box.innerHTML = model.html;
      model.on('html', () => { box.innerHTML = model.html; });
      el.appendChild(box);
    }
    """

    def set(self, html: str) -> None:
        """Change ``html`` every frame, cheaply.

        Panel's generic path for a parameter change costs about a millisecond of server
        time here (theme lookups, change diffs); this sets the text on the page's models
        through the writer and stores it as the parameter's value without any of param's
        machinery (its instance values dict, param 2.x: ``param.update`` took 0.4 ms a
        readout, even with events discarded). An unchanged text is not sent.
        """
        stored = panel_state.stored_values(self)
        if stored is not None and "html" in stored:
            if stored["html"] == html:
                return
            stored["html"] = html
        else:  # another param version, or the first change: the public, slower way
            if self.html == html:
                return
            with param.parameterized.discard_events(self):
                self.param.update(html=html)
        for model in panel_state.rendered_models(self):
            self.writer.set(panel_state.component_data(model), html=html)
