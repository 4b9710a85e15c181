"""Optimizer update rules over flat vectors, with exactly ``torch.optim`` semantics.

Every rule reads the flat gradient ``grad`` and updates the flat ``params`` in place,
keeping its state in two flat buffers of the same layout (``state1``, ``state2``) and a
step counter ``step`` (1 on the first update, as torch counts):

=========  ==========================  ==========================
optimizer  state1                      state2
=========  ==========================  ==========================
sgd        -                           -
momentum   velocity (momentum buffer)  -
nesterov   velocity (momentum buffer)  -
rmsprop    running mean of grad^2      momentum buffer
adagrad    running sum of grad^2       -
adam       m (first moment)            v (second moment)
adamw      m (first moment)            v (second moment)
=========  ==========================  ==========================

``weight_decay`` is torch's: added to the gradient (L2) for every optimizer but adamw,
which decays the weights directly (Loshchilov & Hutter). Adam follows Kingma & Ba
(2014), Algorithm 1, with the bias correction written the way torch computes it.

Two implementations: :func:`update_reference` in plain NumPy (the readable one) and
:func:`apply_update` compiled by Numba, the one the fast backends and the descent
command run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numba import njit

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw")
OPTIMIZER_CODE = {name: code for code, name in enumerate(OPTIMIZERS)}
SGD, MOMENTUM, NESTEROV, RMSPROP, ADAGRAD, ADAM, ADAMW = range(len(OPTIMIZERS))

# torch.optim's defaults for each optimizer (momentum/nesterov: SGD with momentum 0.9).
TORCH_DEFAULTS = {
    "sgd": dict(learning_rate=1e-3),
    "momentum": dict(learning_rate=1e-3, momentum=0.9),
    "nesterov": dict(learning_rate=1e-3, momentum=0.9),
    "rmsprop": dict(learning_rate=1e-2, alpha=0.99, eps=1e-8, momentum=0.0),
    "adagrad": dict(learning_rate=1e-2, eps=1e-10),
    "adam": dict(learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
    "adamw": dict(learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2),
}
# The hyper-parameters each optimizer reads (weight_decay applies to all).
OWN_HYPERPARAMETERS = {name: tuple(d) + (("weight_decay",) if "weight_decay" not in d else ())
                       for name, d in TORCH_DEFAULTS.items()}


@dataclass(frozen=True)
class OptimizerSettings:
    """One optimizer and its hyper-parameters (learning rate in parameter units per step)."""

    name: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    alpha: float = 0.99
    weight_decay: float = 0.0

    @classmethod
    def with_defaults(cls, name: str, **given) -> "OptimizerSettings":
        """Settings for ``name``: torch's defaults, overridden by the non-None ``given``."""
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}")
        values = dict(TORCH_DEFAULTS[name])
        values.update({k: v for k, v in given.items() if v is not None})
        return cls(name=name, **values)

    @property
    def code(self) -> int:
        return OPTIMIZER_CODE[self.name]

    def as_array(self) -> np.ndarray:
        """``(7,)`` float64: learning_rate, momentum, beta1, beta2, eps, alpha, weight_decay."""
        return np.array([getattr(self, f.name) for f in fields(self)[1:]], dtype=np.float64)


