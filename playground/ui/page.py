"""The playground app: build a network, press Play, watch it learn.

Layout after the TensorFlow Playground: data on the left, the network in the middle,
the output on the right, the run controls across the top. Every browser tab gets its own
:class:`Playground` (its own config, data, weights and history). Training runs in a
worker thread (the Numba kernels release the GIL) and each frame patches the views'
ColumnDataSources.

Served by ``nn-playground serve`` (playground/server), or ``panel serve playground/app.py``.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from urllib.parse import urlencode

import panel as pn
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from kernels import BackendUnavailable
from playground import bokeh_compat
from playground.core.config import ConfigError, RunConfig
from playground.core.data import DataError
from playground.core.session import Session, load_data
from playground.transport.frame_channel import FrameChannel
from playground.ui.controls import RunControls
from playground.ui.layout import embedded_layout, full_layout, set_viewport
from playground.ui.link import DEFAULT_EMBED_PANELS, EMBED_PANELS, HIDABLE_CONTROLS, VIEW_PROPS, decode, encode
from playground.ui.play_loop import PlayLoop
from playground.ui.run_bar import RunBar
from playground.ui.session_files import SessionFiles
from playground.ui.tab_state import TabState
from playground.ui.views.appearance import Appearance
from playground.ui.views.boundary import BoundaryView
from playground.ui.views.data_picker import DataPicker
from playground.ui.views.gradient_chart import GradientNormChart
from playground.ui.views.landscape_view import LandscapeView
from playground.ui.views.layer_stats import LayerStats
from playground.ui.views.legend import ColourLegend
from playground.ui.views.loss_chart import LossChart
from playground.ui.views.network import NetworkDiagram
from playground.ui.views.shortcuts import KeyboardShortcuts
from playground.ui.views.slow_step import SlowStep
from playground.ui.views.text import error_html, notice_html
from playground.ui.views.upload import CsvUpload

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

def default_config() -> RunConfig:
    """What a new tab starts with: the TensorFlow Playground's 4-2 tanh net on circle."""
    return RunConfig(learning_rate=0.03, optimizer="adam", hidden=[4, 2], activation=["tanh"], loss="bce")


