"""The playground app: build a network, press Play, watch it learn.

Layout after the TensorFlow Playground: data on the left, the network in the middle,
the output on the right, the run controls across the top. Every browser tab gets its own
:class:`Playground` (its own config, data, weights and history). Training runs in a
worker thread (the Numba kernels release the GIL) and each frame patches the views'
ColumnDataSources.

Served by ``nn-playground serve`` (playground/server), or ``panel serve playground/app.py``.
"""
from __future__ import annotations

import io
import json
import logging
import math
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import panel as pn
import param
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from kernels import BackendUnavailable
from playground.core.config import HYPERPARAMETERS, ConfigError, RunConfig
from playground.core.data import DataError, REGRESSION
from playground import bokeh_compat
from playground.core.json_input import parse_json
from playground.core.lessons import LESSONS
from playground.core.session import Session, load_data
from playground.core.snapshot import MAX_BYTES as MAX_SNAPSHOT_BYTES
from playground.core.snapshot import SnapshotError, export_session, import_session
from playground.ui.link import (DEFAULT_EMBED_PANELS, EMBED_PANELS, HIDABLE_CONTROLS, VIEW_PROPS,
                                 decode, encode)
from playground.ui.play_loop import PlayLoop
from playground.ui.tab_state import TabState
from playground.ui.views.boundary import BoundaryView
from playground.ui.views.data_picker import DataPicker
from playground.transport.frame_channel import FrameChannel
from playground.ui.views.gradient_chart import GradientNormChart
from playground.ui.views.landscape_view import LandscapeView
from playground.ui.views.layer_stats import LayerStats
from playground.ui.views.loss_chart import LossChart
from playground.ui.views.network import NetworkDiagram
from playground.ui.views.readout import Readout
from playground.ui.views.slow_step import SlowStep
from playground.ui.views.appearance import Appearance
from playground.ui.views.shortcuts import KeyboardShortcuts
from playground.ui.views.text import error_html, notice_html
from playground.ui.views.upload import MAX_UPLOAD_BYTES, CsvUpload
from playground.ui.views.upload_limit import UploadLimit, size_text

TITLE = "nn-playground"
EMBED_SNIPPET_JS = """
const url = new URL(window.location.href);
url.searchParams.set('embed', 'true');
const snippet = `<iframe src="${url.href}" width="760" height="520" style="border:0"></iframe>`;
if (navigator.clipboard) { navigator.clipboard.writeText(snippet); }
"""
DISCONNECTED = ("The connection to the server was lost (the server stopped, or the network dropped): "
                "reload the page to start again.")
# The page's side of a lost connection: its Play button can no longer pause anything, so it
# reads Play and is greyed out (a reload starts again; a connection Bokeh restores brings
# the server's state back with the document).
SHOW_STOPPED_JS = """
for (const model of cb_obj.all_models) {
  if ((model.css_classes || []).includes("play-button")) {
    try { model.label = "Play"; model.disabled = true; } catch (err) { /* no socket to tell */ }
  }
}
"""
STATIC = Path(__file__).resolve().parents[2] / "static"  # static/ of a checkout
# Changing these rebuilds the session (new data or network, epoch 0); the others
# (optimizer, its hyper-parameters, regularization) take effect on the next step.
STRUCTURAL = ("dataset", "classes", "noise", "train_ratio", "points", "seed", "features", "csv", "hidden",
              "activation", "initialization", "loss", "batch_size", "backend", "dtype")
FRIENDLY_NAMES = {"hidden": "the network", "activation": "an activation", "dataset": "the data set",
                  "csv": "the data set", "train_ratio": "the training ratio", "features": "the inputs"}
LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
REG_RATES = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
READOUT_CSS = """
.label { font-size: 11px; color: #777; text-transform: uppercase; letter-spacing: 1px; }
.value { font-size: 26px; font-family: monospace; color: #222; }
.losses { font-size: 14px; line-height: 1.5; }
.losses b { font-family: monospace; font-size: 15px; }
.status { font-size: 12px; color: #666; }
"""


