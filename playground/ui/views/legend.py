"""The colour legends: one rule for the whole app, said under the diagram and the output.

The rule (views/colors.py): the palette's positive end (blue, or purple in the colour-blind
palette) means a positive number and its negative end (orange) a negative one, for data
(class 1 and class 0, a regression target), neuron outputs, weights, gradients and updates
alike; white is zero. With three or more classes each class has its own colour instead.
Each legend is a bar from −1 to +1 in the palette's colours and one line of words, and
follows the palette and the session (how many classes).
"""
from __future__ import annotations

import panel as pn

from playground.ui.views.colors import DEFAULT_PALETTE, _hex, class_colors, palette

LEGEND_CSS = """
:host { font-size: 12px; color: var(--pg-muted, #555); line-height: 1.35; }
.pg-legend { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.bar { display: inline-block; width: 90px; height: 10px; border: 1px solid #bbb; border-radius: 2px; }
.ends { font-family: monospace; font-size: 11px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin: 0 2px 0 6px; }
"""


def bar_html(name: str = DEFAULT_PALETTE) -> str:
    """The −1 … +1 bar in palette ``name``'s colours."""
    p = palette(name)
    gradient = f"linear-gradient(to right, {_hex(p.negative)}, {_hex(p.neutral)}, {_hex(p.positive)})"
    return f"<span class='ends'>−1</span><span class='bar' style='background: {gradient}'></span><span class='ends'>+1</span>"


def network_words(name: str = DEFAULT_PALETTE) -> str:
    negative, positive = palette(name).names
    return (f"{positive.capitalize()} is positive, {negative} negative, for every picture here: a line's "
            f"colour is its weight's sign (its gradient's, with Show gradients) and its width the size; a "
            f"square shows what that neuron outputs at each point of the plane.")


def output_words(n_classes: int, name: str = DEFAULT_PALETTE) -> str:
    negative, positive = palette(name).names
    if n_classes >= 3:
        swatches = "".join(f"<span class='swatch' style='background:{color}'></span>class {k}"
                           for k, color in enumerate(class_colors(name)[:n_classes]))
        return f"Each class has its colour: {swatches}. The background is the class the network picks there."
    if n_classes == 0:
        return (f"{positive.capitalize()} is a high value (+1), {negative} a low one (−1): the points are the "
                f"targets, the background the network's output.")
    return (f"{positive.capitalize()}: class 1, {negative}: class 0. The background is the network's "
            f"answer there, paler where it is unsure.")


class ColourLegend(pn.viewable.Viewer):
    """One legend: ``kind`` ``"network"`` (weights, gradients, neuron outputs) or ``"output"``
    (the data and the decision regions)."""

    def __init__(self, kind: str, n_classes: int = 2, **params):
        super().__init__(**params)
        self.kind, self.n_classes, self.palette = kind, n_classes, DEFAULT_PALETTE
        self.pane = pn.pane.HTML("", stylesheets=[LEGEND_CSS], css_classes=["pg-colour-legend", f"legend-{kind}"],
                                 margin=(2, 5), sizing_mode="stretch_width")
        self._render()

    def __panel__(self):
        return self.pane

    def set_palette(self, name: str) -> None:
        self.palette = name
        self._render()

    def set_session(self, session) -> None:
        if session.n_classes != self.n_classes:
            self.n_classes = session.n_classes
            self._render()

    def _render(self) -> None:
        if self.kind == "output" and self.n_classes >= 3:
            picture = ""
        else:
            picture = bar_html(self.palette)
        words = network_words(self.palette) if self.kind == "network" else output_words(self.n_classes, self.palette)
        self.pane.object = f"<div class='pg-legend'><span>{picture}</span><span class='words'>{words}</span></div>"
