"""The run settings' controls: one widget per RunConfig setting a page offers, and their rules.

Every widget is bound to the tab's config (``from_param`` or a two-way link), so the config
stays the one source of the settings; what is here is how the controls behave around it:

- an optimizer picked by the user starts from its torch defaults, and only its own
  hyper-parameter boxes are shown (:meth:`RunControls.show_optimizer_hyperparameters`);
- a value typed into a hyper-parameter box is used if valid, else refused in words that name
  the box, and the box shows again the value in use (:meth:`RunControls.set_hyperparameter`);
- a value from a link or a file that a select or slider does not offer joins its choices;
- the loss select offers the losses that fit the session's data (``config.losses_for``), and
  new data with other classes gets its usual loss (``RunConfig.fitted_loss``);
- a lesson sets everything up and says what to look at.

The controls change only the config and the tab's state (its notice, its ``pause`` and
``acted`` events); the page builds a new session when a structural setting changes.
"""
from __future__ import annotations

from contextlib import contextmanager

import panel as pn
import param

from playground.core.config import HYPERPARAMETERS, ConfigError, RunConfig, losses_for
from playground.core.lessons import LESSONS
from playground.core.session import Session
from playground.ui.tab_state import TabState
from playground.ui.views.text import error_html, notice_html

LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
REG_RATES = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
CHOOSE_A_LESSON = "Choose a lesson…"