def valid_losses(n_classes: int) -> list[str]:
    """The losses that fit data with ``n_classes`` (0 = regression)."""
    if n_classes == 0:
        return ["mse"]
    return ["bce", "ce", "mse"] if n_classes == 2 else ["ce"]  # ce on 2 classes: 2 softmax outputs


def default_config() -> RunConfig:
    """What a new tab starts with: the TensorFlow Playground's 4-2 tanh net on circle."""
    return RunConfig(learning_rate=0.03, optimizer="adam", hidden=[4, 2], activation=["tanh"], loss="bce")


class Playground(pn.viewable.Viewer):
    """One user's playground: controls, views and the training loop, around one TabState."""

    def __init__(self, config: RunConfig | None = None, query: dict | None = None, embed: bool | None = None,
                 panels: list[str] | None = None, hide: list[str] | None = None, **settings):
        """``settings``: any RunConfig setting by name (``Playground(dataset="spiral",
        hidden=[8, 8])`` in a notebook), or ``theme``/``colors``; ``query``: a page's URL query,
        applied leniently (see link.py); ``embed``: the compact layout for an iframe, showing
        ``panels`` (link.EMBED_PANELS); ``hide``: controls left out (link.HIDABLE_CONTROLS)."""
        own = {k: settings.pop(k) for k in ("speed",) if k in settings}
        super().__init__()
        link = decode(dict(query or {}))
        # theme and colours are view settings (see views/appearance.py), not RunConfig's
        view = {**link.view, **{p.key: settings.pop(p.key) for p in VIEW_PROPS if p.key in settings}}
        self.appearance = Appearance(**view)
        self.config = config or default_config()
        if settings:
            self.config.update_checked(settings, names_as="key")  # from code: refuse, loudly
        link_problems = link.problems + self.config.apply_query(link.run)
        self.embed = bool(link.page.get("embed", False) if embed is None else embed)
        self.panels = [p for p in (panels or link.page.get("panels") or DEFAULT_EMBED_PANELS) if p in EMBED_PANELS]
        self.hidden = [c for c in (hide if hide is not None else link.page.get("hide", [])) if c in HIDABLE_CONTROLS]
        try:
            session = Session(self.config)
        except (ConfigError, DataError, BackendUnavailable) as err:  # a link that does not add up
            link_problems.append(f"{err}; the default setup is shown instead")
            self.config = default_config()
            session = Session(self.config)
        self.state = TabState(config=self.config, session=session, **own)
        self._rate_window = (time.perf_counter(), 0)
        self.steps_per_second = 0.0

        self.boundary = BoundaryView()
        self.loss_chart = LossChart()
        self.gradient_chart = GradientNormChart()
        self.landscape = LandscapeView()
        self.layer_stats = LayerStats()
        self._restoring = False  # True while an imported session's settings are applied
        self._resetting_widget = False  # True while a refused hyper-parameter's box is set back
        self.network = NetworkDiagram(self.config)
        self.data_picker = DataPicker(self.config)
        self.upload = CsvUpload(self.config)
        self.shortcuts = KeyboardShortcuts(margin=(0, 10))
        self._build_widgets()
        # Slow step: pauses, shows one step's phases, then trains it like Step (see its module);
        # Step, Play and Reset cancel a half-done one.
        # The play loop answers the state's events first; the slow step (built next) reacts after.
        self.loop = PlayLoop(self.state, self.channel, self.landscape, self._draw)
        self._follow_playing()
        self.slow_step = SlowStep(self.network, self.boundary, self.state)
        self._follow_the_session()
        self.config.param.watch(self._on_structure_change, list(STRUCTURAL))
        self.config.param.watch(self._on_optimizer_change, ["optimizer"])
        self.config.param.watch(self._offer_values_in_use, ["learning_rate", "reg_rate", "batch_size"])
        self._offer_values_in_use()
        self._install_session(self.session, notice="")
        if link_problems:
            self.state.notice = error_html("; ".join(link_problems) + ".", prefix="This link had problems: ")
        self.config.param.watch(self._update_link, RunConfig.setting_names())
        self.appearance.param.watch(self._update_link, [prop.key for prop in VIEW_PROPS])
        # The secondary pictures sit in tabs: only the open one costs the browser a redraw,
        # and the layer histograms are only sent while their tab is open; closed, they are
        # kept up to date in place, and a tab that opens shows them so (see LayerStats.show).
        self.secondary_tabs = pn.Tabs(("Gradient norms", self.gradient_chart), ("Layers", self.layer_stats),
                                      ("Descent path", self.landscape), dynamic=True)
        self._layout = self._build_layout()
        self._hide_controls()
        self.appearance.attach(self)

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self) -> None:
        c = self.config.param
        self.play_button = pn.widgets.Button(label="Play", color="primary", width=90, css_classes=["play-button"])
        self.step_button = pn.widgets.Button(label="Step", width=70, description="Train one epoch")
        self.reset_button = pn.widgets.Button(label="Reset", width=70, description="New weights, epoch 0")
        self.play_button.on_click(lambda e: self.state.param.trigger("play"))
        self.step_button.on_click(lambda e: self.state.param.trigger("step"))
        self.reset_button.on_click(lambda e: self.state.param.trigger("reset"))
        # Fixed sizes: text that changes every frame must not make the browser re-layout the page.
        self.epoch_div = Readout(name="epoch_readout", width=150, height=50, margin=(10, 12), stylesheets=[READOUT_CSS])
        self.loss_div = Readout(name="loss_readout", width=330, height=72, stylesheets=[READOUT_CSS])
        self.status_div = Readout(name="status_readout", width=330, height=22, stylesheets=[READOUT_CSS])
        # A frame's changes to every picture reach the page as one change of the channel
        # (transport/frame_channel.py). Pacing (playground.transport.pacing): the channel numbers each frame
        # sent, the page echoes the number once it has painted it; a slow page gets fewer.
        self.channel = FrameChannel(name="frame_channel")
        for view in (self.boundary, self.loss_chart, self.gradient_chart, self.landscape, self.layer_stats,
                     self.network, self.epoch_div, self.loss_div, self.status_div):
            view.writer = self.channel
        self.notice = pn.pane.HTML(self.state.param.notice, css_classes=["notice"], margin=(0, 10), min_height=24,
                                   stylesheets=[".error { color: #b00020; font-weight: bold; }"],
                                   sizing_mode="stretch_width")

        def from_param(widget, parameter, **kw):
            return widget.from_param(parameter, **{"width": 150, **kw})

        self.learning_rate = pn.widgets.Select(label="Learning rate", options=LEARNING_RATES,
                                               value=self.config.learning_rate, width=110)
        self.learning_rate.link(self.config, value="learning_rate", bidirectional=True)
        self.optimizer = from_param(pn.widgets.Select, c.optimizer, label="Optimizer", width=110)
        self.loss = pn.widgets.Select(label="Loss", options=valid_losses(self.session.n_classes),
                                      value=self.session.loss, width=80)
        self.loss.link(self.config, value="loss", bidirectional=True)
        self.hyper_widgets = {
            name: pn.widgets.FloatInput(label=name.replace("_", " ").capitalize(), width=95,
                                        start=getattr(c, name).bounds[0], end=getattr(c, name).bounds[1],
                                        step=0.01 if name != "eps" else 1e-8)
            for name in HYPERPARAMETERS if name != "learning_rate"}
        for name, widget in self.hyper_widgets.items():
            widget.param.watch(lambda e, n=name: self._set_hyperparameter(n, e.new), "value")
        self.regularization = from_param(pn.widgets.Select, c.regularization, label="Regularization", width=110)
        self.reg_rate = pn.widgets.Select(label="Regularization rate", options=REG_RATES,
                                          value=self.config.reg_rate, width=130)
        self.reg_rate.link(self.config, value="reg_rate", bidirectional=True)
        self.lesson = pn.widgets.Select(label="Lessons", options=["Choose a lesson…", *LESSONS], width=190)
        self.lesson.param.watch(lambda e: (self.state.param.trigger("acted"), self.start_lesson(e.new)), "value")
        self.speed_select = pn.widgets.Select.from_param(self.state.param.speed, label="Speed (per frame)", width=120)
        self.noise = from_param(pn.widgets.FloatSlider, c.noise, label="Noise", start=0, end=50, step=5, css_classes=["noise-slider"],
                                format="0")
        self.train_ratio = from_param(pn.widgets.FloatSlider, c.train_ratio, label="Ratio of training data (%)", css_classes=["ratio-slider"],
                                      start=10, end=90, step=10, format="0")
        self.batch_size = from_param(pn.widgets.IntSlider, c.batch_size, label="Batch size", start=1, end=30,
                                     css_classes=["batch-slider"])
        self.classes = from_param(pn.widgets.IntSlider, c.classes, label="Classes (blobs)")
        self.seed = from_param(pn.widgets.IntInput, c.seed, label="Seed", width=100)
        self.regenerate = pn.widgets.Button(label="Regenerate", width=100, description="New random data")
        self.copy_link = pn.widgets.Button(label="Copy link", width=100,
                                           description="Copy a link that opens this exact setup")
        self.copy_link.js_on_click(code="navigator.clipboard && navigator.clipboard.writeText(window.location.href)")
        self.export_button = pn.widgets.FileDownload(callback=self.export_session, filename="nn-playground-session.json",
                                                     label="Export session", width=150)
        self.import_input = pn.widgets.FileInput(accept=".json", width=200, multiple=False,
                                                 label="Import a saved session")
        self.import_input.param.watch(
            lambda e: (self.state.param.trigger("acted"), e.new is not None and self.import_session(e.new)), "value")
        # Files over these sizes are refused by the page before they are sent (see the module).
        self.upload_limit = UploadLimit(limits={self.import_input.accept: MAX_SNAPSHOT_BYTES,
                                                self.upload.input.accept: MAX_UPLOAD_BYTES},
                                        on_refused=self._refuse_file)
        self.history_download = pn.widgets.FileDownload(callback=self.history_csv, filename="loss-history.csv",
                                                        label="Loss history (CSV)", width=150)
        self.copy_embed = pn.widgets.Button(label="Copy embed code", width=140,
                                            description="Copy an iframe snippet for a course page")
        self.copy_embed.js_on_click(code=EMBED_SNIPPET_JS)
        self.regenerate.on_click(lambda e: self.config.param.update(seed=self.config.seed + 1))
        self.initialization = from_param(pn.widgets.Select, c.initialization, label="Initialization", width=110)
        self.features = pn.widgets.CheckButtonGroup.from_param(c.features, orientation="vertical", width=90,
                                                               label="Features")
        self._show_optimizer_hyperparameters()

    def _build_layout(self):
        if self.embed:
            return self._embedded_layout()
        header = pn.FlexBox(
            pn.Row(self.reset_button, self.play_button, self.step_button, self.slow_step.button, margin=(18, 0, 0, 0)),
            self.epoch_div,
            self.learning_rate, self.optimizer, *self.hyper_widgets.values(), self.loss,
            self.regularization, self.reg_rate, self.speed_select, self.lesson,
            pn.Row(self.copy_link, self.copy_embed, margin=(18, 0, 0, 0)),
            pn.pane.HTML("<a href='./race' target='_blank'>Optimizer race →</a>", margin=(30, 10)),
            self.appearance, pn.Column(self.shortcuts, margin=(30, 0, 0, 0)),
            css_classes=["pg-header"], sizing_mode="stretch_width", margin=0, align_items="flex-start")
        data_column = pn.Column(
            pn.pane.HTML("<h3>Data</h3>", margin=(0, 5)), self.data_picker, self.upload, self.classes, self.train_ratio,
            self.noise, self.batch_size, pn.Row(self.seed, self.regenerate), self.initialization,
            pn.pane.HTML("<h3>Save</h3>", margin=(10, 5, 0, 5)), pn.Row(self.export_button, self.history_download),
            self.import_input,
            width=330, css_classes=["pg-column"])
        network_column = pn.Column(
            pn.pane.HTML("<h3>Network</h3>", margin=(0, 5)),
            pn.Row(pn.Column(pn.pane.HTML("<small>Inputs</small>", margin=(0, 5)), self.features,
                             margin=(60, 5, 0, 0)), self.network),
            self.slow_step,
            self.secondary_tabs,
            css_classes=["pg-column"], min_width=450)
        output_column = pn.Column(
            pn.pane.HTML("<h3>Output</h3>", margin=(0, 5)), self.loss_div,
            self.loss_chart, self.boundary, self.status_div,
            width=350, css_classes=["pg-column"])
        return pn.Column(header, self.notice, pn.Row(data_column, network_column, output_column), self.channel,
                         self.upload_limit, sizing_mode="stretch_width")

    def _embedded_layout(self):
        """Compact, for an iframe in a course page: the run controls and chosen pictures."""
        pictures = {
            "boundary": self.boundary, "loss": pn.Column(self.loss_div, self.loss_chart),
            "network": self.network, "gradients": self.gradient_chart, "landscape": self.landscape,
            "controls": pn.Column(self.learning_rate, self.optimizer, self.lesson),
        }
        controls = pn.Row(self.reset_button, self.play_button, self.step_button,
                          self.epoch_div, pn.Column(self.shortcuts, self.appearance.page_theme, margin=(30, 0, 0, 0)))
        return pn.Column(controls, self.notice, pn.FlexBox(*[pictures[p] for p in self.panels]), self.channel,
                         css_classes=["pg-embed"])

    def __panel__(self):
        return self._layout

    def step(self, epochs: int = 1) -> None:
        """Train ``epochs`` epochs from code (a notebook); the views follow."""
        self.pause()
        frame, extras = self.loop.compute(self.session, max(0, int(epochs)) * self.session.steps_per_epoch)
        self.loop.show(frame, extras)
        self.loop.refresh_landscape()

    # ------------------------------------------------------------------ settings
    def _set_hyperparameter(self, name: str, value) -> None:
        """A hyper-parameter typed into its box: used if valid; else refused in words that
        name the box, and the box shows again the value that training uses."""
        widget = self.hyper_widgets[name]
        if value is None or self._resetting_widget:
            return
        def show(_name):  # the box's own label names it in a message
            return widget.name

        try:
            self.config.apply_checked(RunConfig.convert_values({name: value}, show), show)
            self.state.notice = ""
            return
        except ConfigError as err:
            in_use = getattr(self.config.optimizer_settings(), name)
            self.state.notice = error_html(f"{err}; training goes on with {in_use:g}.")

        def show_value_in_use():
            self._resetting_widget = True
            try:
                widget.value = in_use
            finally:
                self._resetting_widget = False

        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(show_value_in_use)  # Panel does not echo a value back in its own change
        else:
            show_value_in_use()

    def _offer_values_in_use(self, *_events) -> None:
        """A value from a link or a file that a control does not offer (a learning rate of
        0.05, a batch of 64) joins its choices, so that the control shows what training uses
        (a select shows its first choice for a value it lacks; a slider, its end)."""
        for select, value in ((self.learning_rate, self.config.learning_rate), (self.reg_rate, self.config.reg_rate)):
            if value is not None and value not in select.options:
                select.options = sorted({*select.options, value})
        if self.config.batch_size > self.batch_size.end:
            self.batch_size.end = self.config.batch_size

    def _show_optimizer_hyperparameters(self) -> None:
        """Only the chosen optimizer's own hyper-parameters are shown, with its defaults."""
        own = self.config.own_hyperparameters()
        settings = self.config.optimizer_settings()
        for name, widget in self.hyper_widgets.items():
            widget.visible = name in own and "optimizer" not in self.hidden  # hidden with it
            if name in own and name != "weight_decay":
                widget.value = getattr(settings, name)
            elif name == "weight_decay":
                widget.value = getattr(settings, name)

    def _update_link(self, *events) -> None:
        """Keep the page's URL query equal to the setup, so a copied link reopens it."""
        location = pn.state.location
        if location is not None:
            values = self.link_query()
            location.search = "?" + urlencode(values) if values else ""

    def link_query(self) -> dict:
        """The URL query that reopens this page as it is (see link.py)."""
        page = {"embed": self.embed, "panels": self.panels, "hide": self.hidden}
        return encode(self.config, default_config(), self.appearance.link_values(), page)

    def _hide_controls(self) -> None:
        """Leave out the controls that the link's ``hide`` names (a lesson's page, a course's)."""
        controls = {
            "learning_rate": [self.learning_rate], "optimizer": [self.optimizer, *self.hyper_widgets.values()],
            "loss": [self.loss],
            "regularization": [self.regularization], "reg_rate": [self.reg_rate], "speed": [self.speed_select],
            "lesson": [self.lesson], "noise": [self.noise], "train_ratio": [self.train_ratio],
            "batch_size": [self.batch_size], "seed": [self.seed, self.regenerate],
            "initialization": [self.initialization], "features": [self.features], "data": [self.data_picker],
            "upload": [self.upload], "save": [self.export_button, self.history_download, self.import_input],
            "slow_step": [self.slow_step.button, self.slow_step], "appearance": [self.appearance],
            "share": [self.copy_link, self.copy_embed]}
        for name in self.hidden:
            for control in controls[name]:
                (control.__panel__() if isinstance(control, pn.viewable.Viewer) else control).visible = False

    def history_csv(self) -> io.StringIO:
        """The loss history as CSV: epoch,train_loss,test_loss."""
        history = self.session.history
        rows = ["epoch,train_loss,test_loss"] + [f"{e!r},{a!r},{b!r}" for e, a, b in zip(
            history["epoch"], history["train_loss"], history["test_loss"])]
        return io.StringIO("\n".join(rows) + "\n")

    def export_session(self) -> io.StringIO:
        """The session as versioned JSON, for the Export download."""
        return io.StringIO(json.dumps(export_session(self.session)))

    def _refuse_file(self, accept: str, name: str, n_bytes: int) -> None:
        """The page did not send a file over its input's limit (see views/upload_limit.py)."""
        if accept == self.import_input.accept:
            self.state.notice = error_html(f"{name} is {size_text(n_bytes)}; a session file may be up to "
                                            f"{MAX_SNAPSHOT_BYTES // 1_000_000} MB.", prefix="Import failed: ")
        else:
            self.upload.refuse_too_big(name, n_bytes)

    def import_session(self, raw: bytes) -> None:
        """Continue a session from an exported file; a bad file changes nothing."""
        try:
            if not isinstance(raw, (bytes, str)):
                raise SnapshotError("this file did not arrive as one file")
            snapshot = parse_json(raw, "this file", SnapshotError, MAX_SNAPSHOT_BYTES)
            session = import_session(snapshot, served=True)
        except (SnapshotError, ConfigError, DataError) as err:
            self.state.notice = error_html(err, prefix="Import failed: ")
            return
        except Exception:  # noqa: BLE001 - a file no check foresaw: say so, keep the session
            logging.getLogger(__name__).exception("import of a session file failed")
            self.state.notice = error_html("this file could not be read as a session.", prefix="Import failed: ")
            return
        self.pause()
        self._restoring = True
        try:
            self.config.update_checked(session.config.to_dict(), names_as="key")
            if self.config.learning_rate is None:  # torch's default: the box shows the value in use
                self.config.learning_rate = self.config.optimizer_settings().learning_rate
        finally:
            self._restoring = False
        session.config = self.config  # same values; the widgets stay bound to this one
        self._install_session(session, notice=f"Imported: continuing at epoch {session.epoch:g}.")

    def start_lesson(self, title: str) -> None:
        """Set everything up for a lesson, and say what to look at."""
        lesson = LESSONS.get(title)
        if lesson is None:
            return
        self.pause()
        self.config.update_checked(lesson.config_values(), names_as="key")
        self.state.notice = notice_html(lesson.text, title=lesson.title)

    def _on_optimizer_change(self, event) -> None:
        if not self._restoring:  # a user's choice: this optimizer's torch defaults
            for name in HYPERPARAMETERS[1:]:
                setattr(self.config, name, None)
        self._show_optimizer_hyperparameters()

    def _on_structure_change(self, *events) -> None:
        if self._restoring:
            return  # an imported session arrives whole
        changed = {e.name for e in events}
        names = ", ".join(sorted({FRIENDLY_NAMES.get(n, n.replace("_", " ")) for n in changed}))
        if changed & {"dataset", "classes", "csv"}:
            self._fit_loss_to_data(loss_chosen="loss" in changed)
        try:
            session = Session(self.config)
        except (ConfigError, DataError, BackendUnavailable) as err:
            self.state.notice = error_html(err)
            return
        self._install_session(session, notice=f"Changed {names}: training restarts at epoch 0.")

    def _fit_loss_to_data(self, loss_chosen: bool = False) -> None:
        """Keep the loss valid for the new data (ce for K classes, mse for regression); data
        with another number of classes gets its own first loss (bce for two: ce stays only
        where it was picked for two classes), unless ``loss_chosen`` in the same change."""
        if self.config.csv:
            try:
                k = load_data(self.config).n_classes  # the file's own (an upload: see views/upload.py)
            except DataError:
                return  # the new session's build says what is wrong
        else:
            k = 0 if self.config.dataset in REGRESSION else (self.config.classes if self.config.dataset == "blobs" else 2)
        options = valid_losses(k)
        if self.config.loss not in options or (k != self.session.n_classes and not loss_chosen):
            with param.parameterized.discard_events(self.config):
                self.config.loss = options[0]

    def _install_session(self, session: Session, notice: str) -> None:
        """Show ``session`` from now on: the state's watchers (the slow step, the views, the
        controls: see :meth:`_follow_the_session`) follow it, then its first frame."""
        with pn.io.unlocked():  # the views' changes in one message with the first frame: see PlayLoop.show
            self.state.session = session
            self.state.notice = notice_html(notice)
            self.loop.show(session.frame(boundary=True, gradient=True), (session.neuron_maps(), session.unit_fractions()))

    def _follow_the_session(self) -> None:
        """Wire what follows ``state.session``, in this order (after the slow step, which
        leaves a half-done step first): frames in flight become stale, the pictures take the
        new network and data, the loss select offers the losses that fit its data."""
        state = self.state

        def followers(event):
            session = event.new
            state.make_stale()
            for view in (self.boundary, self.network, self.gradient_chart, self.layer_stats):
                view.set_session(session)
            self.landscape.clear()
            self.loss_chart.clear(session.history)
            options = valid_losses(session.n_classes)
            if self.loss.options != options:
                self.loss.options = options
            self.loss.value = session.loss
            self.classes.visible = self.config.dataset == "blobs" and not self.config.csv

        state.param.watch(followers, "session", onlychanged=False)

    def _follow_playing(self) -> None:
        """The Play button reads what a click would do; a new run's steps/s count starts."""
        def follow(event):
            self.play_button.label = "Pause" if event.new else "Play"
            if event.new:
                self._rate_window = (time.perf_counter(), self.session.step)

        self.state.param.watch(follow, "playing")
        self.state.param.watch(lambda e: (self.loss_chart.clear(), self.gradient_chart.set_session(self.session)),
                               "resets")

    # ------------------------------------------------------------------ the state, for code
    @property
    def session(self) -> Session:
        """The run the page shows (``state.session``)."""
        return self.state.session

    @property
    def playing(self) -> bool:
        return self.state.playing

    @playing.setter
    def playing(self, value: bool) -> None:
        self.state.playing = value

    @property
    def speed(self) -> str:
        return self.state.speed

    @speed.setter
    def speed(self, value: str) -> None:
        self.state.speed = value

    # ------------------------------------------------------------------ for code (a notebook, the tests)
    def toggle_play(self) -> None:
        self.loop.toggle_play()

    def play(self) -> None:
        self.loop.play()

    def pause(self) -> None:
        self.loop.pause()

    def reset(self) -> None:
        """Stop; new weights, epoch 0, same settings."""
        self.loop.reset()

    def close(self) -> None:
        """The tab is gone: stop training and draw nothing more."""
        self.loop.close()

    # ------------------------------------------------------------------ drawing
    def _draw(self, frame, extras, chart: bool) -> None:
        now = time.perf_counter()
        started, first_step = self._rate_window
        if frame.step < first_step:  # reset, or a new network: a new count
            self._rate_window, self.steps_per_second = (now, frame.step), 0.0
        elif now - started >= 1.0:
            self.steps_per_second = (frame.step - first_step) / (now - started)
            self._rate_window = (now, frame.step)
        self.epoch_div.set(f"<div class='label'>Epoch</div><div class='value'>{frame.epoch:07,.0f}</div>")
        self.loss_div.set(self._loss_text(frame))
        self.status_div.set(f"<div class='status'>{self.steps_per_second:,.0f} steps/s · backend "
                            f"<b>{self.session.backend.name}</b> · "
                            f"{'-'.join(map(str, self.session.spec.layer_sizes))} {self.session.loss}</div>")
        self.boundary.show(frame)
        self.loss_chart.show(frame, draw=chart)
        if extras is not None:
            maps, fractions = extras
            self.landscape.record(frame.params)
            self.gradient_chart.show(frame)
            self.network.show(frame, maps, self.session.loss)
            # Its tab closed (not on the page): updated in place for when it opens, not sent.
            on_page = not self.channel.on_a_page or self.layer_stats.figures[0].document is not None
            self.layer_stats.show(frame, fractions, draw=on_page)
        if frame.diverged:
            self.pause()
            self.state.notice = error_html(frame.message)

    @staticmethod
    def _loss_text(frame) -> str:
        def number(x):
            if not math.isfinite(x):
                return "—"
            return f"{x:.3f}" if abs(x) < 1000 else f"{x:.3g}"

        text = (f"<div class='losses'><div>Test loss <b class='test-loss'>{number(frame.test_loss)}</b></div>"
                f"<div>Training loss <b class='train-loss'>{number(frame.train_loss)}</b></div>")
        if frame.train_accuracy is not None:
            text += (f"<div>Accuracy: training {frame.train_accuracy:.1%} · test "
                     f"{frame.test_accuracy:.1%}</div>" if frame.test_accuracy is not None else "")
        return text + "</div>"


