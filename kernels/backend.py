"""The one interface every backend implements."""
from __future__ import annotations

import numpy as np

from .spec import NetworkSpec


class Backend:
    """Holds one network's flat parameters and optimizer state, and trains it.

    Arrays: ``X`` ``(n, n_inputs)`` and ``targets`` ``(n, n_outputs)`` in the backend's
    ``dtype``; ``sample_order`` ``(m,)`` int64 row indices into ``X``;
    ``batch_bounds`` ``(steps + 1,)`` int64 offsets into ``sample_order``: step ``s``
    trains on rows ``sample_order[batch_bounds[s]:batch_bounds[s+1]]``. The caller
    chooses the order, so every backend sees the same minibatches.
    """

    name = "abstract"

    def __init__(self, spec: NetworkSpec, params: np.ndarray, dtype=np.float64):
        self.spec = spec
        self.layout = spec.layout()
        self.dtype = np.dtype(dtype)
        self.weight_mask = self.layout.weight_mask()
        self.set_params(params)

    def set_params(self, params: np.ndarray) -> None:
        """Replace the parameters (flat ``(P,)``) and clear the optimizer state."""
        params = np.asarray(params)
        if params.shape != (self.layout.size,):
            raise ValueError(f"expected {self.layout.size} parameters, got {params.shape}")
        self.params = np.array(params, dtype=self.dtype)
        self.state1 = np.zeros_like(self.params)
        self.state2 = np.zeros_like(self.params)
        self.step = 0  # optimizer steps taken (torch's state['step'])

    def load_optimizer_state(self, state1: np.ndarray, state2: np.ndarray, step: int) -> None:
        """Restore the optimizer's state (flat ``(P,)`` each, and its step count)."""
        self.state1[:] = state1
        self.state2[:] = state2
        self.step = int(step)

    def get_params(self) -> np.ndarray:
        """A float64 copy of the flat parameter vector."""
        return np.array(self.params, dtype=np.float64)

    def check_arrays(self, X, targets=None, sample_order=None, batch_bounds=None) -> None:
        """Raise ValueError unless the arrays fit this network and each other (see the class
        docstring): the kernels index with these numbers unchecked, so they are checked here,
        once a call, outside the hot loop. O(len(sample_order) + steps)."""
        n_inputs, n_outputs = self.spec.layer_sizes[0], self.spec.layer_sizes[-1]
        if np.ndim(X) != 2 or np.shape(X)[1] != n_inputs:
            raise ValueError(f"X must be (n, {n_inputs}), not {np.shape(X)}")
        if targets is not None and np.shape(targets) != (np.shape(X)[0], n_outputs):
            raise ValueError(f"targets must be ({np.shape(X)[0]}, {n_outputs}), not {np.shape(targets)}")
        if sample_order is None:
            return
        order, bounds = np.asarray(sample_order), np.asarray(batch_bounds)
        if order.ndim != 1 or bounds.ndim != 1 or len(bounds) < 1:
            raise ValueError("sample_order and batch_bounds must be 1-D, batch_bounds not empty")
        if len(order) and (order.min() < 0 or order.max() >= np.shape(X)[0]):
            raise ValueError(f"sample_order must index rows 0..{np.shape(X)[0] - 1}")
        if bounds[0] < 0 or bounds[-1] > len(order) or np.any(np.diff(bounds) < 1):
            raise ValueError(f"batch_bounds must rise from 0 to at most {len(order)}, by at least 1 a step")

    # --- what each backend implements -------------------------------------------
    def train(self, X, targets, sample_order, batch_bounds, settings, regularization="none",
              reg_rate=0.0) -> int:
        """Run ``len(batch_bounds) - 1`` optimizer steps; return how many ran."""
        raise NotImplementedError

    def logits(self, X) -> np.ndarray:
        """Output-layer pre-activations, ``(n, n_outputs)``."""
        raise NotImplementedError

    def gradient(self, X, targets, regularization="none", reg_rate=0.0) -> np.ndarray:
        """Gradient of mean loss + penalty on ``X``, flat ``(P,)``; parameters unchanged."""
        raise NotImplementedError

    def layer_outputs(self, X) -> list[np.ndarray]:
        """Every layer's output ``f(z)``: one ``(n, fan_out)`` array per weight layer."""
        raise NotImplementedError
