"""The configuration of one run: the single source of truth.

:class:`RunConfig` is a ``param.Parameterized``; its parameters' bounds and choices are
the only place where valid values are defined. The CLI derives its flags from them
(``learning_rate`` -> ``--learning-rate``), a JSON config uses the same names, and the
app derives its widgets from them. :meth:`RunConfig.from_values` turns raw user values
(strings from a command line, JSON values) into a checked config, or raises
:class:`ConfigError` whose message is one line saying what to change.
"""
from __future__ import annotations

import math

import param

from kernels import ACTIVATIONS, BACKENDS, INITIALIZATIONS, LOSSES, NetworkSpec, OPTIMIZERS
from kernels.optimizers import OWN_HYPERPARAMETERS, OptimizerSettings
from kernels.surfaces import SURFACES

from playground.core.data import DATASETS, FEATURES, MAX_CLASSES, REGRESSION
from playground.core.json_input import read_json_file

PLAYGROUND_MAX_NEURONS = 8
WIDE_MAX_NEURONS = 1024
MAX_HIDDEN_LAYERS = 6
# Work one frame of the served app may train: minibatch steps x points per step x network
# parameters (multiply-adds of one forward pass, roughly). About 20 ms on one core here; the
# default 2-4-2-1 net at 20 epochs a frame needs 0.13 million. Bigger asks train fewer steps
# per frame, so that one user's heavy setting cannot hold a shared worker for seconds.
MAX_FRAME_WORK = 2_000_000
MAX_CONFIG_BYTES = 20_000_000  # a config file may be a saved session (snapshot.MAX_BYTES)
MAX_HISTORY_POINTS = 1_000_000  # loss-history entries a session file may bring (about 16 MB of JSON)
HYPERPARAMETERS = ("learning_rate", "momentum", "beta1", "beta2", "eps", "alpha", "weight_decay")


class ConfigError(ValueError):
    """A bad setting; ``str(err)`` is one line that says what to change."""


def losses_for(n_classes: int) -> list[str]:
    """The losses that fit data with ``n_classes`` (0 = regression), the usual one first
    (what ``loss=auto`` picks): ce also fits two classes, as two softmax outputs."""
    if n_classes == 0:
        return ["mse"]
    return ["bce", "ce", "mse"] if n_classes == 2 else ["ce"]


def flag(name: str) -> str:
    """The command-line flag of a parameter: ``learning_rate`` -> ``--learning-rate``."""
    return "--" + name.replace("_", "-")


