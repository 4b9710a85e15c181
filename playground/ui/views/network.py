"""The network diagram: the input features, neurons with thumbnails of their output, and
edges whose colour and width show the weights. Layers and neurons are added and removed
with the +/- buttons on the diagram itself; each hidden layer has its own activation.

Every input feature the data offers (core.data.FEATURES) stands in the first column, as in
the TensorFlow Playground: the ones in use show their picture and feed the network, the
others are greyed out; clicking one uses it or leaves it out (``config.features``).
"""
from __future__ import annotations

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper

from kernels import ACTIVATIONS

from playground.core.config import MAX_HIDDEN_LAYERS, PLAYGROUND_MAX_NEURONS, RunConfig
from playground.core.data import FEATURES
from playground.core.session import Frame, Session
from playground.ui.views.charts import live_figure
from playground.ui.views.colors import LEVELS, diverging_palette, to_levels
from playground.transport.frame_channel import DIRECT

COLUMN_WIDTH = 112  # pixels per layer column
ROW_HEIGHT = 46  # pixels per neuron row
NODE = 30  # thumbnail side in pixels
MAX_ROWS = max(PLAYGROUND_MAX_NEURONS, len(FEATURES))
LABEL_ROOM = 0.4  # layer columns left of the first one, for the features' names
PALETTE = diverging_palette()
OFF_FILL, OFF_TEXT, ON_TEXT = "#e3e6e8", "#8a8f94", "#222222"
# What each input adds, in the words of a hover tooltip.
FEATURE_HELP = {
    "x1": "x1: the point's position left to right",
    "x2": "x2: the point's position bottom to top",
    "x1^2": "x1²: how far the point is from the middle, left or right (either side gives the same); "
            "with x2² it makes circles easy",
    "x2^2": "x2²: how far the point is from the middle, up or down; with x1² it makes circles easy",
    "x1*x2": "x1·x2: positive in the top-right and bottom-left quarters, negative in the others: "
             "what xor needs",
    "sin(x1)": "sin(x1): rises and falls in waves from left to right, for patterns that repeat (spiral)",
    "sin(x2)": "sin(x2): waves from bottom to top",
}
FEATURE_LABELS = {"x1^2": "x1²", "x2^2": "x2²", "x1*x2": "x1·x2"}


GRADIENT_DECADES = 4  # gradient widths span this many powers of ten below the largest


