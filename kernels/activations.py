"""Hidden-layer activation functions and their derivatives, in plain NumPy.

``z`` is a layer's pre-activation, any shape. These are the specification that the
compiled backends follow element by element (see ``kernels/cpu.py``).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

from .spec import ELU_ALPHA, LEAKY_SLOPE

_SQRT2 = np.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def activate(name: str, z):
    """The activation ``f(z)``."""
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "elu":
        return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if name == "gelu":  # the exact (erf) form, torch's default
        return 0.5 * z * (1.0 + erf(z / _SQRT2))
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "softplus":
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    if name == "silu":
        return z * _sigmoid(z)
    if name == "linear":
        return z
    raise ValueError(f"unknown activation {name!r}")


def derivative(name: str, z):
    """``f'(z)``; at the kink of relu-like functions the derivative is taken as 0."""
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)
    if name == "elu":
        return np.where(z > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(z, 0.0))).astype(z.dtype)
    if name == "gelu":
        return 0.5 * (1.0 + erf(z / _SQRT2)) + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1.0 - s)
    if name == "softplus":
        return _sigmoid(z)
    if name == "silu":
        s = _sigmoid(z)
        return s * (1.0 + z * (1.0 - s))
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(f"unknown activation {name!r}")
