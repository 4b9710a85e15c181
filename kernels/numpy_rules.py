"""The rules of kernels/rules.py on whole NumPy arrays: the reference backend's and the slow
step's math. Nothing is compiled: each rule runs once on an array, its primitives NumPy's
(``where`` is ``np.where``, ``tanh_function`` ``np.tanh``, ``erf`` scipy's)."""
from __future__ import annotations

import numpy as np
from scipy.special import erf

from . import rules

NUMPY_RULES = rules.compile_rules({"exp": np.exp, "expm1": np.expm1, "log1p": np.log1p, "erf": erf,
                                   "sqrt": np.sqrt, "where": np.where, "maximum": np.maximum,
                                   "minimum": np.minimum, "absolute": np.abs, "tanh_function": np.tanh})
