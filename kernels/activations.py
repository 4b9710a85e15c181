"""Hidden-layer activation functions and their derivatives on NumPy arrays: the rules of
kernels/rules.py (one pair per activation, ``output`` and ``der``), run on whole arrays.

``z`` is a layer's pre-activation, any shape; the result has its shape and dtype. The
compiled backends run the same rules element by element (kernels/cpu_rules.py, cuda.py).
"""
from __future__ import annotations

import numpy as np

from .numpy_rules import NUMPY_RULES
from .rules import ACTIVATIONS

_PAIRS = {name: (getattr(NUMPY_RULES, name), getattr(NUMPY_RULES, f"{name}_der")) for name in ACTIVATIONS}


def _pair(name: str):
    try:
        return _PAIRS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}") from None


def activate(name: str, z):
    """The activation ``f(z)``."""
    output, _ = _pair(name)
    return np.asarray(output(z), dtype=z.dtype)


def derivative(name: str, z, a=None):
    """``f'(z)`` (``a``: ``f(z)`` if already known); 0 at the kink of relu-like functions."""
    output, der = _pair(name)
    return np.asarray(der(z, output(z) if a is None else a), dtype=z.dtype)
