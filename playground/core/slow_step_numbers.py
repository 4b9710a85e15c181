"""One training step in slow motion: the numbers of its four phases.

A normal step of a :class:`~playground.core.session.Session` trains on its next minibatch in
one call to the fast kernels. :func:`compute` works out the same step apart from them, with
the reference backend's NumPy math (:mod:`kernels.reference`, :mod:`kernels.losses`,
:func:`kernels.optimizers.update_reference`), phase by phase:

1. **forward**: every layer's weighted sums ``z`` and outputs ``a`` for one spelled-out
   training point (by default the first of the batch);
2. **loss**: that point's prediction against its target, the loss of every training point
   (the app sizes the points on the data plot by it), the batch's mean loss and penalty;
3. **backward**: dL/dw of every weight and dL/db of every bias over the whole batch, and
   per point of the batch the chain-rule factors behind each of them
   (:func:`chain_rule`);
4. **update**: every parameter before and after the optimizer's step, with the
   optimizer's state (velocity, m and v with Adam's bias correction, ...).

Nothing here changes the session: :func:`apply` then takes the step with the session's own
:meth:`~playground.core.session.Session.advance` (same batch, same kernels, same counters), so a
slow step leaves the network exactly where a normal step would, and the phase numbers
agree with it (to rounding; the tests check 1e-12 relative for float64).

Shapes: ``F`` inputs, ``P`` parameters (the flat layout of :mod:`kernels.spec`), ``B`` points
in the batch, ``N`` training points; layer ``l`` counts weight layers, 0 = first hidden
(or the output layer when there are no hidden layers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kernels import losses
from kernels.activations import activate, derivative
from kernels.optimizers import OptimizerSettings, update_reference

from playground.core.session import Frame, Session

# The mean loss over a batch of B points, as written for a learner (y: target, ŷ: output).
LOSS_FORMULAS = {
    "mse": "L = (1/B) Σ (ŷ − y)²   with ŷ = z, the output as it is (mean squared error)",
    "bce": "L = (1/B) Σ −[y·log ŷ + (1 − y)·log(1 − ŷ)]   with ŷ = σ(z) (binary cross-entropy)",
    "ce": "L = (1/B) Σ −log ŷ_y   with ŷ = softmax(z), ŷ_y the probability of the true class "
          "(cross-entropy)",
}
PENALTY_FORMULAS = {"none": "", "l1": " + λ·Σ|w|", "l2": " + (λ/2)·Σ w²"}
# What the output layer's dL/dz is for one point: the loss and the output function together.
OUTPUT_ERROR_FORMULAS = {"mse": "2·(ŷ − y)", "bce": "ŷ − y", "ce": "ŷ − y, y one-hot"}
OUTPUT_FUNCTIONS = {"mse": "linear", "bce": "sigmoid", "ce": "softmax"}


class SlowStepRefused(ValueError):
    """No slow step now; the message says why and what to do."""


@dataclass(frozen=True)
class Backprop:
    """Forward and backward pass over a few points, every array one row per point.

    ``zs[l]`` ``(n, fan_out)``: pre-activations of weight layer ``l``; ``inputs[l]``
    ``(n, fan_in)``: what layer ``l`` reads (``inputs[0]`` are the features); ``outputs``
    ``(n, n_out)``: the network's output (identity, sigmoid or softmax of the last z);
    ``upstream[l]`` ``(n, fan_out)``: dL_p/da, the gradient arriving at layer ``l``'s outputs
    from above (for the output layer: dL_p/dz); ``slopes[l]``: f'(z) (1 for the output
    layer, whose output function is folded into ``upstream``); ``deltas[l]`` = upstream ×
    slope = dL_p/dz. ``L_p`` is one point's own loss, not divided by the batch size.
    """

    zs: list
    inputs: list
    outputs: np.ndarray
    upstream: list
    slopes: list
    deltas: list


@dataclass(frozen=True)
class ChainRule:
    """How dL/dw of one weight ``W[layer][i, j]`` comes about, point by point of the batch.

    Per point p (arrays ``(B,)``): ``upstream`` dL_p/da_j, ``slope`` f'(z_j), ``inputs`` a_i;
    ``products`` = upstream × slope × input. The loss is a mean over the batch, so
    ``mean`` = sum(products) / B; ``penalty`` is the regularization's share (0 without);
    ``total`` = mean + penalty is the displayed dL/dw.
    """

    layer: int
    i: int
    j: int
    upstream: np.ndarray
    slope: np.ndarray
    inputs: np.ndarray
    products: np.ndarray
    mean: float
    penalty: float
    total: float


@dataclass(frozen=True)
class Update:
    """The optimizer's step over every parameter, flat ``(P,)`` arrays.

    ``gradient``: what the optimizer reads (mean batch loss + penalty); ``before``/``after``:
    the parameters; ``state1``/``state2`` before and ``new_state1``/``new_state2`` after
    (see :mod:`kernels.optimizers` for what they hold per optimizer); ``step``: the
    optimizer's step number t of this update (1 on the first). For adam/adamw also the
    bias corrections ``1 − β1^t`` and ``1 − β2^t`` and the corrected moments ``m_hat``,
    ``v_hat``; None for the others.
    """

    settings: OptimizerSettings
    step: int
    gradient: np.ndarray
    before: np.ndarray
    after: np.ndarray
    state1: np.ndarray
    state2: np.ndarray
    new_state1: np.ndarray
    new_state2: np.ndarray
    bias_correction1: float | None = None
    bias_correction2: float | None = None
    m_hat: np.ndarray | None = None
    v_hat: np.ndarray | None = None

    @property
    def change(self) -> np.ndarray:
        """after − before, ``(P,)``."""
        return self.after - self.before


@dataclass(frozen=True)
class SlowStepData:
    """The four phases of a session's next minibatch step (see the module's docstring)."""

    loss: str  # mse, bce or ce
    step_before: int  # the session's step counter now; the slow step makes it step_before + 1
    epoch_before: float
    epoch_after: float
    batch: np.ndarray  # (B,) rows of X_train
    point: int  # the spelled-out training point, a row of X_train
    point_in_batch: bool
    features: np.ndarray  # (F,) the point's inputs
    target: np.ndarray  # (n_out,) its training target (see session.encode_targets)
    forward: Backprop  # for the point alone: one row per array
    point_loss: float  # its own loss
    point_losses: np.ndarray  # (N,) every training point's own loss, at the weights before the step
    batch_pass: Backprop  # for the batch: B rows per array
    batch_loss: float  # mean loss over the batch (what the step descends), without penalty
    penalty: float  # the regularization term at the weights before the step
    loss_formula: str
    regularization: str
    reg_rate: float
    data_gradient: np.ndarray  # (P,) gradient of the mean batch loss
    penalty_gradient: np.ndarray  # (P,) gradient of the penalty (0 on biases)
    update: Update
    layer_sizes: tuple = field(default=())

    @property
    def gradient(self) -> np.ndarray:
        """dL/d(parameter) of the batch, penalty included, flat ``(P,)``."""
        return self.update.gradient

    @property
    def step_after(self) -> int:
        return self.step_before + 1

    @property
    def prediction(self) -> np.ndarray:
        """The spelled-out point's output ``(n_out,)``: ŷ (identity, sigmoid or softmax of z)."""
        return self.forward.outputs[0]

    def is_current(self, session: Session) -> bool:
        """Whether ``session``'s next step is still this one: same step, optimizer settings
        and regularization (a change of any of them makes it another step)."""
        config = session.config
        return (session.step == self.step_before and not session.diverged
                and config.optimizer_settings() == self.update.settings
                and (config.regularization, float(config.reg_rate)) == (self.regularization, self.reg_rate))


