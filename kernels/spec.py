"""The network's shape and its one flat parameter vector.

Every backend holds the parameters of a network as one flat vector ``params`` of
length ``ParameterLayout.size``. Layer ``l`` (0 = first hidden layer, last = output
layer) owns two views into it at fixed offsets:

* ``W[l]``: shape ``(fan_in, fan_out)``, row-major, at ``w_offsets[l]``
* ``b[l]``: shape ``(fan_out,)``, at ``b_offsets[l]``

The gradient and the optimizer state (velocity, m, v, ...) use the same layout, so an
optimizer update is an element-wise loop over flat vectors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rules import ACTIVATIONS, LOSSES

INITIALIZATIONS = ("xavier", "he", "uniform", "zeros")

# Integer codes used inside the compiled kernels.
ACTIVATION_CODE = {name: code for code, name in enumerate(ACTIVATIONS)}
LOSS_CODE = {name: code for code, name in enumerate(LOSSES)}


@dataclass(frozen=True)
class NetworkSpec:
    """What a network is: its layer sizes, activations and loss.

    ``layer_sizes`` = ``(n_inputs, hidden_1, ..., hidden_k, n_outputs)``;
    ``activations`` has one name per hidden layer (the output layer's function follows
    from the loss: linear for mse, sigmoid for bce, softmax for ce).
    """

    layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str

    def __post_init__(self):
        if len(self.activations) != len(self.layer_sizes) - 2:
            raise ValueError("need one activation per hidden layer")
        if any(size < 1 for size in self.layer_sizes):
            raise ValueError("every layer needs at least one unit")

    @property
    def n_layers(self) -> int:
        """Number of weight layers (hidden layers + the output layer)."""
        return len(self.layer_sizes) - 1

    @property
    def activation_codes(self) -> np.ndarray:
        """Kernel codes, one per weight layer; the output layer is ``linear``."""
        names = self.activations + ("linear",)
        return np.array([ACTIVATION_CODE[n] for n in names], dtype=np.int64)

    @property
    def loss_code(self) -> int:
        return LOSS_CODE[self.loss]

    def layout(self) -> "ParameterLayout":
        return ParameterLayout.for_sizes(self.layer_sizes)


@dataclass(frozen=True)
class ParameterLayout:
    """Offsets of every layer's ``W`` and ``b`` inside the flat vector."""

    layer_sizes: np.ndarray  # (n_layers + 1,) int64
    w_offsets: np.ndarray  # (n_layers,) int64
    b_offsets: np.ndarray  # (n_layers,) int64
    size: int

    @classmethod
    def for_sizes(cls, layer_sizes) -> "ParameterLayout":
        sizes = np.asarray(layer_sizes, dtype=np.int64)
        w_off, b_off, offset = [], [], 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w_off.append(offset)
            offset += int(fan_in * fan_out)
            b_off.append(offset)
            offset += int(fan_out)
        return cls(sizes, np.array(w_off, np.int64), np.array(b_off, np.int64), offset)

    def weights(self, flat: np.ndarray, layer: int) -> np.ndarray:
        """View of layer ``layer``'s weight matrix, shape ``(fan_in, fan_out)``."""
        fan_in, fan_out = int(self.layer_sizes[layer]), int(self.layer_sizes[layer + 1])
        start = int(self.w_offsets[layer])
        return flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out)

    def bias(self, flat: np.ndarray, layer: int) -> np.ndarray:
        """View of layer ``layer``'s bias vector, shape ``(fan_out,)``."""
        start = int(self.b_offsets[layer])
        return flat[start : start + int(self.layer_sizes[layer + 1])]

    def weight_norms(self, flat: np.ndarray) -> list[float]:
        """Frobenius norm of each layer's weight matrix in ``flat`` (P,), first layer first."""
        return [float(np.linalg.norm(self.weights(flat, l))) for l in range(len(self.w_offsets))]

    def weight_mask(self) -> np.ndarray:
        """Boolean ``(size,)``: True where the flat vector holds a weight (not a bias)."""
        mask = np.zeros(self.size, dtype=bool)
        for layer in range(len(self.w_offsets)):
            start = int(self.w_offsets[layer])
            mask[start : int(self.b_offsets[layer])] = True
        return mask


def initial_parameters(spec: NetworkSpec, method: str, seed: int) -> np.ndarray:
    """Initial flat parameter vector (float64), identical on every backend for a seed.

    xavier: Glorot uniform, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), biases 0.
    he: normal with std sqrt(2 / fan_in), biases 0.
    uniform: the TensorFlow Playground's U(-0.5, 0.5) weights and 0.1 biases.
    zeros: everything 0, to show why symmetry must be broken.
    """
    if method not in INITIALIZATIONS:
        raise ValueError(f"unknown initialization {method!r}")
    layout = spec.layout()
    rng = np.random.default_rng([seed, 1])  # stream 1: weights (stream 0 is the data)
    flat = np.zeros(layout.size)
    for layer in range(spec.n_layers):
        W = layout.weights(flat, layer)
        fan_in, fan_out = W.shape
        if method == "xavier":
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W[:] = rng.uniform(-limit, limit, size=W.shape)
        elif method == "he":
            W[:] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=W.shape)
        elif method == "uniform":
            W[:] = rng.uniform(-0.5, 0.5, size=W.shape)
            layout.bias(flat, layer)[:] = 0.1
    return flat