class RunConfig(param.Parameterized):
    """Everything that defines a training run."""

    # --- data
    dataset = param.Selector(default="circle", objects=list(DATASETS), doc="2-D data set")
    classes = param.Integer(default=2, bounds=(2, MAX_CLASSES), doc="classes (blobs only)")
    noise = param.Number(default=0.0, bounds=(0, 50), doc="noise 0..50 as in TF Playground (flips labels or spreads points)")
    train_ratio = param.Number(default=50.0, bounds=(10, 90), doc="percent of points used for training")
    points = param.Integer(default=500, bounds=(10, 20000), doc="number of points")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), doc="seed for data, weights and batches")
    features = param.ListSelector(default=["x1", "x2"], objects=list(FEATURES), doc="input features")
    csv = param.String(default=None, allow_None=True, doc="CSV file with columns x1,x2,label")
    # --- network
    hidden = param.List(default=[4, 2], item_type=int, doc="neurons per hidden layer, e.g. 8,8")
    activation = param.List(default=["tanh"], item_type=str,
                            doc="one activation for all hidden layers, or one per layer")
    initialization = param.Selector(default="xavier", objects=list(INITIALIZATIONS), doc="weight init")
    wide = param.Boolean(default=False, doc=f"allow up to {WIDE_MAX_NEURONS} neurons per layer")
    # --- training
    loss = param.Selector(default="auto", objects=["auto", *LOSSES],
                          doc="auto: bce for 2 classes, ce for more, mse for regression")
    regularization = param.Selector(default="none", objects=["none", "l1", "l2"], doc="penalty on weights")
    reg_rate = param.Number(default=0.0, bounds=(0, 10), doc="regularization rate")
    optimizer = param.Selector(default="adam", objects=list(OPTIMIZERS), doc="update rule, as torch.optim")
    learning_rate = param.Number(default=None, allow_None=True, bounds=(0, 100),
                                 inclusive_bounds=(False, True), doc="step size (torch's default if unset)")
    momentum = param.Number(default=None, allow_None=True, bounds=(0, 1),
                            inclusive_bounds=(True, False), doc="momentum/nesterov/rmsprop momentum")
    beta1 = param.Number(default=None, allow_None=True, bounds=(0, 1), inclusive_bounds=(True, False),
                         doc="adam/adamw first-moment decay")
    beta2 = param.Number(default=None, allow_None=True, bounds=(0, 1), inclusive_bounds=(True, False),
                         doc="adam/adamw second-moment decay")
    eps = param.Number(default=None, allow_None=True, bounds=(0, 1), inclusive_bounds=(False, True),
                       doc="term added to the denominator")
    alpha = param.Number(default=None, allow_None=True, bounds=(0, 1), inclusive_bounds=(True, False),
                         doc="rmsprop smoothing constant")
    weight_decay = param.Number(default=None, allow_None=True, bounds=(0, 10), doc="torch's weight decay")
    batch_size = param.Integer(default=10, bounds=(1, 20000), doc="points per minibatch")
    epochs = param.Integer(default=100, bounds=(0, 10_000_000), doc="passes over the training set")
    backend = param.Selector(default="auto", objects=list(BACKENDS), doc="numeric backend")
    dtype = param.Selector(default="float64", objects=["float64", "float32"], doc="float precision")

    # ------------------------------------------------------------------ building
    @classmethod
    def setting_names(cls) -> list[str]:
        return [name for name in cls.param if name != "name"]

    @classmethod
    def from_values(cls, values: dict, *, names_as="flag") -> "RunConfig":
        """A checked config from raw values (strings or JSON values), defaults for the rest.

        ``names_as`` picks how settings are named in messages: ``"flag"`` (``--noise``)
        or ``"key"`` (``noise``, for a JSON config).
        """
        config = cls()
        config.update_checked(values, names_as=names_as)
        return config

    def update_checked(self, values: dict, *, names_as="flag") -> None:
        """Set several settings, converting and checking each; then check them together."""
        show = flag if names_as == "flag" else (lambda n: repr(n))
        self.apply_checked(self.convert_values(values, show), show)

    @classmethod
    def convert_values(cls, values: dict, show=flag) -> dict:
        """Raw user values -> typed, bounds-checked values (not yet cross-checked)."""
        checked = {}
        for name, raw in values.items():
            if name not in cls.setting_names():
                raise ConfigError(f"unknown setting {show(name)}; known: {', '.join(cls.setting_names())}")
            checked[name] = _convert(cls.param[name], raw, show(name))
        return checked

    def apply_checked(self, checked: dict, show=flag) -> None:
        """Cross-check converted values on a copy, then set them: a refused change leaves
        this config as it was."""
        trial = type(self)(**{**{n: getattr(self, n) for n in self.setting_names()}, **checked})
        trial.check(show)
        self.param.update(**checked)

    def check(self, show=flag) -> None:
        """Cross-setting checks that bounds alone cannot express."""
        limit = WIDE_MAX_NEURONS if self.wide else PLAYGROUND_MAX_NEURONS
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f"{show('hidden')} has {len(self.hidden)} layers; at most {MAX_HIDDEN_LAYERS}")
        for size in self.hidden:
            if not 1 <= size <= limit:
                hint = f" (pass --wide for up to {WIDE_MAX_NEURONS})" if not self.wide and limit < size <= WIDE_MAX_NEURONS else ""
                raise ConfigError(f"{show('hidden')}: a layer needs 1 to {limit} neurons, got {size}{hint}")
        for name in self.activation:
            if name not in ACTIVATIONS:
                raise ConfigError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
        if len(self.activation) not in (1, len(self.hidden)) and self.hidden:
            raise ConfigError(f"{show('activation')}: give one activation, or one per hidden layer "
                              f"({len(self.hidden)}), not {len(self.activation)}")
        if not self.features:
            raise ConfigError(f"{show('features')}: choose at least one of {', '.join(FEATURES)}")
        if self.csv is None:
            self.check_loss(self.plane_classes(), show)

    def check_served(self) -> None:
        """Refuse what a page of the served app may not ask for (an imported session file):
        the wide networks, which are for the command line and notebooks."""
        if self.wide:
            raise ConfigError(f"wide networks (more than {PLAYGROUND_MAX_NEURONS} neurons a layer) run from the "
                              "command line or a notebook, not in the shared app")

    @staticmethod
    def frame_steps(wanted_steps: int, batch_size: int, n_parameters: int) -> int:
        """Minibatch steps one frame of the served app trains: ``wanted_steps``, fewer when
        they would exceed MAX_FRAME_WORK (steps x batch_size x n_parameters); at least 1."""
        per_step = max(1, batch_size * n_parameters)
        return max(1, min(int(wanted_steps), MAX_FRAME_WORK // per_step))

    def check_loss(self, n_classes: int, show=flag) -> None:
        """Refuse a loss that does not fit data with ``n_classes`` (0 = regression)."""
        loss = self.loss
        if loss == "auto" or loss in losses_for(n_classes):
            return
        if n_classes == 0:
            raise ConfigError(f"{show('loss')}: {loss} needs class labels; regression data takes mse")
        raise ConfigError(f"{show('loss')}: {loss} fits 2 classes; {n_classes} classes take ce")

    # ------------------------------------------------------------------ derived
    def plane_classes(self) -> int:
        """The classes of the built-in data set chosen (0: regression); a CSV's own are in
        its file (``load_data(config).n_classes``)."""
        if self.dataset in REGRESSION:
            return 0
        return self.classes if self.dataset == "blobs" else 2

    def fitted_loss(self, n_classes: int, was_n_classes: int, loss_chosen: bool = False) -> str:
        """The loss to train new data with ``n_classes`` (0: regression) with, coming from data
        with ``was_n_classes``: the loss set if it fits and the classes did not change (or it
        was ``loss_chosen`` with the data), else the data's usual one (bce for two classes;
        ce stays only where it was picked for two)."""
        options = losses_for(n_classes)
        if self.loss == "auto" or (self.loss in options and (loss_chosen or n_classes == was_n_classes)):
            return self.loss
        return options[0]

    def resolved_loss(self, n_classes: int) -> str:
        return losses_for(n_classes)[0] if self.loss == "auto" else self.loss

    def activations_per_layer(self) -> tuple[str, ...]:
        names = list(self.activation) or ["tanh"]
        return tuple(names * len(self.hidden) if len(names) == 1 else names)

    def network_spec(self, n_classes: int) -> NetworkSpec:
        loss = self.resolved_loss(n_classes)
        n_outputs = n_classes if loss == "ce" else 1
        return NetworkSpec((len(self.features), *self.hidden, n_outputs),
                           self.activations_per_layer(), loss)

    def optimizer_settings(self) -> OptimizerSettings:
        """The optimizer with torch's defaults for every hyper-parameter left unset."""
        given = {name: getattr(self, name) for name in HYPERPARAMETERS}
        return OptimizerSettings.with_defaults(self.optimizer, **given)

    def own_hyperparameters(self) -> tuple[str, ...]:
        """The hyper-parameters that the chosen optimizer reads."""
        return OWN_HYPERPARAMETERS[self.optimizer]

    # Settings a link may not carry: a file path on the server, and the wide networks (up to
    # 1024 neurons a layer), which are for the command line and notebooks, not a shared server.
    LINK_EXCLUDED = ("csv", "wide")

    def apply_query(self, query: dict) -> list[str]:
        """Apply a page's URL query (``?dataset=xor&hidden=4,2``) setting by setting.

        Bad or unknown entries are skipped (the rest applies); returns one message per
        skipped entry, for a notice.
        """
        problems, pending = [], {}
        for name, raw in query.items():
            if name in self.LINK_EXCLUDED:
                problems.append(f"{name!r} cannot be set from a link (ignored)")
            elif name not in self.setting_names():
                problems.append(f"unknown setting {name!r} ignored")
            else:
                pending[name] = raw
        if "loss" not in pending and self.csv is None and {"dataset", "classes"} & set(pending):
            pending["loss"] = self._loss_for_linked_data(pending)  # the link's data decides
        # Settings can depend on each other (classes=3 needs loss=ce and the other way
        # round), so whatever order the link lists them in: all together first; else all
        # but one, to find the one entry that does not fit; else those that apply alone.
        while pending:
            if self._try_update(pending):
                break
            culprit = next((name for name in pending
                            if self._try_update({k: v for k, v in pending.items() if k != name})), None)
            if culprit is not None:
                problems.append(f"{self._refusal({culprit: pending[culprit]})} (ignored)")
                break
            applied = [name for name in list(pending) if self._try_update({name: pending[name]})]
            if not applied:
                problems += [f"{self._refusal({name: raw})} (ignored)" for name, raw in pending.items()]
                break
            for name in applied:
                del pending[name]
        return problems

    def _loss_for_linked_data(self, pending: dict) -> str:
        """The loss that fits the data a link names (``?dataset=blobs&classes=4``: ce), if
        the link does not name one itself: as when the data is changed on the page."""
        trial = type(self)(**{n: getattr(self, n) for n in ("dataset", "classes", "loss")})
        for name in ("dataset", "classes"):
            if name in pending:
                try:
                    setattr(trial, name, self.convert_values({name: pending[name]})[name])
                except (ConfigError, ValueError):
                    pass  # refused with its own message below
        return trial.fitted_loss(trial.plane_classes(), self.plane_classes())

    def _try_update(self, values: dict) -> bool:
        try:
            self.update_checked(values, names_as="key")
            return True
        except ConfigError:
            return False

    def _refusal(self, values: dict) -> str:
        """Why ``values`` cannot be applied now (a ConfigError's message)."""
        try:
            self.update_checked(values, names_as="key")
        except ConfigError as err:
            return str(err)
        return f"{', '.join(values)} did not fit the other settings"

    def query(self, defaults: "RunConfig") -> dict:
        """The settings that differ from ``defaults``, as URL query strings."""
        values = {}
        torch_defaults = OptimizerSettings.with_defaults(self.optimizer)
        for name in self.setting_names():
            value = getattr(self, name)
            if name == "activation" and len(set(value)) == 1:
                value = value[:1]  # one name for all layers
            if value is None and name in HYPERPARAMETERS:
                value = getattr(self.optimizer_settings(), name)  # unset: the value in use, not "None"
            if name in HYPERPARAMETERS and name != "learning_rate" and value == getattr(torch_defaults, name):
                continue  # the optimizer's own default: the link need not carry it
            if name in self.LINK_EXCLUDED or value == getattr(defaults, name):
                continue
            if value is not None:
                values[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        return values

    def to_dict(self) -> dict:
        """Plain JSON-ready values, keyed by setting name."""
        return {name: (list(v) if isinstance(v, list) else v)
                for name in self.setting_names() for v in [getattr(self, name)]}

    @classmethod
    def load_json(cls, path) -> dict:
        """Raw values from a JSON config file; ConfigError when it cannot be read."""
        values = read_json_file(path, "config file", ConfigError, MAX_CONFIG_BYTES)
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold one JSON object of settings")
        if values.get("format") == "nn-playground-session":  # a saved session: its settings
            values = {k: v for k, v in values.get("settings", {}).items() if k != "csv"}
        return values


def _convert(parameter, raw, shown: str):
    """Turn a raw user value into the parameter's type, or raise ConfigError."""
    def fail(expected):
        raise ConfigError(f"{shown} must be {expected}, got {_shorten(raw)}")

    if raw is None:
        if parameter.allow_None:
            return None
        fail("set")
    if isinstance(raw, bool) and not isinstance(parameter, param.Boolean):
        fail("a number" if isinstance(parameter, param.Number) else "a list or text")
    if isinstance(parameter, param.Boolean):
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off"):
            return False
        fail("true or false")
    if isinstance(parameter, (param.List, param.ListSelector)):
        items = raw if isinstance(raw, (list, tuple)) else [s.strip() for s in str(raw).split(",") if s.strip()]
        if isinstance(parameter, param.ListSelector):
            unknown = [i for i in items if i not in parameter.objects]
            if unknown:
                raise ConfigError(f"{shown}: unknown {unknown[0]!r}; choose from {', '.join(parameter.objects)}")
            return list(items)
        if parameter.item_type is int:
            try:
                if any(isinstance(i, bool) for i in items):
                    raise ValueError
                values = [int(i) if not isinstance(i, float) or i.is_integer() else int("x") for i in items]
            except (TypeError, ValueError):
                fail("a comma-separated list of whole numbers, like 8,8 (empty for none)")
            return values
        return [str(i).strip() for i in items]
    if isinstance(parameter, param.Selector):
        if raw not in parameter.objects:
            raise ConfigError(f"unknown {shown.strip('-')} {raw!r}; choose from "
                              f"{', '.join(map(str, parameter.objects))}")
        return raw
    if isinstance(parameter, param.String):
        return str(raw)
    if isinstance(parameter, param.Number):
        integer = isinstance(parameter, param.Integer)
        try:
            value = int(raw) if integer and not isinstance(raw, float) else float(raw)
        except (TypeError, ValueError):
            fail("a whole number" if integer else "a number")
        if isinstance(raw, bool) or value != value or value in (float("inf"), float("-inf")):
            fail("a finite number")
        if integer and value != int(value):
            fail("a whole number")
        value = int(value) if integer else value
        low, high = parameter.bounds
        inc_low, inc_high = parameter.inclusive_bounds
        if (low is not None and (value < low or (value == low and not inc_low))) or \
           (high is not None and (value > high or (value == high and not inc_high))):
            raise ConfigError(f"{shown} must be {_range_text(low, high, inc_low, inc_high)}, got {_shorten(raw, quote=False)}")
        return value
    return raw


def _shorten(raw, quote: bool = True, limit: int = 40) -> str:
    """A user's value for an error message: as written (``repr``), cut to ``limit`` characters."""
    text = repr(raw) if quote else str(raw)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(str(raw)):,} characters)"


def _range_text(low, high, inc_low, inc_high) -> str:
    if inc_low and inc_high:
        return f"between {low} and {high}"
    if low == 0 and not inc_low and high is not None:
        return f"greater than 0 and at most {high}"
    left = "at least" if inc_low else "greater than"
    right = "at most" if inc_high else "less than"
    return f"{left} {low} and {right} {high}"


class DescentConfig(param.Parameterized):
    """An optimizer race on an analytic surface (``nn-playground descend``)."""

    surface = param.Selector(default="rosenbrock", objects=list(SURFACES), doc="analytic surface")
    steps = param.Integer(default=150, bounds=(0, 100_000), doc="optimizer steps")
    start = param.List(default=None, allow_None=True, item_type=float,
                       doc="start point x,y (default: the surface's own)")

    @classmethod
    def from_values(cls, values: dict) -> "DescentConfig":
        checked = {}
        for name, raw in values.items():
            if name == "start":
                try:
                    point = [float(v) for v in str(raw).split(",")]
                    if len(point) != 2 or not all(math.isfinite(v) for v in point):
                        raise ValueError
                except ValueError:
                    raise ConfigError(f"--start must be two numbers x,y like -1.5,2, got {raw!r}") from None
                checked[name] = point
            else:
                checked[name] = _convert(cls.param[name], raw, flag(name))
        config = cls(**checked)
        surface = SURFACES[config.surface]
        if config.start is not None and not surface.contains(*config.start):
            x0, x1, y0, y1 = surface.extent
            raise ConfigError(f"--start {raw_point(config.start)} is off the {config.surface} surface; "
                              f"choose x in [{x0:g}, {x1:g}] and y in [{y0:g}, {y1:g}]")
        return config

    def start_point(self) -> tuple[float, float]:
        return tuple(self.start) if self.start is not None else SURFACES[self.surface].default_start


def raw_point(point) -> str:
    return ",".join(f"{v:g}" for v in point)
