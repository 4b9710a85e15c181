"""Optimizers on analytic surfaces: the path that each takes downhill.

The update rules are the engine's own (:func:`kernels.optimizers.apply_update`, the code
that trains the networks), applied to the 2-vector (x, y) in float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels.optimizers import OptimizerSettings, apply_update
from kernels.surfaces import SURFACES


@dataclass
class Descent:
    """``path`` ``(steps + 1, 2)``: the start, then one point per step; ``loss`` per point."""

    surface: str
    optimizer: str
    path: list[list[float]]
    loss: list[float]
    stopped: bool  # a value became non-finite; the path ends there
    message: str


def descend(surface: str, settings: OptimizerSettings, start, steps: int) -> Descent:
    """Run ``steps`` updates of ``settings`` from ``start`` on ``SURFACES[surface]``."""
    s = SURFACES[surface]
    params = np.array(start, dtype=np.float64)
    hyper, code = settings.as_array(), settings.code
    with np.errstate(over="ignore", invalid="ignore"):
        return _run(s, settings, params, steps, code, hyper)


def _run(s, settings, params, steps, code, hyper) -> Descent:
    grad = np.zeros(2)
    state1, state2 = np.zeros(2), np.zeros(2)
    path, loss = [params.tolist()], [s.value(*params)]
    message, stopped = "", False
    for step in range(1, steps + 1):
        grad[:] = s.gradient(params[0], params[1])
        apply_update(code, params, grad, state1, state2, step, hyper)
        value = s.value(params[0], params[1]) if np.all(np.isfinite(params)) else math.nan
        if not math.isfinite(value):
            stopped = True
            message = (f"{settings.name} stopped at step {step}: the values became too large "
                       f"(learning rate {settings.learning_rate:g} is too big here).")
            break
        path.append(params.tolist())
        loss.append(value)
    return Descent(s.name, settings.name, path, loss, stopped, message)
