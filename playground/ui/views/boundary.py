"""The decision boundary: the network's output over the plane, with the data on top."""
from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, LinearColorMapper

from playground.core.session import Frame, Session
from playground.ui.views.charts import live_figure
from playground.transport.frame_channel import DIRECT
from playground.ui.views.colors import DEFAULT_PALETTE, LEVELS, class_palette, diverging_palette, point_colors, to_levels

BACKGROUND = diverging_palette(lightness=0.45)  # the heatmap, lighter than the points
PNG_FILENAME = "decision-boundary.png"
# Saves the figure as the browser drew it (heatmap, points, axes), as Bokeh's SaveTool does:
# no server-side export, no browser driver.
SAVE_PNG_JS = """
const view = Bokeh.index.find_one(figure);
if (view == null) { return; }
view.export('png').to_blob().then((blob) => {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
});
"""
POINT_SIZE = 6  # pixels


class BoundaryView(pn.viewable.Viewer):
    """Heatmap of the network's output (uint8 image) with train and test points.

    Train points are filled with a white outline; test points have a dark outline.
    ``discretize`` shows only the predicted class (or the sign for regression).
    """

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    show_test = param.Boolean(default=False, doc="Show test data")
    discretize = param.Boolean(default=False, doc="Discretize output")

    def __init__(self, **params):
        super().__init__(**params)
        self.image_source = ColumnDataSource(dict(image=[np.zeros((2, 2), np.uint8)], x=[-6.0], y=[-6.0],
                                                  dw=[12.0], dh=[12.0]), name="boundary_source")
        self.train_source = ColumnDataSource(dict(x=[], y=[], color=[], label=[], size=[], outline=[]),
                                             name="train_points")
        self.highlight_source = ColumnDataSource(dict(x=[], y=[]), name="highlighted_point")
        self.test_source = ColumnDataSource(dict(x=[], y=[], color=[], label=[]), name="test_points")
        self.mapper = LinearColorMapper(palette=BACKGROUND, low=0, high=LEVELS - 1)
        self.figure = live_figure(width=330, height=330, sizing_mode="scale_width", x_range=(-6, 6), y_range=(-6, 6), name="boundary_figure",
                                  css_classes=["boundary-figure"])
        self.figure.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image_source,
                          color_mapper=self.mapper)
        self.train_renderer = self.figure.scatter("x", "y", source=self.train_source, fill_color="color",
                                                  line_color="outline", size="size", line_width=1)
        self.figure.scatter("x", "y", source=self.highlight_source, marker="circle", size=18, fill_alpha=0,
                            line_color="#111111", line_width=2.5)
        self.test_renderer = self.figure.scatter("x", "y", source=self.test_source, fill_color="color",
                                                 line_color="black", size=6, line_width=1.2)
        self.test_renderer.visible = self.show_test
        self.figure.grid.visible = False
        self._session: Session | None = None
        self._last_boundary = None
        self.palette = DEFAULT_PALETTE  # see set_palette
        self.save_png = pn.widgets.Button(label="PNG", width=56, height=28, margin=(2, 5),
                                          description="Download this picture as a PNG image")
        self.save_png.js_on_click(args={"figure": self.figure, "filename": PNG_FILENAME}, code=SAVE_PNG_JS)
        self._controls = pn.Row(
            pn.widgets.Checkbox.from_param(self.param.show_test, label="Show test data"),
            pn.widgets.Checkbox.from_param(self.param.discretize, label="Discretize output"), self.save_png)
        self._layout = pn.Column(pn.pane.Bokeh(self.figure, sizing_mode="scale_width"), self._controls,
                                 sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    @param.depends("show_test", watch=True)
    def _toggle_test(self):
        self.test_renderer.visible = self.show_test

    @param.depends("discretize", watch=True)
    def _redraw(self):
        if self._last_boundary is not None:
            self.update(self._last_boundary)

    def set_session(self, session: Session) -> None:
        """New data or network: redraw the points, axes and colour scale."""
        self._session = session
        x0, x1, y0, y1 = session.extent
        self.figure.x_range.update(start=x0, end=x1)
        self.figure.y_range.update(start=y0, end=y1)
        data = session.data
        k = session.n_classes
        self.mapper.update(palette=self._background(k))
        for source, mask in ((self.train_source, data.is_train), (self.test_source, ~data.is_train)):
            columns = dict(x=data.points[mask, 0], y=data.points[mask, 1],
                           color=self._point_colors(data.labels[mask], k), label=data.labels[mask])
            if source is self.train_source:  # see set_point_style
                columns.update(size=[POINT_SIZE] * int(mask.sum()), outline=["white"] * int(mask.sum()))
            source.data = columns
        self.highlight_source.data = dict(x=[], y=[])
        self._last_boundary = None

    def set_point_style(self, sizes=None, outlines=None) -> None:
        """Per training point (rows of ``train_points``): ``sizes`` in pixels and ``outlines``
        (colours); None puts back the usual size or white outline."""
        n = len(self.train_source.data["x"])
        sizes = [POINT_SIZE] * n if sizes is None else [float(s) for s in sizes]
        outlines = ["white"] * n if outlines is None else list(outlines)
        self.train_source.patch({"size": [(slice(0, n), sizes)], "outline": [(slice(0, n), outlines)]})

    def highlight_point(self, index: int | None) -> None:
        """Ring training point ``index`` (a row of ``train_points``); None removes the ring."""
        data = self.train_source.data
        if index is None or not 0 <= index < len(data["x"]):
            self.highlight_source.data = dict(x=[], y=[])
        else:
            self.highlight_source.data = dict(x=[data["x"][index]], y=[data["y"][index]])

    def on_point_tap(self, callback, reach_px: float = 8.0) -> None:
        """Call ``callback(index)`` when a training point is clicked: the one nearest the
        click, within ``reach_px`` pixels (``index``: its row of ``train_points``, which is
        its row of ``Session.X_train``)."""

        def tapped(event):
            data = self.train_source.data
            if not len(data["x"]):
                return
            scale_x = (self.figure.x_range.end - self.figure.x_range.start) / self.figure.width
            scale_y = (self.figure.y_range.end - self.figure.y_range.start) / self.figure.height
            dx = (np.asarray(data["x"], float) - event.x) / scale_x  # pixels, about
            dy = (np.asarray(data["y"], float) - event.y) / scale_y
            distance = np.hypot(dx, dy)
            nearest = int(np.argmin(distance))
            if distance[nearest] <= reach_px:
                callback(nearest)

        self.figure.on_event(Tap, tapped)

    def _point_colors(self, labels, n_classes):
        return point_colors(labels, n_classes, self.palette)

    def _background(self, n_classes: int) -> list[str]:
        """The heatmap's palette: one band per class for 3 or more, else the diverging scale."""
        if n_classes >= 3:
            bands = class_palette(n_classes, self.palette)
            return [c for c in bands for _ in range(LEVELS // n_classes + 1)][:LEVELS]
        return diverging_palette(lightness=0.45, name=self.palette)

    def set_palette(self, name: str) -> None:
        """Recolour the heatmap and the points with palette ``name`` (see colors.PALETTES)."""
        self.palette = name
        if self._session is None:
            return
        k, data = self._session.n_classes, self._session.data
        self.mapper.update(palette=self._background(k))
        for source, mask in ((self.train_source, data.is_train), (self.test_source, ~data.is_train)):
            colors = self._point_colors(data.labels[mask], k)
            source.patch({"color": [(slice(0, len(colors)), colors)]})

    def image_levels(self, boundary: np.ndarray) -> np.ndarray:
        """The boundary as palette indexes, ``(GRID_SIZE, GRID_SIZE)`` uint8."""
        k = self._session.n_classes if self._session else 2
        if k >= 3:  # class numbers -> the middle of that class's band of the palette
            return to_levels((boundary + 0.5) / k, 0.0, 1.0)
        if k == 2:
            values = np.round(boundary) if self.discretize else boundary
            return to_levels(values, 0.0, 1.0)
        values = np.sign(boundary) if self.discretize else boundary
        return to_levels(values, -1.0, 1.0)

    def update(self, boundary: np.ndarray) -> None:
        """Show a new boundary (see :meth:`Session.boundary`)."""
        self._last_boundary = boundary
        x0, x1, y0, y1 = self._session.extent if self._session else (-6, 6, -6, 6)
        # One patch of the single image row: the figure and the other columns stay put.
        self.writer.data(self.image_source, image=[self.image_levels(boundary)], x=[x0], y=[y0],
                         dw=[x1 - x0], dh=[y1 - y0])

    def show(self, frame: Frame) -> None:
        if frame.boundary is not None:
            self.update(frame.boundary)
