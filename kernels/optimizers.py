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

The rule itself is written once, in kernels/rules.py (``update``, one element, or whole
arrays). :func:`update_reference` runs it on NumPy arrays (the reference backend, the slow
step); :func:`apply_update` compiled by Numba, the one the cpu backend and the descent
command run; the cuda backend compiles it for the GPU.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numba import njit

from .cpu_rules import RULES as CPU_RULES
from .numpy_rules import NUMPY_RULES
from .rules import ADAGRAD, ADAM, ADAMW, MOMENTUM, NESTEROV, OPTIMIZERS, RMSPROP, SGD

OPTIMIZER_CODE = {name: code for code, name in enumerate(OPTIMIZERS)}

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
    """One optimizer step on whole NumPy arrays (rules.update); ``step`` counts from 1.
    Updates ``params``, ``state1`` and ``state2`` in place."""
    # Python floats: a float32 network stays float32, as a NumPy user would compute it
    constants = tuple(float(c) for c in NUMPY_RULES.step_constants(step, settings.as_array()))
    params[:], state1[:], state2[:] = NUMPY_RULES.update(settings.code, params, grad, state1, state2, constants)


_update, _step_constants = CPU_RULES.update, CPU_RULES.step_constants  # numba reads module names


def _loop(code, params, grad, state1, state2, constants):
    for i in range(params.shape[0]):
        params[i], state1[i], state2[i] = _update(code, params[i], grad[i], state1[i], state2[i], constants)


_loop = njit(inline="always", nogil=True, error_model="numpy")(_loop)


@njit(cache=True, nogil=True, error_model="numpy")
def apply_update(code, params, grad, state1, state2, step, hyper):
    """One optimizer step, compiled from the same rule (rules.update), element by element.

    ``code``: OPTIMIZER_CODE; ``hyper``: :meth:`OptimizerSettings.as_array`; arrays are
    flat ``(P,)`` of one dtype and are updated in place. One loop per optimizer, each with
    its code a constant: the rule's branches fold away and the loop vectorises (3.7x faster
    for Adam over a million parameters than one loop that branches on ``code``).
    """
    constants = _step_constants(step, hyper)
    if code == ADAM:
        _loop(ADAM, params, grad, state1, state2, constants)
    elif code == ADAMW:
        _loop(ADAMW, params, grad, state1, state2, constants)
    elif code == SGD:
        _loop(SGD, params, grad, state1, state2, constants)
    elif code == MOMENTUM:
        _loop(MOMENTUM, params, grad, state1, state2, constants)
    elif code == NESTEROV:
        _loop(NESTEROV, params, grad, state1, state2, constants)
    elif code == RMSPROP:
        _loop(RMSPROP, params, grad, state1, state2, constants)
    elif code == ADAGRAD:
        _loop(ADAGRAD, params, grad, state1, state2, constants)
