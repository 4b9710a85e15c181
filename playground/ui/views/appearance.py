"""How the page looks: a light or dark theme, and the default or a colour-blind-safe palette.

These are *view* settings, not run settings: they change no number in a run, so they are
not :class:`~playground.core.config.RunConfig` parameters, and the CLI, JSON configs and
exported sessions do not carry them. A link does carry them, next to the run settings and
like ``embed``/``panels`` (``?dataset=xor&theme=dark&colors=colour-blind``), since a course
page that embeds the playground wants its look as much as its setup: playground/ui/link.py
reads and writes them with the rest.

``theme=dark`` is also Panel's own query flag: a page opened with it is built dark from the
start. Switching on a live page re-applies Panel's design to every component of the page
(its stylesheets and the figures' Bokeh theme), sets a class on the page's ``<html>`` for
the page background and our own style sheet (static/playground.css reads CSS variables
that this class sets), and gives the figures whose colours are ours (the loss lines) their
dark variants. Nothing is rebuilt, and training goes on.
"""
from __future__ import annotations

import panel as pn
import param
from panel.custom import JSComponent

from playground.bokeh_compat import panel_state
from playground.ui.views.colors import DEFAULT_PALETTE, PALETTES

THEMES = {"Light": "light", "Dark": "dark"}
PALETTE_LABELS = {"Default": DEFAULT_PALETTE, "Colour-blind safe": "colour-blind"}
PANEL_THEME = {"light": "default", "dark": "dark"}  # Panel's names
# The page outside Panel's components, in the dark theme (inside them Panel's dark design
# applies). Our style sheet reads these variables, with the light values as fallbacks.
PAGE_CSS = """
html.pg-dark, html.pg-dark body { background-color: #212529; color: #f8f9fa; color-scheme: dark; }
html.pg-dark {
  --pg-header-bg: #2b3035; --pg-header-border: #3a3f44; --pg-text: #f8f9fa; --pg-muted: #adb5bd;
  --pg-heading: #ced4da; --pg-error: #ff8a8a; --pg-link: #8ab4f8; --pg-kbd-bg: #343a40;
}
"""


class PageTheme(JSComponent):
    """Invisible: keeps the page's ``<html>`` class ``pg-dark`` in step with ``theme``."""

    theme = param.Selector(default="light", objects=list(THEMES.values()))

    _esm = """
    const CSS = %s;
    export function render({ model }) {
      if (!document.getElementById('pg-page-theme')) {
        const style = document.createElement('style');
        style.id = 'pg-page-theme';
        style.textContent = CSS;
        document.head.appendChild(style);
      }
      const apply = () => document.documentElement.classList.toggle('pg-dark', model.theme === 'dark');
      apply();
      model.on('theme', apply);
      return document.createElement('span');
    }
    """ % repr(PAGE_CSS).replace("\\n", " ")


class Appearance(pn.viewable.Viewer):
    """The theme and palette selects, and what they change on a playground's views."""

    theme = param.Selector(default="light", objects=list(THEMES.values()), doc="light or dark page")
    colors = param.Selector(default=DEFAULT_PALETTE, objects=list(PALETTES), doc="palette of classes and outputs")

    def __init__(self, **params):
        super().__init__(**params)
        self._playground = None
        self.theme_select = pn.widgets.Select.from_param(self.param.theme, name="Theme", options=THEMES, width=80)
        self.colors_select = pn.widgets.Select.from_param(self.param.colors, name="Colours", options=PALETTE_LABELS,
                                                          width=150, description="Colour-blind safe: orange and purple "
                                                          "of different lightness, Okabe–Ito colours for more classes")
        self.page_theme = PageTheme(theme=self.theme, width=0, height=0, margin=0)
        self._layout = pn.Row(self.theme_select, self.colors_select, self.page_theme, margin=0)

    def __panel__(self):
        return self._layout

    # ------------------------------------------------------------------ applying
    def attach(self, playground) -> None:
        """Colour ``playground``'s views and follow the selects from now on. Call it once its
        views and layout exist (it reads ``boundary``, ``network``, ``data_picker``,
        ``loss_chart``, optional ``upload`` and ``__panel__()``)."""
        self._playground = playground
        if self.colors != DEFAULT_PALETTE:
            self._apply_colors()
        if self.theme != "light":
            self._apply_theme()

    @param.depends("colors", watch=True)
    def _apply_colors(self) -> None:
        pg = self._playground
        if pg is None:
            return
        with pn.io.unlocked():  # several sources patched: one message (see PlayLoop.show)
            for view in (pg.boundary, pg.network, pg.data_picker, getattr(pg, "upload", None),
                         getattr(pg, "network_legend", None), getattr(pg, "output_legend", None)):
                if view is not None:
                    view.set_palette(self.colors)

    @param.depends("theme", watch=True)
    def _apply_theme(self) -> None:
        self.page_theme.theme = self.theme
        pg = self._playground
        if pg is None:
            return
        dark = self.theme == "dark"
        pg.loss_chart.set_theme(dark)
        design = panel_state.native_design(PANEL_THEME[self.theme])
        if pn.state.curdoc is not None:
            pn.config.theme = PANEL_THEME[self.theme]  # per session: components made later follow
            pn.state.curdoc.theme = design.theme.bokeh_theme  # the figures (also before the first render)
        panel_state.apply_design(pg.__panel__(), design)
