"""Figures that are redrawn every frame, kept cheap for the browser.

Every text element of a Bokeh figure (tick labels, a title, legend entries) costs the
browser one to three milliseconds per redraw, since Bokeh reads its style from CSS each
time; at 20 frames/s over several figures that is most of the page's budget. So these
figures have no toolbar, no title panel and no legend: titles and legends are HTML next
to them (:func:`legend_html`), drawn once.

Two more per-redraw costs sit inside BokehJS's own drawing code; the page script in
playground/bokeh_compat/browser.py removes them (the readout carries it).
"""
from __future__ import annotations

from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from playground.transport.frame_channel import DIRECT
from playground.ui.views.text import as_text


TICKS = 5  # tick labels per axis, about: each costs the browser a text draw per redraw


def live_figure(**settings):
    """A Bokeh figure for live data: no tools, no title panel, small borders, few ticks."""
    fig = figure(**{"toolbar_location": None, "tools": "", "title_location": None, "min_border": 4, **settings})
    for axis in fig.axis:
        axis.ticker.desired_num_ticks = TICKS
    return fig


def legend_html(entries: list[tuple[str, str]], title: str = "") -> str:
    """A one-line legend: ``entries`` = [(label, css colour)], each shown as a coloured dash."""
    swatch = ("<span style='display:inline-block;width:16px;height:3px;margin:0 3px 3px 6px;"
              "vertical-align:middle;background:{}'></span>")
    items = "".join(f"<span class='legend-item'>{swatch.format(color)}{as_text(label)}</span>"
                    for label, color in entries)
    heading = f"<b>{as_text(title)}</b> " if title else ""
    return f"<div class='chart-legend' style='font-size:12px'>{heading}{items}</div>"


class GrowingSource:
    """A ColumnDataSource that grows by rows and is sometimes emptied.

    The app sends each frame's changes as one message, serialized when the frame is done
    (see ``PlayLoop.show``). A ``stream`` right after ``data`` was replaced would then
    be sent twice: once inside the new ``data`` (which the stream changed in place) and
    once as the stream. So the first rows after :meth:`reset` replace ``data`` again.
    """

    def __init__(self, source: ColumnDataSource, rollover: int):
        self.source = source
        self.rollover = rollover
        self._replaced = False

    def reset(self, columns: dict | None = None) -> None:
        """Empty it (``columns=None``), or start it from ``columns`` (name -> list)."""
        self.source.data = columns if columns is not None else {k: [] for k in self.source.data}
        self._replaced = True

    def append(self, rows: dict, writer=DIRECT) -> None:
        """Add ``rows`` (name -> list, all the same length) at the end, through ``writer``
        (see frame_channel)."""
        if self._replaced:
            writer.data(self.source, **{k: (list(v) + list(rows[k]))[-self.rollover:]
                                        for k, v in self.source.data.items()})
            self._replaced = False
        else:
            writer.stream(self.source, rows, rollover=self.rollover)
