"""The descent path on the real network: the training trajectory projected onto its two
principal directions, over contours of the training loss on that plane."""
from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.palettes import Viridis256
from bokeh.plotting import figure
from bokeh.plotting.contour import contour_data

from playground.core.landscape import Landscape
from playground.transport.frame_channel import DIRECT

MAX_TRAJECTORY = 400  # recorded parameter vectors; older ones are thinned out
LEVELS = 12


class LandscapeView(pn.viewable.Viewer):
    """Contours recomputed now and then (in a worker); the path grows every frame."""

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    def __init__(self, **params):
        super().__init__(**params)
        self.trajectory: list[np.ndarray] = []
        self.path = ColumnDataSource(dict(x=[], y=[]), name="landscape_path")
        self.head = ColumnDataSource(dict(x=[], y=[]), name="landscape_head")
        self.figure = figure(width=330, height=280, toolbar_location=None, tools="", name="landscape_figure",
                             x_range=Range1d(-1, 1), y_range=Range1d(-1, 1), min_border=4,
                             title="Descent path on the loss surface")
        self.figure.title.text_font_size = "9pt"
        ramp = np.linspace(0, 1, 3)
        palette = [Viridis256[int(i)] for i in np.linspace(0, 255, LEVELS - 1)]
        self.contours = self.figure.contour(ramp, ramp, np.add.outer(ramp, ramp) / 2, levels=np.linspace(0, 1, LEVELS),
                                            fill_color=palette, line_color="white", line_alpha=0.4,
                                            fill_alpha=0.8)
        self.figure.line("x", "y", source=self.path, color="#d62728", line_width=2)
        self.figure.scatter("x", "y", source=self.head, color="#d62728", size=8, line_color="white")
        self.figure.xaxis.axis_label = "direction 1"
        self.figure.yaxis.axis_label = "direction 2"
        self._plane = None  # (center (P,), directions (2, P)) of the contours shown

    def __panel__(self):
        return pn.pane.Bokeh(self.figure)

    def clear(self) -> None:
        self.trajectory = []
        self._plane = None
        self.path.data = dict(x=[], y=[])
        self.head.data = dict(x=[], y=[])

    def record(self, params: np.ndarray) -> None:
        """Add one point of the trajectory, thinning old points when full."""
        if self.trajectory and np.array_equal(self.trajectory[-1], params):
            return
        self.trajectory.append(np.array(params, dtype=np.float64))
        if len(self.trajectory) > MAX_TRAJECTORY:
            self.trajectory = self.trajectory[:-1:2] + [self.trajectory[-1]]
        if self._plane is not None:  # grow the path on the plane already drawn
            center, directions = self._plane
            x, y = (params - center) @ directions.T
            self.writer.stream(self.path, dict(x=[float(x)], y=[float(y)]))
            self.writer.data(self.head, x=[float(x)], y=[float(y)])

    def show(self, result: Landscape) -> None:
        """Draw new contours and the whole path projected on their plane."""
        self._plane = (result.center, result.directions)
        loss = np.log10(np.maximum(result.loss, 1e-12))
        finite = loss[np.isfinite(loss)]
        if finite.size == 0:
            return
        # always LEVELS levels (log10 of the loss): one fill colour per band, fixed at creation
        low, high = float(finite.min()), float(finite.max())
        levels = np.linspace(low, max(high, low + 1e-6), LEVELS)
        self.contours.set_data(contour_data(result.xs, result.ys, np.nan_to_num(loss, nan=high), levels=levels))
        self.path.data = dict(x=result.path[:, 0], y=result.path[:, 1])
        self.head.data = dict(x=[result.path[-1, 0]], y=[result.path[-1, 1]])
        self.figure.x_range.update(start=result.xs[0], end=result.xs[-1])
        self.figure.y_range.update(start=result.ys[0], end=result.ys[-1])
        self.figure.title.text = f"Descent path (PCA plane, {result.explained:.0%} of variance)"
