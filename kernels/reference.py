"""The reference backend: plain NumPy, written to be read, on the rules of kernels/rules.py
(run on whole arrays, see numpy_rules.py). The fast backends are tested against it; it, and
they, against finite differences and torch.optim's own steps.

Training is three functions, as in the TensorFlow Playground's ``nn.ts``:
:func:`forward`, :func:`backward` and the optimizer's update
(:func:`kernels.optimizers.update_reference`).
"""
from __future__ import annotations

import numpy as np

from . import losses
from .activations import activate, derivative
from .backend import Backend
from .optimizers import OptimizerSettings, update_reference


def forward(spec, layout, params, X):
    """Run the network on ``X`` ``(n, n_inputs)``.

    Returns ``(zs, activations)``: per weight layer the pre-activation ``(n, fan_out)``,
    and the inputs to every layer, ``activations[0] = X`` and ``activations[l+1] =
    f(zs[l])``. ``zs[-1]`` are the output logits.
    """
    names = spec.activations + ("linear",)
    zs, activations = [], [X]
    for layer in range(spec.n_layers):
        z = activations[-1] @ layout.weights(params, layer) + layout.bias(params, layer)
        zs.append(z)
        activations.append(activate(names[layer], z))
    return zs, activations


def backward(spec, layout, params, zs, activations, targets):
    """Gradient of the mean loss over the batch, flat ``(P,)`` in the parameter layout."""
    names = spec.activations + ("linear",)
    grad = np.zeros_like(params)
    delta = losses.output_delta(zs[-1], targets, spec.loss)  # dL/dz of the output layer
    for layer in reversed(range(spec.n_layers)):
        layout.weights(grad, layer)[:] = activations[layer].T @ delta
        layout.bias(grad, layer)[:] = delta.sum(axis=0)
        if layer > 0:  # chain rule: back through W, then through f'
            delta = (delta @ layout.weights(params, layer).T) * derivative(names[layer - 1], zs[layer - 1],
                                                                            activations[layer])
    return grad


class ReferenceBackend(Backend):
    """Plain NumPy backend; one optimizer step per minibatch, nothing fused."""

    name = "reference"

    def gradient(self, X, targets, regularization="none", reg_rate=0.0):
        zs, activations = forward(self.spec, self.layout, self.params, X)
        grad = backward(self.spec, self.layout, self.params, zs, activations, targets)
        mask = self.weight_mask
        grad[mask] += losses.regularization_gradient(self.params[mask], regularization, reg_rate)
        return grad

    def train(self, X, targets, sample_order, batch_bounds, settings: OptimizerSettings,
              regularization="none", reg_rate=0.0):
        self.check_arrays(X, targets, sample_order, batch_bounds)
        for start, stop in zip(batch_bounds[:-1], batch_bounds[1:]):
            batch = sample_order[start:stop]
            grad = self.gradient(X[batch], targets[batch], regularization, reg_rate)
            self.step += 1
            update_reference(settings, self.params, grad, self.state1, self.state2, self.step)
        return len(batch_bounds) - 1

    def logits(self, X):
        return forward(self.spec, self.layout, self.params, X)[0][-1]

    def layer_outputs(self, X):
        return forward(self.spec, self.layout, self.params, X)[1][1:]