def _edge_style(values: np.ndarray, log_scale: bool = False, palette: list[str] = PALETTE):
    """Colour (sign) and width (magnitude) of each edge; ``values`` flat ``(E,)``.

    Weights scale linearly to the largest; gradients on a log scale over
    ``GRADIENT_DECADES`` decades, since they span orders of magnitude across layers.
    """
    values = np.nan_to_num(values)
    magnitude = np.abs(values)
    top = max(float(magnitude.max()) if len(values) else 0.0, 1e-300)
    if log_scale:
        relative = 1.0 + np.log10(np.maximum(magnitude / top, 1e-300)) / GRADIENT_DECADES
        widths = np.clip(relative * 6.0, 0.3, 6.0)
        colors = [palette[LEVELS - 1] if v > 0 else palette[0] if v < 0 else palette[LEVELS // 2] for v in values]
    else:
        levels = to_levels(np.tanh(values / top), -1.0, 1.0)
        colors = [palette[i] for i in levels]
        widths = np.clip(magnitude / top * 4.0, 0.4, 6.0)
    return colors, widths


class NetworkDiagram(pn.viewable.Viewer):
    """Draws a :class:`Session`'s network and edits ``config.hidden``/``config.activation``."""

    writer = DIRECT  # how a frame's changes reach the page (the playground sets its FrameChannel)

    show_gradients = param.Boolean(default=False, doc="Edges show dL/dw instead of the weights")
    features_locked = param.Boolean(default=False, doc="Inputs cannot be clicked, and the unused ones are not "
                                                       "shown (a link's hide=features)")

    def __init__(self, config: RunConfig, **params):
        super().__init__(**params)
        self.config = config
        self.nodes = ColumnDataSource(dict(image=[], x=[], y=[], dw=[], dh=[], label=[], bias=[], cx=[], cy=[],
                                           gradient=[], ring=[], ring_color=[]), name="neurons_source")
        self.edges = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[], color=[], width=[], weight=[],
                                           gradient=[], label=[]), name="edges_source")
        self.figure = live_figure(height=MAX_ROWS * ROW_HEIGHT, width=3 * COLUMN_WIDTH, min_border=0,
                                  x_range=(-0.5, 2.5), y_range=(-MAX_ROWS + 0.5, 0.5), name="network_figure",
                                  outline_line_color=None, x_axis_location=None, y_axis_location=None,
                                  css_classes=["network-figure"])
        self.figure.grid.visible = False
        # The input features: a box per feature (grey when unused), its name left of it.
        self.feature_boxes = ColumnDataSource(dict(x=[], y=[], fill=[], text_color=[], name=[], label=[], help=[]),
                                              name="feature_source")
        box = dict(width=NODE / COLUMN_WIDTH + 0.06, height=NODE / ROW_HEIGHT + 0.1)
        self._box = box
        feature_renderer = self.figure.rect("x", "y", source=self.feature_boxes, fill_color="fill",
                                            line_color="text_color", line_width=1.5, **box)
        self.figure.text("x", "y", text="label", source=self.feature_boxes, text_color="text_color",
                         x_offset=-(NODE // 2 + 6), text_align="right", text_baseline="middle", text_font_size="12px")
        self.figure.add_tools(HoverTool(renderers=[feature_renderer],
                                        tooltips="<div style='max-width:260px'>@help</div>"))
        self.figure.on_event(Tap, self._tapped)
        edge_renderer = self.figure.segment("x0", "y0", "x1", "y1", source=self.edges, line_color="color",
                                            line_width="width", line_alpha=0.85)
        # In gradient mode each neuron gets a ring: colour = sign, width = |dL/db| (log scale).
        self.rings = self.figure.scatter("cx", "cy", source=self.nodes, marker="square", size=NODE + 8,
                                         fill_alpha=0, line_color="ring_color", line_width="ring", visible=False)
        node_renderer = self.figure.image(image="image", x="x", y="y", dw="dw", dh="dh", source=self.nodes,
                                          color_mapper=LinearColorMapper(palette=PALETTE, low=0, high=LEVELS - 1))
        self.figure.add_tools(HoverTool(renderers=[edge_renderer], line_policy="interp",
                                        tooltips=[("weight", "@weight{0.0000}"), ("dL/dw", "@gradient{0.000e}"),
                                                  ("edge", "@label")]))
        self.figure.add_tools(HoverTool(renderers=[node_renderer],
                                        tooltips=[("neuron", "@label"), ("bias", "@bias{0.0000}"),
                                                  ("dL/db", "@gradient{0.000e}")]))
        # Overlays (the slow step's phases, see set_overlay): edges over the normal ones, and
        # text beside the neurons. Always there, empty when unused: showing them only
        # changes data sources.
        self._edge_renderer = edge_renderer
        self.overlay_edges = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[], color=[], width=[], alpha=[],
                                                   info=[]), name="overlay_edges_source")
        self.overlay_labels = ColumnDataSource(dict(x=[], y=[], text=[], color=[]), name="overlay_labels_source")
        overlay_renderer = self.figure.segment("x0", "y0", "x1", "y1", source=self.overlay_edges, line_color="color",
                                               line_width="width", line_alpha="alpha")
        self.figure.text("x", "y", text="text", source=self.overlay_labels, text_color="color",
                         text_font_size="10px", text_baseline="top", text_align="center",
                         background_fill_color="white", background_fill_alpha=0.85, padding=1)
        self.figure.add_tools(HoverTool(renderers=[overlay_renderer], line_policy="interp",
                                        tooltips="<div style='max-width:380px;font-size:12px'>@info{safe}</div>"))
        self.gradient_toggle = pn.widgets.Checkbox.from_param(self.param.show_gradients, label="Show gradients")
        self.layer_controls = pn.Row(margin=0)
        self.layer_header = pn.Row(margin=0)
        self.pane = pn.pane.Bokeh(self.figure, margin=0)
        self._layout = pn.Column(self.layer_header, self.layer_controls, self.pane, self.gradient_toggle, margin=0)
        self._last = None
        self._sizes: tuple[int, ...] = ()
        self._shape = None  # what the drawn layout was built for (see set_session)
        self._edge_index = None

    def __panel__(self):
        return self._layout

    @property
    def palette(self) -> list[str]:
        """The diverging colours of edges and neuron pictures (see set_palette)."""
        return getattr(self, "_palette", PALETTE)

    def set_palette(self, name: str) -> None:
        """Recolour edges and neuron pictures with palette ``name`` (see colors.PALETTES)."""
        self._palette = diverging_palette(name=name)
        for renderer in self.figure.renderers:
            mapper = getattr(renderer.glyph, "color_mapper", None)
            if mapper is not None:
                mapper.palette = self._palette
        if self._last is not None:
            self.show(*self._last)

    # ------------------------------------------------------------------ editing
    def toggle_feature(self, name: str) -> None:
        """Use input feature ``name``, or leave it out (the others keep FEATURES' order). Leaving
        out the last one is refused by the config's check (see Playground._on_structure_change)."""
        if self.features_locked or name not in FEATURES:
            return
        used = set(self.config.features) ^ {name}
        self.config.features = [f for f in FEATURES if f in used]

    def feature_at(self, x: float, y: float) -> str | None:
        """The input feature whose box holds the point (``x``, ``y``) of the figure (data units)."""
        data = self.feature_boxes.data
        for name, bx, by in zip(data["name"], data["x"], data["y"]):
            if abs(x - bx) <= self._box["width"] / 2 and abs(y - by) <= self._box["height"] / 2:
                return name
        return None

    def _tapped(self, event) -> None:
        name = self.feature_at(event.x, event.y)
        if name is not None:
            self.toggle_feature(name)

    def _set_hidden(self, hidden: list[int], activations: list[str]) -> None:
        self.config.param.update(hidden=hidden, activation=activations)

    def _per_layer_activations(self) -> list[str]:
        return list(self.config.activations_per_layer())

    def add_layer(self, event=None) -> None:
        hidden = list(self.config.hidden)
        if len(hidden) < MAX_HIDDEN_LAYERS:
            acts = self._per_layer_activations()
            self._set_hidden(hidden + [hidden[-1] if hidden else 2], acts + [acts[-1] if acts else "tanh"])

    def remove_layer(self, event=None) -> None:
        hidden = list(self.config.hidden)
        if hidden:
            self._set_hidden(hidden[:-1], self._per_layer_activations()[:-1] or ["tanh"])

    def change_neurons(self, layer: int, delta: int) -> None:
        hidden = list(self.config.hidden)
        size = hidden[layer] + delta
        if 1 <= size <= PLAYGROUND_MAX_NEURONS:
            hidden[layer] = size
            self._set_hidden(hidden, self._per_layer_activations())

    def change_activation(self, layer: int, name: str) -> None:
        acts = self._per_layer_activations()
        acts[layer] = name
        self._set_hidden(list(self.config.hidden), acts)

    def _build_controls(self, session: Session) -> None:
        n_hidden = len(session.spec.layer_sizes) - 2
        plus = pn.widgets.Button(label="+", width=32, margin=(2, 2), description="Add a hidden layer", css_classes=["add-layer"],
                                 disabled=n_hidden >= MAX_HIDDEN_LAYERS)
        minus = pn.widgets.Button(label="−", width=32, margin=(2, 2), description="Remove a hidden layer", css_classes=["remove-layer"],
                                  disabled=n_hidden == 0)
        plus.on_click(self.add_layer)
        minus.on_click(self.remove_layer)
        label = f"{n_hidden} hidden layer{'s' if n_hidden != 1 else ''}"
        self.layer_header.objects = [plus, minus, pn.pane.HTML(f"<b>{label}</b>", margin=(8, 6),
                                                               css_classes=["hidden-layer-count"])]
        columns = [pn.Column(pn.pane.HTML("<b>Inputs</b>", margin=(4, 4, 4, int(LABEL_ROOM * COLUMN_WIDTH) + 20)),
                             width=int((1 + LABEL_ROOM) * COLUMN_WIDTH), margin=0)]
        acts = session.spec.activations
        for layer in range(n_hidden):
            size = session.spec.layer_sizes[layer + 1]
            add = pn.widgets.Button(label="+", width=30, margin=(2, 1),
                                    description=f"Add a neuron to layer {layer + 1}",
                                    css_classes=[f"add-neuron-{layer + 1}"],
                                    disabled=size >= PLAYGROUND_MAX_NEURONS)
            remove = pn.widgets.Button(label="−", width=30, margin=(2, 1),
                                       description=f"Remove a neuron from layer {layer + 1}", disabled=size <= 1,
                                       css_classes=[f"remove-neuron-{layer + 1}"])
            add.on_click(lambda e, l=layer: self.change_neurons(l, +1))
            remove.on_click(lambda e, l=layer: self.change_neurons(l, -1))
            activation = pn.widgets.Select(label=f"Layer {layer + 1} activation", options=list(ACTIVATIONS), value=acts[layer], width=COLUMN_WIDTH - 12,
                                           margin=(2, 4), css_classes=[f"activation-{layer + 1}"])
            activation.param.watch(lambda e, l=layer: self.change_activation(l, e.new), "value")
            columns.append(pn.Column(pn.Row(add, remove, margin=0),
                                     pn.pane.HTML(f"{size} neuron{'s' if size != 1 else ''}", margin=(0, 4)),
                                     activation, width=COLUMN_WIDTH, margin=0))
        columns.append(pn.Column(pn.pane.HTML("<b>Output</b>", margin=(4, 4)), width=COLUMN_WIDTH, margin=0))
        self.layer_controls.objects = columns

    # ------------------------------------------------------------------ overlays
    @property
    def edge_parameter_index(self) -> np.ndarray:
        """Per row of ``edges_source``: the index of its weight in the flat parameter vector."""
        return self._edge_index

    @property
    def node_parameter_index(self) -> np.ndarray:
        """Per row of ``neurons_source``: the index of its bias in the flat parameter vector
        (-1 for the input features)."""
        return self._bias_index

    def set_overlay(self, edges: dict | None = None, labels: dict | None = None) -> None:
        """Draw over the diagram, or, with no arguments, clear what was drawn.

        ``edges``: lists with one entry per row of ``edges_source`` (layer by layer, each
        ``W`` row-major): ``color``, ``width`` (pixels), ``alpha`` and ``info`` (HTML shown
        when the pointer is on the edge). While they are drawn the normal edges are hidden,
        so that one tooltip shows. ``labels``: lists with one entry per row of
        ``neurons_source`` (inputs first): ``text`` (one short line, "" for none) and
        ``color``, written under the neuron. Only data sources change.
        """
        # The labels' source never shrinks (BokehJS 3.9 fails drawing a text glyph whose source
        # shrinks): unused rows hold "" at the first neuron.
        nodes, rows = self.nodes.data, len(self.overlay_labels.data["x"])
        below = NODE / ROW_HEIGHT / 2 + 0.03
        x, y = list(nodes["cx"]), [cy - below for cy in nodes["cy"]]
        text, color = (["" for _ in x], ["#000000" for _ in x]) if labels is None else (list(labels["text"]), list(labels["color"]))
        pad = max(rows - len(x), 0)
        first = (x[0], y[0]) if x else (0.0, 0.0)
        self.overlay_labels.data = dict(x=x + [first[0]] * pad, y=y + [first[1]] * pad, text=text + [""] * pad,
                                        color=color + ["#000000"] * pad)
        if edges is None:
            self.overlay_edges.data = dict(x0=[], y0=[], x1=[], y1=[], color=[], width=[], alpha=[], info=[])
        else:
            geometry = {k: list(self.edges.data[k]) for k in ("x0", "y0", "x1", "y1")}
            self.overlay_edges.data = dict(**geometry, color=list(edges["color"]), width=list(edges["width"]),
                                           alpha=list(edges["alpha"]), info=list(edges["info"]))
        if self._edge_renderer.visible != (edges is None):
            self._edge_renderer.visible = edges is None

    # ------------------------------------------------------------------ drawing
    def set_session(self, session: Session) -> None:
        """A new network: lay out nodes and edges for its shape. The same shape (new
        data, a new seed...) keeps the layout and the controls as they are: rebuilding the
        widgets costs the browser a few hundred milliseconds."""
        if len(self.overlay_edges.data["x0"]) or any(self.overlay_labels.data["text"]):
            self.set_overlay()  # the overlays drew the old network's numbers
        spec = session.spec
        sizes = spec.layer_sizes
        features = tuple(session.config.features)
        shape = (tuple(sizes), tuple(spec.activations), features, session.loss, self.features_locked)
        if shape == self._shape:
            return
        self._shape = shape
        self._sizes = sizes
        n_cols = len(sizes)
        offered = features if self.features_locked else FEATURES
        rows = [list(range(size)) for size in sizes]  # each neuron's row, column by column
        rows[0] = [offered.index(f) for f in features]
        n_rows = max(len(offered), *sizes[1:])
        self.figure.width = int((n_cols + LABEL_ROOM) * COLUMN_WIDTH)
        self.figure.height = n_rows * ROW_HEIGHT
        self._layout.width = self.figure.width  # a fixed width: a column too narrow for it scrolls
        self.figure.x_range.update(start=-0.5 - LABEL_ROOM, end=n_cols - 0.5)
        self.figure.y_range.update(start=-n_rows + 0.5, end=0.5)
        dw, dh = NODE / COLUMN_WIDTH, NODE / ROW_HEIGHT
        self.feature_boxes.data = dict(
            x=[0.0] * len(offered), y=[-float(r) for r in range(len(offered))],
            fill=[("#ffffff" if f in features else OFF_FILL) for f in offered],
            text_color=[(ON_TEXT if f in features else OFF_TEXT) for f in offered], name=list(offered),
            label=[FEATURE_LABELS.get(f, f) for f in offered],
            help=[FEATURE_HELP[f] + ("" if self.features_locked else
                                     (" (in use: click to leave it out)" if f in features else " (click to use it)"))
                  for f in offered])
        names = self._node_names(session)
        xs, ys, labels = [], [], []
        for col, size in enumerate(sizes):
            for i in range(size):
                xs.append(col - dw / 2)
                ys.append(-rows[col][i] - dh / 2)
                labels.append(names[col][i])
        edges = dict(x0=[], y0=[], x1=[], y1=[], label=[])
        for layer in range(spec.n_layers):
            for i in range(sizes[layer]):
                for j in range(sizes[layer + 1]):
                    edges["x0"].append(layer + dw / 2)
                    edges["y0"].append(-rows[layer][i])
                    edges["x1"].append(layer + 1 - dw / 2)
                    edges["y1"].append(-rows[layer + 1][j])
                    edges["label"].append(f"{names[layer][i]} → {names[layer + 1][j]}")
        # Flat parameter indexes of the weights, edge by edge (W[l] is row-major (fan_in, fan_out)).
        layout = spec.layout()
        self._edge_index = np.concatenate([layout.w_offsets[l] + np.arange(sizes[l] * sizes[l + 1])
                                           for l in range(spec.n_layers)])
        self._bias_index = np.concatenate([[-1] * sizes[0]] + [layout.b_offsets[l] + np.arange(sizes[l + 1])
                                                               for l in range(spec.n_layers)]).astype(int)
        n_edges = len(edges["x0"])
        edges.update(color=["#cccccc"] * n_edges, width=[1.0] * n_edges, weight=[0.0] * n_edges,
                     gradient=[float("nan")] * n_edges)
        self.edges.data = edges
        empty = np.zeros((2, 2), np.uint8)
        n = len(xs)
        self.nodes.data = dict(image=[empty] * n, x=xs, y=ys, dw=[dw] * n, dh=[dh] * n, label=labels,
                               bias=[float("nan")] * n, cx=[x + dw / 2 for x in xs], cy=[y + dh / 2 for y in ys],
                               gradient=[float("nan")] * n, ring=[0.0] * n, ring_color=["#cccccc"] * n)
        self._build_controls(session)

    @staticmethod
    def _node_names(session: Session) -> list[list[str]]:
        sizes = session.spec.layer_sizes
        names = [list(session.config.features)]
        for layer in range(1, len(sizes) - 1):
            names.append([f"layer {layer}, neuron {i + 1}" for i in range(sizes[layer])])
        if session.loss == "ce":
            names.append([f"output, class {k}" for k in range(sizes[-1])])
        else:
            names.append(["output"])
        return names

    @param.depends("show_gradients", watch=True)
    def _redraw(self):
        self.rings.visible = self.show_gradients
        if self._last is not None:
            self.show(*self._last)

    def show(self, frame: Frame, neuron_maps: list[np.ndarray] | None, loss: str) -> None:
        """Patch edge colours/widths (weights, or gradients) and the neuron thumbnails."""
        if self._edge_index is None:
            return
        self._last = (frame, neuron_maps, loss)
        weights = frame.params[self._edge_index]
        n = len(weights)
        # Numbers as arrays: Bokeh sends an array as one binary buffer, a list item by item.
        patch = {"weight": [(slice(0, n), np.asarray(weights, dtype=float))]}
        grad = frame.gradient
        if self.show_gradients and grad is not None:
            colors, widths = _edge_style(grad[self._edge_index], log_scale=True, palette=self.palette)
        else:
            colors, widths = _edge_style(weights, palette=self.palette)
        patch.update(color=[(slice(0, n), colors)], width=[(slice(0, n), np.asarray(widths, dtype=float))])
        if grad is not None:
            patch["gradient"] = [(slice(0, n), np.asarray(grad[self._edge_index], dtype=float))]
            node_grad = np.array([grad[i] if i >= 0 else np.nan for i in self._bias_index])
            ring_colors, rings = _edge_style(np.nan_to_num(node_grad), log_scale=True, palette=self.palette)
            m = len(node_grad)
            self.writer.patch(self.nodes, {
                "gradient": [(slice(0, m), node_grad.astype(float))],
                "ring": [(slice(0, m), np.where(np.isnan(node_grad), 0.0, rings).astype(float))],
                "ring_color": [(slice(0, m), ring_colors)]})
        self.writer.patch(self.edges, patch)
        if neuron_maps is None:
            return
        images = []
        for col, maps in enumerate(neuron_maps):
            last = col == len(neuron_maps) - 1
            for k in range(maps.shape[2]):
                values = maps[:, :, k]
                if last and loss in ("bce", "ce"):
                    probs = 1 / (1 + np.exp(-values)) if loss == "bce" else _softmax_column(maps, k)
                    images.append(to_levels(probs, 0.0, 1.0))
                else:
                    top = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
                    images.append(to_levels(values, -max(top, 1e-9), max(top, 1e-9)))
        biases = np.array([frame.params[i] if i >= 0 else np.nan for i in self._bias_index], dtype=float)
        self.writer.patch(self.nodes, {"image": [(slice(0, len(images)), images)],
                          "bias": [(slice(0, len(biases)), biases)]})


def _softmax_column(maps: np.ndarray, k: int) -> np.ndarray:
    z = maps - maps.max(axis=2, keepdims=True)
    e = np.exp(z)
    return e[:, :, k] / e.sum(axis=2)
