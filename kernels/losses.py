"""Losses and output functions in plain NumPy, shared by every backend's readouts.

``logits`` are the output layer's pre-activations, shape ``(n, n_outputs)``; ``targets``
have the same shape (mse: the value, or -1/+1 for two classes; bce: 0/1; ce: one-hot).
Every loss is a mean over the ``n`` samples.
"""
from __future__ import annotations

import numpy as np

from .numpy_rules import NUMPY_RULES
from .rules import LOSSES, REGULARIZATIONS


def softplus(z):
    """log(1 + exp(z)) without overflow (rules.softplus)."""
    return NUMPY_RULES.softplus(z)


def sigmoid(z):
    """1 / (1 + exp(-z)) (rules.sigmoid)."""
    return NUMPY_RULES.sigmoid(z)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def output(logits, loss: str):
    """The network's output: identity (mse), sigmoid (bce) or softmax (ce)."""
    if loss == "mse":
        return logits
    if loss == "bce":
        return sigmoid(logits)
    return softmax(logits)


def loss_value(logits, targets, loss: str) -> float:
    """Mean loss over the samples (no regularization term)."""
    if len(logits) == 0:
        return float("nan")
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "mse":
            per_sample = np.sum((logits - targets) ** 2, axis=1)
        elif loss == "bce":
            per_sample = np.sum(softplus(logits) - targets * logits, axis=1)
        else:
            zmax = logits.max(axis=1, keepdims=True)
            logsumexp = zmax[:, 0] + np.log(np.exp(logits - zmax).sum(axis=1))
            per_sample = logsumexp - np.sum(targets * logits, axis=1)
        return float(np.mean(per_sample))


def output_delta(logits, targets, loss: str):
    """d(mean loss)/d(logits), shape ``(n, n_outputs)`` (rules.output_delta, over n)."""
    probabilities = softmax(logits) if loss == "ce" else logits
    return NUMPY_RULES.output_delta(LOSSES.index(loss), logits, targets, probabilities) / len(logits)


def regularization_value(weights_flat, kind: str, rate: float) -> float:
    """Penalty over the weights (not biases): l1 = rate*sum|w|, l2 = rate*sum(w^2)/2."""
    if kind == "l1":
        return float(rate * np.abs(weights_flat).sum())
    if kind == "l2":
        return float(0.5 * rate * np.square(weights_flat).sum())
    return 0.0


def regularization_gradient(weights_flat, kind: str, rate: float):
    """Gradient of :func:`regularization_value` with respect to the weights (rules.penalty_gradient)."""
    return NUMPY_RULES.penalty_gradient(REGULARIZATIONS.index(kind), rate, weights_flat)
