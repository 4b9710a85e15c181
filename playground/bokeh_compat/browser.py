"""BokehJS internals changed on the page, by a script that the epoch readout carries (so it
runs wherever the playground is shown).

Two per-redraw costs sit inside BokehJS's own drawing code, and :data:`BOKEH_SPEEDUPS_JS`
removes them. Both are ``getComputedStyle`` calls that force the browser to recompute styles
many times per frame, together about half of a busy page's time in Chromium:

- every visual property (colour, width, font...) of every glyph, axis and label looks up
  a CSS custom property (``--bk-text-color``...) that could override it. Nothing here
  styles plots through CSS, so the lookup answers "not set" at once;
- every text label asks its plot for the plot's CSS font size. It is read once per plot
  and kept.

The script reaches BokehJS's modules ``core/visuals/visual`` (``VisualProperties
._get_css_value``) and ``models/plots/plot_canvas`` (``PlotView.base_font_size``), and does
nothing where they are missing.
"""
from __future__ import annotations

VERIFIED_ON = "bokeh 3.9.2 (BokehJS)"

BOKEH_SPEEDUPS_JS = """
(() => {
  const require = window.Bokeh && Bokeh.require;
  if (!require) return;
  const visual = require('core/visuals/visual').VisualProperties.prototype;
  if (visual._pg_fast) return;
  visual._pg_fast = true;
  visual._get_css_value = function () { return ''; };
  const plot = require('models/plots/plot_canvas').PlotView.prototype;
  const font = Object.getOwnPropertyDescriptor(plot, 'base_font_size');
  if (font && font.get) {
    Object.defineProperty(plot, 'base_font_size', {
      configurable: true,
      get() {
        if (this._pg_font_size == null) this._pg_font_size = font.get.call(this);
        return this._pg_font_size;
      },
    });
  }
})();
"""


def install() -> bool:
    """Nothing to patch on the server: True (the script checks BokehJS itself, on the page)."""
    return True
