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