def update_reference(settings: OptimizerSettings, params, grad, state1, state2, step: int):
    """One optimizer step in plain NumPy; ``step`` counts from 1. Updates arrays in place."""
    s = settings
    name = s.name
    if name == "adamw":
        params *= 1.0 - s.learning_rate * s.weight_decay
        g = grad
    else:
        g = grad + s.weight_decay * params
    if name == "sgd":
        params -= s.learning_rate * g
    elif name in ("momentum", "nesterov"):
        state1[:] = s.momentum * state1 + g if step > 1 else g
        direction = g + s.momentum * state1 if name == "nesterov" else state1
        params -= s.learning_rate * direction
    elif name == "rmsprop":
        state1[:] = s.alpha * state1 + (1.0 - s.alpha) * g * g
        scaled = g / (np.sqrt(state1) + s.eps)
        if s.momentum > 0:
            state2[:] = s.momentum * state2 + scaled
            scaled = state2
        params -= s.learning_rate * scaled
    elif name == "adagrad":
        state1 += g * g
        params -= s.learning_rate * g / (np.sqrt(state1) + s.eps)
    else:  # adam, adamw
        state1 += (1.0 - s.beta1) * (g - state1)  # m: torch's lerp
        state2[:] = s.beta2 * state2 + (1.0 - s.beta2) * g * g  # v
        step_size = s.learning_rate / (1.0 - s.beta1**step)
        denom = np.sqrt(state2) / math.sqrt(1.0 - s.beta2**step) + s.eps
        params -= step_size * state1 / denom


# error_model="numpy": no ZeroDivisionError test before each division, so the loops vectorise
@njit(cache=True, nogil=True, error_model="numpy")
def apply_update(code, params, grad, state1, state2, step, hyper):
    """One optimizer step, compiled; same rules as :func:`update_reference`.

    ``code``: OPTIMIZER_CODE; ``hyper``: :meth:`OptimizerSettings.as_array`; arrays are
    flat ``(P,)`` of one dtype and are updated in place.
    """
    lr, momentum, beta1, beta2, eps, alpha, weight_decay = (
        hyper[0], hyper[1], hyper[2], hyper[3], hyper[4], hyper[5], hyper[6])
    n = params.shape[0]
    if code == ADAMW:
        decay = 1.0 - lr * weight_decay
        bias1 = 1.0 - beta1 ** float(step)  # float power: pow(), as torch
        step_size = lr / bias1
        bias2_sqrt = math.sqrt(1.0 - beta2 ** float(step))
        for i in range(n):
            p = params[i] * decay
            g = grad[i]
            m = state1[i] + (1.0 - beta1) * (g - state1[i])
            v = beta2 * state2[i] + (1.0 - beta2) * g * g
            state1[i] = m
            state2[i] = v
            params[i] = p - step_size * m / (math.sqrt(v) / bias2_sqrt + eps)
    elif code == ADAM:
        bias1 = 1.0 - beta1 ** float(step)  # float power: pow(), as torch
        step_size = lr / bias1
        bias2_sqrt = math.sqrt(1.0 - beta2 ** float(step))
        for i in range(n):
            p = params[i]
            g = grad[i] + weight_decay * p
            m = state1[i] + (1.0 - beta1) * (g - state1[i])
            v = beta2 * state2[i] + (1.0 - beta2) * g * g
            state1[i] = m
            state2[i] = v
            params[i] = p - step_size * m / (math.sqrt(v) / bias2_sqrt + eps)
    elif code == SGD:
        for i in range(n):
            p = params[i]
            params[i] = p - lr * (grad[i] + weight_decay * p)
    elif code == MOMENTUM or code == NESTEROV:
        for i in range(n):
            p = params[i]
            g = grad[i] + weight_decay * p
            buf = momentum * state1[i] + g if step > 1 else g
            state1[i] = buf
            if code == NESTEROV:
                params[i] = p - lr * (g + momentum * buf)
            else:
                params[i] = p - lr * buf
    elif code == RMSPROP:
        for i in range(n):
            p = params[i]
            g = grad[i] + weight_decay * p
            sq = alpha * state1[i] + (1.0 - alpha) * g * g
            state1[i] = sq
            scaled = g / (math.sqrt(sq) + eps)
            if momentum > 0.0:
                scaled = momentum * state2[i] + scaled
                state2[i] = scaled
            params[i] = p - lr * scaled
    elif code == ADAGRAD:
        for i in range(n):
            p = params[i]
            g = grad[i] + weight_decay * p
            total = state1[i] + g * g
            state1[i] = total
            params[i] = p - lr * g / (math.sqrt(total) + eps)
