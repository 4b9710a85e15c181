"""One training run: config, data, backend state, counters and history.

A :class:`Session` advances its network N minibatch steps at a time and returns a small
:class:`Frame` of what changed. It knows nothing about Panel: the CLI, the benchmark and
the app's views all drive it the same way.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np

from kernels import OptimizerSettings, initial_parameters, make_backend
from kernels import losses
from kernels import reference

from playground.core.config import RunConfig
from playground.core.data import DATA_RANGE, DataSet, feature_matrix, generate, load_csv

GRID_SIZE = 100  # the boundary heatmap is GRID_SIZE x GRID_SIZE
THUMBNAIL_SIZE = 24  # each neuron's output over the plane, for the network diagram
SATURATED = 0.97  # |tanh| or sigmoid within 3% of a flat end: derivative nearly 0
EXPLODED = 1e4  # a loss this many times the initial one (and above 1) counts as diverged


@dataclass
class Frame:
    """What one ``advance`` produced; losses are means over the whole split."""

    epoch: float  # passes over the training set so far (fractional mid-epoch)
    step: int  # minibatch steps so far
    train_loss: float
    test_loss: float
    train_accuracy: float | None  # fraction 0..1; None for regression
    test_accuracy: float | None
    diverged: bool
    message: str  # one human sentence when something needs saying, else ""
    params: np.ndarray  # (P,) float64 copy of the flat parameter vector
    boundary: np.ndarray | None = None  # (GRID_SIZE, GRID_SIZE) see Session.boundary
    gradient: np.ndarray | None = None  # (P,) float64, full training set, when asked for
    train_seconds: float = 0.0  # time spent in the backend's train call


def encode_targets(labels: np.ndarray, loss: str, n_classes: int) -> np.ndarray:
    """Labels ``(n,)`` -> training targets ``(n, n_outputs)`` float64.

    mse: the value (regression) or -1/+1 (two classes, as the TensorFlow Playground);
    bce: 0/1; ce: one-hot over ``n_classes``.
    """
    if loss == "ce":
        return np.eye(n_classes)[labels.astype(np.int64)]
    if loss == "bce":
        return labels.astype(np.float64)[:, None]
    if n_classes == 0:
        return labels.astype(np.float64)[:, None]
    return np.where(labels > 0, 1.0, -1.0)[:, None]


def load_data(config: RunConfig) -> DataSet:
    """The data set a config asks for (generated, or read from its CSV file)."""
    if config.csv:
        return load_csv(config.csv, train_ratio=config.train_ratio, seed=config.seed)
    return generate(config.dataset, n_points=config.points, noise=config.noise, seed=config.seed,
                    classes=config.classes, train_ratio=config.train_ratio)


@dataclass(frozen=True)
class TrainingSettings:
    """What a training step reads of the settings that may change while a run goes on: the
    optimizer with its hyper-parameters, and the penalty. A job in a worker thread gets its
    own copy (:meth:`Session.training_settings`), taken on the event loop, which may change
    the config meanwhile."""

    optimizer: OptimizerSettings
    regularization: str
    reg_rate: float


class Session:
    """One user's run. Raises :class:`ConfigError`/:class:`DataError` for bad settings.

    The network, the data and the minibatch size are fixed for a session's life (a change
    of any of them makes a new session); the optimizer and the penalty may change between
    steps, and are read through :meth:`training_settings`.
    """

    def __init__(self, config: RunConfig, data: DataSet | None = None):
        config.check(show=repr)  # settings changed one by one (a page's widgets) are checked together here
        self.config = config
        self.data = data if data is not None else load_data(config)
        config.check_loss(self.data.n_classes)
        self.spec = config.network_spec(self.data.n_classes)
        self.loss = self.spec.loss
        self.n_classes = self.data.n_classes
        dtype = np.dtype(config.dtype)
        targets = encode_targets(self.data.labels, self.loss, self.n_classes)
        inputs = feature_matrix(self.data.points, config.features)
        train = self.data.is_train
        self.X_train = np.ascontiguousarray(inputs[train], dtype)
        self.T_train = np.ascontiguousarray(targets[train], dtype)
        self.X_test = np.ascontiguousarray(inputs[~train], dtype)
        self.T_test = np.ascontiguousarray(targets[~train], dtype)
        self.extent = self._extent()
        self.X_grid = self._plane_features(GRID_SIZE, dtype)
        self.X_thumbnail = self._plane_features(THUMBNAIL_SIZE, dtype)
        self.backend = make_backend(config.backend, self.spec, self._initial_params(), dtype)
        self.batch_size = int(config.batch_size)
        self.reset()

    def training_settings(self) -> TrainingSettings:
        """A frozen copy of the settings that the next steps train with (see TrainingSettings)."""
        return TrainingSettings(self.config.optimizer_settings(), self.config.regularization,
                                float(self.config.reg_rate))

    # ------------------------------------------------------------------ state
    def _initial_params(self, reseed: int = 0) -> np.ndarray:
        return initial_parameters(self.spec, self.config.initialization, self.config.seed + reseed)

    def _extent(self) -> tuple[float, float, float, float]:
        """(x1_min, x1_max, x2_min, x2_max) of the plotted plane."""
        if not self.config.csv:
            return (-DATA_RANGE, DATA_RANGE, -DATA_RANGE, DATA_RANGE)
        low, high = self.data.points.min(axis=0), self.data.points.max(axis=0)
        pad = 0.05 * np.maximum(high - low, 1e-9)
        return (low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])

    def _plane_features(self, size: int, dtype) -> np.ndarray:
        """Input features of a ``size`` x ``size`` grid over the plane, ``(size*size, F)``.

        Row-major: grid row i is x2 = the i-th value from the bottom, column j is x1.
        """
        xs = np.linspace(self.extent[0], self.extent[1], size)
        ys = np.linspace(self.extent[2], self.extent[3], size)
        gx, gy = np.meshgrid(xs, ys)
        points = np.column_stack([gx.ravel(), gy.ravel()])
        return np.ascontiguousarray(feature_matrix(points, self.config.features), dtype)

    def neuron_maps(self) -> list[np.ndarray]:
        """Every neuron's output over the plane, for thumbnails on the network diagram.

        One array per layer, inputs first: ``(THUMBNAIL_SIZE, THUMBNAIL_SIZE, width)``;
        the last holds the output layer's logits.
        """
        size = THUMBNAIL_SIZE
        layers = [self.X_thumbnail] + self.backend.layer_outputs(self.X_thumbnail)
        return [np.asarray(a, dtype=np.float64).reshape(size, size, a.shape[1]) for a in layers]

    def diagnostics(self) -> dict:
        """Why the network learns (or not), on the full training set at the current state.

        ``layer_grad_norms``: Frobenius norm of each weight layer's gradient (mean loss +
        penalty), first hidden layer first, output layer last. Per hidden layer:
        ``saturated_fraction``, the share of (point, unit) outputs of sigmoid/tanh units
        within 3% of a flat end; ``dead_fraction``, the share of relu units that are 0 on
        every training point (0 for other activations).
        """
        norms = self.spec.layout().weight_norms(self.gradient())
        saturated, dead = self.unit_fractions()
        return {"layer_grad_norms": norms, "saturated_fraction": saturated, "dead_fraction": dead}

    def unit_fractions(self) -> tuple[list[float], list[float]]:
        """Per hidden layer on the training set: (saturated fraction, dead fraction); see
        :meth:`diagnostics`."""
        saturated, dead = [], []
        outputs = self.backend.layer_outputs(self.X_train)[:-1]
        for name, a in zip(self.spec.activations, outputs):
            a = np.asarray(a, dtype=np.float64)
            if name == "tanh":
                saturated.append(float(np.mean(np.abs(a) > SATURATED)))
            elif name == "sigmoid":
                saturated.append(float(np.mean((a < 1 - SATURATED) | (a > SATURATED))))
            else:
                saturated.append(0.0)
            dead.append(float(np.mean(np.all(a <= 0.0, axis=0))) if name == "relu" else 0.0)
        return saturated, dead

    def reset(self, reseed: int = 0) -> None:
        """Epoch 0 with fresh weights (``reseed`` > 0 draws different ones), same settings."""
        self.backend.set_params(self._initial_params(reseed))
        self._optimizer_name = self.config.optimizer
        self._batch_rng = np.random.default_rng([self.config.seed + reseed, 2])  # stream 2: batches
        self._epoch_order = self._batch_rng.permutation(len(self.X_train))
        self._batch_in_epoch = 0
        self.step = 0
        self.diverged = False
        self.message = ""
        self.history = {"epoch": [], "train_loss": [], "test_loss": []}
        self._initial_loss = None
        self.last_frame = None

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.X_train) / self.batch_size)

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    # ------------------------------------------------------------------ training
    def _next_batches(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n_steps`` minibatches as (sample_order, batch_bounds); see Backend."""
        n_train, size, per_epoch = len(self.X_train), self.batch_size, self.steps_per_epoch
        orders, bounds, base = [], [np.zeros(1, np.int64)], 0
        while n_steps > 0:
            if self._batch_in_epoch >= per_epoch:  # a new epoch: a new shuffle
                self._epoch_order = self._batch_rng.permutation(n_train)
                self._batch_in_epoch = 0
            first = self._batch_in_epoch
            last = min(per_epoch, first + n_steps)
            edges = np.minimum(np.arange(first, last + 1) * size, n_train)
            orders.append(self._epoch_order[edges[0]: edges[-1]])
            bounds.append(base + edges[1:] - edges[0])
            base += edges[-1] - edges[0]
            n_steps -= last - first
            self._batch_in_epoch = last
        return np.concatenate(orders), np.concatenate(bounds)

    def peek_batch(self) -> np.ndarray:
        """Row indices into ``X_train`` of the minibatch that the next step trains on, ``(b,)``.

        Consumes nothing: the next :meth:`advance` draws exactly these rows (at an epoch's
        end the shuffle for the next epoch is drawn from a copy of the batch generator).
        """
        n_train, size = len(self.X_train), self.batch_size
        order, batch = self._epoch_order, self._batch_in_epoch
        if batch >= self.steps_per_epoch:
            order, batch = copy.deepcopy(self._batch_rng).permutation(n_train), 0
        return np.array(order[batch * size: min((batch + 1) * size, n_train)])

    def optimizer_state(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The optimizer state that the next step starts from: float64 copies of ``state1``
        and ``state2`` (flat ``(P,)``, see :mod:`kernels.optimizers`) and the optimizer's step
        count; fresh (zeros, 0) when the optimizer was changed since the last step."""
        backend = self.backend
        if self.config.optimizer != self._optimizer_name:
            zeros = np.zeros(self.spec.layout().size)
            return zeros, zeros.copy(), 0
        return (np.array(backend.state1, dtype=np.float64), np.array(backend.state2, dtype=np.float64),
                int(backend.step))

    def advance(self, n_steps: int, boundary: bool = True, gradient: bool = False,
                settings: TrainingSettings | None = None) -> Frame:
        """Train ``n_steps`` minibatch steps (none once diverged) and return the new frame.

        ``settings``: what to train with (default: the config's now); a worker thread gets a
        copy taken on the event loop, so a change meanwhile waits for the next frame."""
        settings = settings or self.training_settings()
        if self._initial_loss is None:
            self.frame(boundary=False)  # record the untrained losses first
        seconds = 0.0
        if n_steps > 0 and not self.diverged:
            if settings.optimizer.name != self._optimizer_name:  # other update rule: fresh state
                self.backend.set_params(self.backend.get_params())
                self._optimizer_name = settings.optimizer.name
            order, bounds = self._next_batches(n_steps)
            started = time.perf_counter()
            self.step += self.backend.train(self.X_train, self.T_train, order, bounds, settings.optimizer,
                                            settings.regularization, settings.reg_rate)
            seconds = time.perf_counter() - started
        return self.frame(boundary=boundary, gradient=gradient, train_seconds=seconds, settings=settings)

    def run_epochs(self, n_epochs: float, boundary: bool = False) -> Frame:
        """Train whole epochs (``n_epochs`` may be fractional) and return the frame."""
        return self.advance(round(n_epochs * self.steps_per_epoch), boundary=boundary)

    # ------------------------------------------------------------------ readouts
    def _losses(self, X, T) -> tuple[float, float | None]:
        if len(X) == 0:
            return float("nan"), None
        logits = self.backend.logits(X).astype(np.float64)
        loss = losses.loss_value(logits, T.astype(np.float64), self.loss)
        if self.n_classes == 0:
            return loss, None
        if self.loss == "ce":
            correct = logits.argmax(axis=1) == T.argmax(axis=1)
        else:
            correct = (logits[:, 0] > 0) == (T[:, 0] > 0)
        return loss, float(np.mean(correct))

    def boundary(self, params: np.ndarray | None = None) -> np.ndarray:
        """The network over the plane, ``(GRID_SIZE, GRID_SIZE)``; row i is x2, column j x1.

        Two classes: probability of class 1 (0..1; for mse the output mapped from -1..1).
        More classes: the predicted class number. Regression: the predicted value.
        ``params``: other flat parameters ``(P,)`` to draw instead of the network's own
        (computed with the reference backend's NumPy math; the network is not changed).
        """
        if params is None:
            logits = self.backend.logits(self.X_grid).astype(np.float64)
        else:
            logits = reference.forward(self.spec, self.spec.layout(), np.asarray(params, dtype=np.float64),
                                       self.X_grid.astype(np.float64))[0][-1]
        if self.loss == "ce":
            values = logits.argmax(axis=1).astype(np.float64)
        elif self.loss == "bce":
            values = losses.sigmoid(logits[:, 0])
        elif self.n_classes == 2:
            values = (np.clip(logits[:, 0], -1.0, 1.0) + 1.0) / 2.0
        else:
            values = logits[:, 0]
        return values.reshape(GRID_SIZE, GRID_SIZE)

    def gradient(self, settings: TrainingSettings | None = None) -> np.ndarray:
        """Gradient of mean training loss + penalty at the current weights, flat ``(P,)``
        (the penalty of ``settings``, default the config's now)."""
        settings = settings or self.training_settings()
        return self.backend.gradient(self.X_train, self.T_train, settings.regularization,
                                     settings.reg_rate).astype(np.float64)

    def frame(self, boundary: bool = True, train_seconds: float = 0.0, gradient: bool = False,
              settings: TrainingSettings | None = None) -> Frame:
        """The current state as a frame; also appends to the history and checks divergence.
        ``settings``: those of the steps just trained (default: the config's now)."""
        settings = settings or self.training_settings()
        train_loss, train_acc = self._losses(self.X_train, self.T_train)
        test_loss, test_acc = self._losses(self.X_test, self.T_test)
        if self._initial_loss is None:
            self._initial_loss = train_loss
        params = self.backend.get_params()
        if not self.diverged and self._is_diverged(train_loss, params):
            self.diverged = True
            lr = settings.optimizer.learning_rate
            grew = "became NaN" if not math.isfinite(train_loss) else f"grew to {train_loss:.3g}"
            self.message = (f"Training diverged at epoch {self.epoch:.0f}: the loss {grew}. "
                            f"The learning rate {lr:g} is too big; try a smaller one, like {lr / 10:g}.")
        if not self.history["epoch"] or self.history["epoch"][-1] != self.epoch:
            self.history["epoch"].append(self.epoch)
            self.history["train_loss"].append(train_loss)
            self.history["test_loss"].append(test_loss)
        self.last_frame = Frame(self.epoch, self.step, train_loss, test_loss, train_acc, test_acc,
                                self.diverged, self.message, params,
                                boundary=self.boundary() if boundary else None,
                                gradient=self.gradient(settings) if gradient else None, train_seconds=train_seconds)
        return self.last_frame

    def _is_diverged(self, train_loss: float, params: np.ndarray) -> bool:
        if not math.isfinite(train_loss) or not np.all(np.isfinite(params)):
            return True
        return train_loss > EXPLODED * max(1.0, self._initial_loss)