# ------------------------------------------------------------------------------ the math

def per_point_losses(logits: np.ndarray, targets: np.ndarray, loss: str) -> np.ndarray:
    """Each point's own loss ``(n,)`` from its logits and targets ``(n, n_out)``; their mean
    is :func:`kernels.losses.loss_value`."""
    logits, targets = np.asarray(logits, np.float64), np.asarray(targets, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "mse":
            return np.sum((logits - targets) ** 2, axis=1)
        if loss == "bce":  # −[y log σ(z) + (1 − y) log(1 − σ(z))], written without overflow
            return np.sum(losses.softplus(logits) - targets * logits, axis=1)
        top = logits.max(axis=1, keepdims=True)  # −log softmax(z)_y = logsumexp(z) − z_y
        return top[:, 0] + np.log(np.exp(logits - top).sum(axis=1)) - np.sum(targets * logits, axis=1)


def backprop(session: Session, params: np.ndarray, X: np.ndarray, T: np.ndarray) -> Backprop:
    """Forward and backward pass of ``session``'s network with ``params`` ``(P,)`` over the
    points ``X`` ``(n, F)`` with targets ``T`` ``(n, n_out)``; see :class:`Backprop`."""
    spec, layout = session.spec, session.spec.layout()
    names = spec.activations + ("linear",)
    X, T = np.asarray(X, np.float64), np.asarray(T, np.float64)
    zs, inputs = [], [X]
    for layer in range(spec.n_layers):
        z = inputs[-1] @ layout.weights(params, layer) + layout.bias(params, layer)
        zs.append(z)
        inputs.append(activate(names[layer], z))
    outputs = losses.output(zs[-1], spec.loss)
    # dL_p/dz of the output: losses.output_delta is of the mean over n points, so times n.
    delta = losses.output_delta(zs[-1], T, spec.loss) * len(X)
    upstream, slopes, deltas = [None] * spec.n_layers, [None] * spec.n_layers, [None] * spec.n_layers
    upstream[-1], slopes[-1], deltas[-1] = delta, np.ones_like(delta), delta
    for layer in reversed(range(spec.n_layers - 1)):  # chain rule: back through W, then f'
        upstream[layer] = deltas[layer + 1] @ layout.weights(params, layer + 1).T
        slopes[layer] = derivative(names[layer], zs[layer])
        deltas[layer] = upstream[layer] * slopes[layer]
    return Backprop(zs, inputs[:-1], outputs, upstream, slopes, deltas)


def _logits(session: Session, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The output layer's z ``(n, n_out)`` for the points ``X`` ``(n, F)``."""
    spec, layout = session.spec, session.spec.layout()
    names = spec.activations + ("linear",)
    a = X
    for layer in range(spec.n_layers):
        a = activate(names[layer], a @ layout.weights(params, layer) + layout.bias(params, layer))
    return a


def batch_gradient(session: Session, params: np.ndarray, passed: Backprop) -> np.ndarray:
    """Gradient of the mean loss over the points of ``passed``, flat ``(P,)``, no penalty."""
    layout = session.spec.layout()
    grad = np.zeros_like(params)
    n = len(passed.outputs)
    for layer in range(session.spec.n_layers):
        layout.weights(grad, layer)[:] = passed.inputs[layer].T @ passed.deltas[layer] / n
        layout.bias(grad, layer)[:] = passed.deltas[layer].sum(axis=0) / n
    return grad


def optimizer_update(settings: OptimizerSettings, params, grad, state1, state2, step: int) -> Update:
    """The update of :func:`kernels.optimizers.update_reference` at optimizer step ``step``
    (1 on the first), on copies: the inputs are not changed."""
    after, new1, new2 = np.array(params, np.float64), np.array(state1, np.float64), np.array(state2, np.float64)
    update_reference(settings, after, np.asarray(grad, np.float64), new1, new2, step)
    extra = {}
    if settings.name in ("adam", "adamw"):
        c1, c2 = 1.0 - settings.beta1 ** step, 1.0 - settings.beta2 ** step
        extra = dict(bias_correction1=c1, bias_correction2=c2, m_hat=new1 / c1, v_hat=new2 / c2)
    return Update(settings, step, np.array(grad, np.float64), np.array(params, np.float64), after,
                  np.array(state1, np.float64), np.array(state2, np.float64), new1, new2, **extra)


def compute(session: Session, point: int | None = None) -> SlowStepData:
    """The four phases of ``session``'s next minibatch step; changes nothing.

    ``point``: the training point (row of ``session.X_train``) to spell out; None for the
    first of the batch. Raises :class:`SlowStepRefused` when the session cannot step
    (diverged) or ``point`` is not a training point.
    """
    if session.diverged:
        raise SlowStepRefused("The run diverged, so there is no next step to show: press Reset "
                              "(and choose a smaller learning rate).")
    n_train = len(session.X_train)
    batch = session.peek_batch()
    if point is None:
        point = int(batch[0])
    if not 0 <= int(point) < n_train:
        raise SlowStepRefused(f"point {point} is not a training point (0 to {n_train - 1})")
    point = int(point)
    config, layout = session.config, session.spec.layout()
    params = session.backend.get_params()
    X, T = np.asarray(session.X_train, np.float64), np.asarray(session.T_train, np.float64)

    forward = backprop(session, params, X[point: point + 1], T[point: point + 1])
    batch_pass = backprop(session, params, X[batch], T[batch])
    point_losses = per_point_losses(_logits(session, params, X), T, session.loss)

    mask = layout.weight_mask()
    data_gradient = batch_gradient(session, params, batch_pass)
    penalty_gradient = np.zeros_like(params)
    penalty_gradient[mask] = losses.regularization_gradient(params[mask], config.regularization, config.reg_rate)
    state1, state2, optimizer_step = session.optimizer_state()
    settings = config.optimizer_settings()
    update = optimizer_update(settings, params, data_gradient + penalty_gradient, state1, state2,
                              optimizer_step + 1)
    return SlowStepData(
        loss=session.loss, step_before=session.step, epoch_before=session.epoch,
        epoch_after=(session.step + 1) / session.steps_per_epoch, batch=batch, point=point,
        point_in_batch=bool(np.any(batch == point)), features=X[point].copy(), target=T[point].copy(),
        forward=forward, point_loss=float(per_point_losses(forward.zs[-1], T[point: point + 1], session.loss)[0]),
        point_losses=point_losses, batch_pass=batch_pass,
        batch_loss=float(np.mean(point_losses[batch])),
        penalty=losses.regularization_value(params[mask], config.regularization, config.reg_rate),
        loss_formula=LOSS_FORMULAS[session.loss] + PENALTY_FORMULAS[config.regularization],
        regularization=config.regularization, reg_rate=float(config.reg_rate),
        data_gradient=data_gradient, penalty_gradient=penalty_gradient, update=update,
        layer_sizes=tuple(session.spec.layer_sizes))


def chain_rule(data: SlowStepData, layer: int, i: int, j: int, passed: Backprop | None = None) -> ChainRule:
    """The chain-rule factors of dL/dw for weight ``W[layer][i, j]`` (input unit ``i`` of
    ``layer``, its unit ``j``), point by point of the batch (or of ``passed``, e.g.
    ``data.forward`` for the spelled-out point alone: then ``mean`` is that point's share
    before averaging)."""
    passed = data.batch_pass if passed is None else passed
    upstream = passed.upstream[layer][:, j]
    slope = passed.slopes[layer][:, j]
    inputs = passed.inputs[layer][:, i]
    products = upstream * slope * inputs
    mean = float(products.sum() / len(products))
    fan_out = data.layer_sizes[layer + 1]
    offset = _weight_offset(data.layer_sizes, layer) + i * fan_out + j
    penalty = float(data.penalty_gradient[offset]) if passed is data.batch_pass else 0.0
    return ChainRule(layer, i, j, upstream, slope, inputs, products, mean, penalty, mean + penalty)


def _weight_offset(layer_sizes, layer: int) -> int:
    """Offset of ``W[layer]`` in the flat vector (see :class:`kernels.spec.ParameterLayout`)."""
    offset = 0
    for l in range(layer):
        offset += layer_sizes[l] * layer_sizes[l + 1] + layer_sizes[l + 1]
    return offset


def interpolated_params(data: SlowStepData, t: float) -> np.ndarray:
    """The parameters a fraction ``t`` (0..1) of the way from before to after, ``(P,)``."""
    return data.update.before + t * data.update.change


def morph_frames(session: Session, data: SlowStepData, n_frames: int = 6) -> list[np.ndarray]:
    """The boundary (:meth:`Session.boundary`) on ``n_frames`` parameter vectors evenly from
    before to after the step, both ends included; each ``(GRID_SIZE, GRID_SIZE)``."""
    return [session.boundary(interpolated_params(data, t)) for t in np.linspace(0.0, 1.0, max(2, n_frames))]


def apply(session: Session, data: SlowStepData, **advance) -> Frame:
    """Take the step with the session's own :meth:`~Session.advance` (one step: the same
    batch, kernels and counters as a normal step) and return its frame. ``advance``: its
    keyword arguments (``boundary``, ``gradient``). Raises :class:`SlowStepRefused` when the
    session has moved on, or its settings changed, since ``data`` was computed."""
    if not data.is_current(session):
        raise SlowStepRefused("the network or its settings changed during the slow step; start it again")
    return session.advance(1, **advance)


def describe_number(x: float, digits: int = 3) -> str:
    """A number for a learner: ``digits`` significant digits, no exponent when avoidable."""
    if not math.isfinite(x):
        return "—" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
        text = f"{x:.{decimals}f}"
    else:
        text = f"{x:.{digits - 1}e}"
    return text.replace("-", "−")