class Playground(pn.viewable.Viewer):
    """One user's playground: the page built from its parts around one TabState.

    The parts: the run controls (controls.py), the run bar (run_bar.py), the save section
    (session_files.py), the views (views/), the play loop (play_loop.py) and the slow step;
    this class builds them, lays them out, and makes a new session when the data or the
    network changes.
    """

    def __init__(self, config: RunConfig | None = None, query: dict | None = None, embed: bool | None = None,
                 panels: list[str] | None = None, hide: list[str] | None = None, **settings):
        """``settings``: any RunConfig setting by name (``Playground(dataset="spiral",
        hidden=[8, 8])`` in a notebook), a view setting (link.VIEW_PROPS: ``theme``,
        ``colors``, ``show_test``, ``discretize``) or ``speed``; ``query``: a page's URL query,
        applied leniently (see link.py); ``embed``: the compact layout for an iframe, showing
        ``panels`` (link.EMBED_PANELS); ``hide``: controls left out (link.HIDABLE_CONTROLS)."""
        own = {k: settings.pop(k) for k in ("speed",) if k in settings}
        super().__init__()
        link = decode(dict(query or {}))
        view = {**link.view, **{p.key: settings.pop(p.key) for p in VIEW_PROPS if p.key in settings}}
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

        def owned_by(owner: str) -> dict:
            return {p.key: view[p.key] for p in VIEW_PROPS if p.owner == owner and p.key in view}

        self.appearance = Appearance(**owned_by("appearance"))
        self.boundary = BoundaryView(**owned_by("boundary"))
        self.view_settings = {"appearance": self.appearance, "boundary": self.boundary}  # link.VIEW_PROPS' owners
        self.loss_chart = LossChart()
        self.gradient_chart = GradientNormChart()
        self.landscape = LandscapeView()
        self.layer_stats = LayerStats()
        self.network_legend = ColourLegend("network")
        self.output_legend = ColourLegend("output", n_classes=session.n_classes)
        self.network = NetworkDiagram(self.config)
        self.data_picker = DataPicker(self.config)
        self.upload = CsvUpload(self.config)
        self.shortcuts = KeyboardShortcuts(margin=(0, 10))
        self.run_bar = RunBar(self.state)
        self.controls = RunControls(self.state, self.hidden)
        self.files = SessionFiles(self.state, self.upload, continue_with=self._continue_with)
        # A frame's changes to every picture reach the page as one change of the channel
        # (transport/frame_channel.py). Pacing (transport/pacing.py): the channel numbers each
        # frame sent, the page echoes the number once it has painted it; a slow page gets fewer.
        self.channel = FrameChannel(name="frame_channel")
        for view in (self.boundary, self.loss_chart, self.gradient_chart, self.landscape, self.layer_stats,
                     self.network, *self.run_bar.readouts):
            view.writer = self.channel
        self.notice = pn.pane.HTML(self.state.param.notice, css_classes=["notice"], margin=(0, 10), min_height=24,
                                   stylesheets=[".error { color: #b00020; font-weight: bold; }"],
                                   sizing_mode="stretch_width")
        self.copy_link = pn.widgets.Button(label="Copy link", width=100,
                                           description="Copy a link that opens this exact setup")
        self.copy_link.js_on_click(code="navigator.clipboard && navigator.clipboard.writeText(window.location.href)")
        self.copy_embed = pn.widgets.Button(label="Copy embed code", width=140,
                                            description="Copy an iframe snippet for a course page")
        self.copy_embed.js_on_click(code=EMBED_SNIPPET_JS)
        # The play loop answers the state's events first; the slow step (built next) reacts
        # after. Slow step: pauses, shows one step's phases, then trains it like Step (see its
        # module); Step, Play and Reset cancel a half-done one.
        self.loop = PlayLoop(self.state, self.channel, self.landscape, self._draw)
        self.slow_step = SlowStep(self.network, self.boundary, self.state)
        self._follow_the_session()
        self.config.param.watch(self._on_structure_change, list(STRUCTURAL))
        self._install_session(self.session, notice="")
        if link_problems:
            self.state.notice = error_html("; ".join(link_problems) + ".", prefix="This link had problems: ")
        self.config.param.watch(self._update_link, RunConfig.setting_names())
        for owner, view_setting in self.view_settings.items():
            view_setting.param.watch(self._update_link, [p.key for p in VIEW_PROPS if p.owner == owner])
        # The secondary pictures sit in tabs: only the open one costs the browser a redraw,
        # and the layer histograms are only sent while their tab is open; closed, they are
        # kept up to date in place, and a tab that opens shows them so (see LayerStats.show).
        self.secondary_tabs = pn.Tabs(("Gradient norms", self.gradient_chart), ("Layers", self.layer_stats),
                                      ("Descent path", self.landscape), dynamic=True, sizing_mode="stretch_width")
        self._layout = embedded_layout(self) if self.embed else full_layout(self)
        self._hide_controls()
        self.appearance.attach(self)

    def __panel__(self):
        return self._layout

    def _hide_controls(self) -> None:
        """Leave out the controls that the link's ``hide`` names (a lesson's page, a course's)."""
        controls = {**self.controls.hidable(), **self.files.hidable(),
                    "data": [self.data_picker], "upload": [self.upload],
                    "slow_step": [self.slow_step.button, self.slow_step], "appearance": [self.appearance],
                    "share": [self.copy_link, self.copy_embed]}
        if "features" in self.hidden:  # the inputs on the diagram: the used ones only, not clickable
            self.network.features_locked = True
            self.network.set_session(self.session)
        for name in self.hidden:
            for control in controls.get(name, ()):
                (control.__panel__() if isinstance(control, pn.viewable.Viewer) else control).visible = False

    # ------------------------------------------------------------------ the link
    def _update_link(self, *events) -> None:
        """Keep the page's URL query equal to the setup, so a copied link reopens it."""
        location = pn.state.location
        if location is not None:
            values = self.link_query()
            location.search = "?" + urlencode(values) if values else ""

    def link_query(self) -> dict:
        """The URL query that reopens this page as it is (see link.py)."""
        view = {p.key: getattr(self.view_settings[p.owner], p.key) for p in VIEW_PROPS}
        page = {"embed": self.embed, "panels": self.panels, "hide": self.hidden}
        return encode(self.config, default_config(), view, page)

    # ------------------------------------------------------------------ a new session
    def _on_structure_change(self, *events) -> None:
        if self.controls.is_restoring:
            return  # an imported session arrives whole
        changed = {e.name for e in events}
        names = ", ".join(sorted({FRIENDLY_NAMES.get(n, n.replace("_", " ")) for n in changed}))
        if changed & {"dataset", "classes", "csv"}:
            try:  # a file's own classes (an upload: see views/upload.py)
                n_classes = load_data(self.config).n_classes if self.config.csv else self.config.plane_classes()
            except DataError:
                n_classes = None  # the new session's build says what is wrong
            if n_classes is not None:
                self.controls.fit_loss_to_data(n_classes, loss_chosen="loss" in changed)
        try:
            session = Session(self.config)
        except (ConfigError, DataError, BackendUnavailable) as err:
            self._set_back({e.name: e.old for e in events})
            self.state.notice = error_html(f"{err}; training goes on as it was.")
            return
        self._install_session(session, notice=f"Changed {names}: training restarts at epoch 0.")

    def _set_back(self, old: dict) -> None:
        """A refused change: the settings, and so their controls, show again what trains
        (after the browser's own change is processed: Panel does not echo a value back in it)."""
        def set_back():
            with self.controls.restoring():
                self.config.param.update(**old)

        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(set_back)
        else:
            set_back()

    def _continue_with(self, session: Session) -> None:
        """An imported session: its settings become the page's, and it goes on from its epoch."""
        self.pause()
        with self.controls.restoring():
            self.config.update_checked(session.config.to_dict(), names_as="key")
            if self.config.learning_rate is None:  # torch's default: the box shows the value in use
                self.config.learning_rate = self.config.optimizer_settings().learning_rate
        session.config = self.config  # same values; the widgets stay bound to this one
        self._install_session(session, notice=f"Imported: continuing at epoch {session.epoch:g}.")

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
        new network and data, the controls offer what fits it. A Reset clears the charts."""
        state = self.state

        def followers(event):
            session = event.new
            state.make_stale()
            for view in (self.boundary, self.network, self.gradient_chart, self.layer_stats, self.output_legend):
                view.set_session(session)
            self.landscape.clear()
            self.loss_chart.clear(session.history)
            self.controls.follow_session(session)

        state.param.watch(followers, "session", onlychanged=False)
        state.param.watch(lambda e: (self.loss_chart.clear(), self.gradient_chart.set_session(self.session)),
                          "resets")

    # ------------------------------------------------------------------ for code (a notebook, the tests)
    @property
    def session(self) -> Session:
        """The run the page shows (``state.session``)."""
        return self.state.session

    @property
    def playing(self) -> bool:
        return self.state.playing

    @property
    def speed(self) -> str:
        return self.state.speed

    @speed.setter
    def speed(self, value: str) -> None:
        self.state.speed = value

    def step(self, epochs: int = 1) -> None:
        """Train ``epochs`` epochs from code (a notebook); the views follow."""
        self.pause()
        frame, extras = self.loop.compute(self.session, max(0, int(epochs)) * self.session.steps_per_epoch)
        self.loop.show(frame, extras)
        self.loop.refresh_landscape()

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
        """Put one frame on the views (the play loop calls it; see PlayLoop.show)."""
        self.run_bar.show(frame, self.session)
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
        set_viewport(pn.state.curdoc)
    return app


def show_stopped_when_disconnected(doc) -> None:
    """When the page's websocket closes, the page's Play button reads Play and is greyed out
    (the server pauses that run at its next frame, see :meth:`PlayLoop.run_frame`)."""
    from bokeh.models import CustomJS

    doc.js_on_event("connection_lost", CustomJS(code=SHOW_STOPPED_JS))