class RunControls:
    """The widgets of one tab's run settings (header and data column), bound to ``state.config``.

    ``hidden``: the link's hidden controls (link.HIDABLE_CONTROLS); the optimizer's own boxes
    stay hidden with the optimizer.
    """

    def __init__(self, state: TabState, hidden=()):
        self.state, self.config, self.hidden = state, state.config, tuple(hidden)
        self._restoring = False  # True while an imported session's settings are applied
        self._resetting_box = False  # True while a refused hyper-parameter's box is set back
        c = self.config.param

        def from_param(widget, parameter, **kw):
            return widget.from_param(parameter, **{"width": 150, **kw})

        self.learning_rate = pn.widgets.Select(label="Learning rate", options=LEARNING_RATES,
                                               value=self.config.learning_rate, width=110)
        self.learning_rate.link(self.config, value="learning_rate", bidirectional=True)
        self.optimizer = from_param(pn.widgets.Select, c.optimizer, label="Optimizer", width=110)
        self.loss = pn.widgets.Select(label="Loss", options=losses_for(state.session.n_classes),
                                      value=state.session.loss, width=80)
        self.loss.link(self.config, value="loss", bidirectional=True)
        self.hyper_widgets = {
            name: pn.widgets.FloatInput(label=name.replace("_", " ").capitalize(), width=95,
                                        start=c[name].bounds[0], end=c[name].bounds[1],
                                        step=0.01 if name != "eps" else 1e-8)
            for name in HYPERPARAMETERS if name != "learning_rate"}
        for name, widget in self.hyper_widgets.items():
            widget.param.watch(lambda e, n=name: self.set_hyperparameter(n, e.new), "value")
        self.regularization = from_param(pn.widgets.Select, c.regularization, label="Regularization", width=110)
        self.reg_rate = pn.widgets.Select(label="Regularization rate", options=REG_RATES,
                                          value=self.config.reg_rate, width=130)
        self.reg_rate.link(self.config, value="reg_rate", bidirectional=True)
        self.lesson = pn.widgets.Select(label="Lessons", options=[CHOOSE_A_LESSON, *LESSONS], width=170)
        self.lesson.param.watch(lambda e: (state.param.trigger("acted"), self.start_lesson(e.new)), "value")
        self.speed = pn.widgets.Select.from_param(state.param.speed, label="Speed (per frame)", width=120)
        self.noise = from_param(pn.widgets.FloatSlider, c.noise, label="Noise", start=0, end=50, step=5,
                                css_classes=["noise-slider"], format="0")
        self.train_ratio = from_param(pn.widgets.FloatSlider, c.train_ratio, label="Ratio of training data (%)",
                                      css_classes=["ratio-slider"], start=10, end=90, step=10, format="0")
        self.batch_size = from_param(pn.widgets.IntSlider, c.batch_size, label="Batch size", start=1, end=30,
                                     css_classes=["batch-slider"])
        self.classes = from_param(pn.widgets.IntSlider, c.classes, label="Classes (blobs)")
        self.seed = from_param(pn.widgets.IntInput, c.seed, label="Seed", width=100)
        self.regenerate = pn.widgets.Button(label="Regenerate", width=100, description="New random data")
        self.regenerate.on_click(lambda e: self.config.param.update(seed=self.config.seed + 1))
        self.initialization = from_param(pn.widgets.Select, c.initialization, label="Initialization", width=110)
        self.show_optimizer_hyperparameters()
        self.config.param.watch(self._on_optimizer_change, ["optimizer"])
        self.config.param.watch(self.offer_values_in_use, ["learning_rate", "reg_rate", "batch_size"])
        self.offer_values_in_use()
        state.param.watch(lambda e: self.follow_session(e.new), "session", onlychanged=False)

    def hidable(self) -> dict:
        """The widgets that each name of link.HIDABLE_CONTROLS takes away, of these controls."""
        return {"learning_rate": [self.learning_rate], "optimizer": [self.optimizer, *self.hyper_widgets.values()],
                "loss": [self.loss], "regularization": [self.regularization], "reg_rate": [self.reg_rate],
                "speed": [self.speed], "lesson": [self.lesson], "noise": [self.noise],
                "train_ratio": [self.train_ratio], "batch_size": [self.batch_size],
                "seed": [self.seed, self.regenerate], "initialization": [self.initialization]}

    # ------------------------------------------------------------------ following the run
    def follow_session(self, session: Session) -> None:
        """A new session: the loss select offers the losses that fit its data."""
        options = losses_for(session.n_classes)
        if self.loss.options != options:
            self.loss.options = options
        self.loss.value = session.loss
        self.classes.visible = self.config.dataset == "blobs" and not self.config.csv

    @contextmanager
    def restoring(self):
        """While an imported session's settings are applied: they arrive whole (the optimizer's
        hyper-parameters are the file's, not its defaults)."""
        self._restoring = True
        try:
            yield
        finally:
            self._restoring = False

    @property
    def is_restoring(self) -> bool:
        return self._restoring

    # ------------------------------------------------------------------ the rules
    def _on_optimizer_change(self, event) -> None:
        if not self._restoring:  # a user's choice: this optimizer's torch defaults
            for name in HYPERPARAMETERS[1:]:
                setattr(self.config, name, None)
        self.show_optimizer_hyperparameters()

    def show_optimizer_hyperparameters(self) -> None:
        """Only the chosen optimizer's own hyper-parameters are shown, with the values in use."""
        own = self.config.own_hyperparameters()
        settings = self.config.optimizer_settings()
        for name, widget in self.hyper_widgets.items():
            widget.visible = name in own and "optimizer" not in self.hidden  # hidden with it
            if name in own:  # every optimizer owns weight_decay
                widget.value = getattr(settings, name)

    def set_hyperparameter(self, name: str, value) -> None:
        """A hyper-parameter typed into its box: used if valid; else refused in words that
        name the box, and the box shows again the value that training uses."""
        widget = self.hyper_widgets[name]
        if value is None or self._resetting_box:
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
            self._resetting_box = True
            try:
                widget.value = in_use
            finally:
                self._resetting_box = False

        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(show_value_in_use)  # Panel does not echo a value back in its own change
        else:
            show_value_in_use()

    def offer_values_in_use(self, *_events) -> None:
        """A value from a link or a file that a control does not offer (a learning rate of
        0.05, a batch of 64) joins its choices, so that the control shows what training uses
        (a select shows its first choice for a value it lacks; a slider, its end)."""
        for select, value in ((self.learning_rate, self.config.learning_rate), (self.reg_rate, self.config.reg_rate)):
            if value is not None and value not in select.options:
                select.options = sorted({*select.options, value})
        if self.config.batch_size > self.batch_size.end:
            self.batch_size.end = self.config.batch_size

    def fit_loss_to_data(self, n_classes: int, loss_chosen: bool = False) -> None:
        """Keep the loss valid for new data with ``n_classes`` (0: regression): see
        ``RunConfig.fitted_loss`` (``loss_chosen``: the loss was set in the same change)."""
        loss = self.config.fitted_loss(n_classes, self.state.session.n_classes, loss_chosen)
        if loss != self.config.loss:
            with param.parameterized.discard_events(self.config):
                self.config.loss = loss

    def start_lesson(self, title: str) -> None:
        """Set everything up for a lesson, and say what to look at."""
        lesson = LESSONS.get(title)
        if lesson is None:
            return
        self.state.param.trigger("pause")
        self.config.update_checked(lesson.config_values(), names_as="key")
        self.state.notice = notice_html(lesson.text, title=lesson.title)