class _ClosedPageWrites(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for a frame written to a tab
    that closed meanwhile (see PlayLoop.show: Panel writes those messages itself and
    does not collect the failure). A gone tab is normal, not an error for the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        context = getattr(record, "msg", "")
        closed = (WebSocketClosedError, StreamClosedError)
        if isinstance(error, closed) or ("never retrieved" in str(context) and any(
                name in record.getMessage() for name in ("WebSocketClosedError", "StreamClosedError"))):
            return False
        return True


if not any(isinstance(f, _ClosedPageWrites) for f in logging.getLogger("asyncio").filters):
    logging.getLogger("asyncio").addFilter(_ClosedPageWrites())


def css_path() -> Path | None:
    """The page's style sheet: in the source tree, or where ``pip install .`` put it."""
    for folder in (STATIC, Path(sys.prefix) / "share" / "nn-playground"):
        path = folder / "playground.css"
        if path.exists():
            return path
    return None


def create_app(stylesheet_url: str | None = None) -> pn.viewable.Viewable:
    """A new, independent playground for one browser session.

    ``stylesheet_url``: where the server serves :func:`css_path` (``nn-playground serve``
    does): each of the page's components then links it, and the browser fetches it once.
    Without it (``panel serve``), its text is copied into every component, which made it a
    third of the page's document (134 copies of 0.8 KB)."""
    if stylesheet_url:
        pn.extension(css_files=[stylesheet_url], notifications=True, disconnect_notification=DISCONNECTED)
    else:
        path = css_path()
        pn.extension(raw_css=[path.read_text()] if path else [], notifications=True,
                     disconnect_notification=DISCONNECTED)
    bokeh_compat.install()  # faster messages, two race fixes, the request guard (see the package)
    arguments = pn.state.session_args or {}
    query = {k: v[-1].decode("utf-8", "replace") for k, v in arguments.items() if v}
    app = Playground(query=query)  # the link's run, view and page settings: see link.py
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda context: app.close())
        show_stopped_when_disconnected(pn.state.curdoc)
    return app


def show_stopped_when_disconnected(doc) -> None:
    """When the page's websocket closes, the page's Play button reads Play and is greyed out
    (the server pauses that run at its next frame, see :meth:`PlayLoop.run_frame`)."""
    from bokeh.models import CustomJS

    doc.js_on_event("connection_lost", CustomJS(code=SHOW_STOPPED_JS))

