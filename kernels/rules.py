"""Every numeric rule of training, written once in plain math: the activations with their
derivatives, the output deltas, the penalties and every optimizer's element update.

The rules are plain Python functions. They read their primitives (``exp``, ``sqrt``,
``where``, ...) as global names, and :func:`compile_rules` binds those names to one target's
primitives and compiles each rule for it, as minitorch compiles one scalar function with
``njit`` and with ``cuda.jit(device=True)``:

=========  ==================================================  ==============================
target     primitives                                          compiled with
=========  ==================================================  ==============================
numpy      ``np.exp``, ``np.tanh``, ``np.where``, scipy's erf  nothing: rules run on arrays
cpu        ``math.*``; tanh from one exp; a scalar ``where``   ``njit(inline="always")``
cpu, fast  the same on cpu_rules' vectorising ``exp``          ``njit(inline="always")``
cuda       ``math.*``; a device ``where``                      ``cuda.jit(device=True)``
=========  ==================================================  ==============================

So a rule may branch (``if``) only on a value that is the same for every element (a code,
a rate, the step); a choice per element goes through ``where(condition, a, b)``, which
evaluates both ``a`` and ``b``. Each activation is a pair, as in the TensorFlow
Playground's ``nn.ts``: ``output(z)`` and ``der(z, a)`` given ``a = output(z)``.

Adding an activation: its two functions below, one entry in :data:`ACTIVATION_RULES`
(spec.ACTIVATIONS follows it), one ``if`` in :func:`activate` and :func:`derivative`.
Adding an optimizer: one branch in :func:`update` (and its state and defaults in
optimizers.py).

The rules are the one source; they are checked against oracles that share nothing with
them: finite differences for the gradients (tests/test_kernels.py) and ``torch.optim``'s
own steps, through golden files (tests/test_optimizers.py).
"""
from __future__ import annotations

import math
import types
from typing import Callable

# --- constants (torch's defaults) -------------------------------------------------------
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU
ELU_ALPHA = 1.0  # torch.nn.ELU
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# --- codes, as the compiled kernels see them --------------------------------------------
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid", "softplus", "silu", "linear")
RELU, LEAKY_RELU, ELU, GELU, TANH, SIGMOID, SOFTPLUS, SILU, LINEAR = range(len(ACTIVATIONS))
LOSSES = ("mse", "bce", "ce")
MSE, BCE, CE = range(len(LOSSES))
REGULARIZATIONS = ("none", "l1", "l2")
NO_PENALTY, L1, L2 = range(len(REGULARIZATIONS))
REG_CODE = {name: code for code, name in enumerate(REGULARIZATIONS)}
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw")
SGD, MOMENTUM, NESTEROV, RMSPROP, ADAGRAD, ADAM, ADAMW = range(len(OPTIMIZERS))

# --- primitives: placeholders, bound by compile_rules for each target ------------------
exp = expm1 = log1p = erf = sqrt = where = maximum = minimum = absolute = tanh_function = None


# --- activations: f(z) and f'(z) given a = f(z) ------------------------------------------
def sigmoid(z):
    return 0.5 * (1.0 + tanh_function(0.5 * z))  # = 1 / (1 + e^-z), and no overflow for any z


def sigmoid_der(z, a):
    return a * (1.0 - a)


def tanh(z):
    return tanh_function(z)


def tanh_der(z, a):
    return 1.0 - a * a


def relu(z):
    return where(z > 0.0, z, 0.0 * z)


def relu_der(z, a):
    return where(z > 0.0, 1.0, 0.0)  # 0 at the kink, as torch


def leaky_relu(z):
    return where(z > 0.0, z, LEAKY_SLOPE * z)


def leaky_relu_der(z, a):
    return where(z > 0.0, 1.0, LEAKY_SLOPE)


def elu(z):
    return where(z > 0.0, z, ELU_ALPHA * expm1(minimum(z, 0.0)))


def elu_der(z, a):
    return where(z > 0.0, 1.0, ELU_ALPHA * exp(minimum(z, 0.0)))


def gelu(z):  # the exact (erf) form, torch's default
    return 0.5 * z * (1.0 + erf(z * INV_SQRT2))


def gelu_der(z, a):
    return 0.5 * (1.0 + erf(z * INV_SQRT2)) + z * INV_SQRT_2PI * exp(-0.5 * z * z)


def softplus(z):
    return maximum(z, 0.0) + log1p(exp(-absolute(z)))


def softplus_der(z, a):
    return sigmoid(z)


def silu(z):
    return z * sigmoid(z)


def silu_der(z, a):
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def linear(z):
    return z


def linear_der(z, a):
    return 1.0 + 0.0 * z


ACTIVATION_RULES = {name: (globals()[name], globals()[f"{name}_der"]) for name in ACTIVATIONS}


def activate(code, z):
    """``f(z)`` of the activation with this code (an index into :data:`ACTIVATIONS`)."""
    if code == TANH:
        return tanh(z)
    if code == RELU:
        return relu(z)
    if code == LINEAR:
        return linear(z)
    if code == SIGMOID:
        return sigmoid(z)
    if code == LEAKY_RELU:
        return leaky_relu(z)
    if code == ELU:
        return elu(z)
    if code == GELU:
        return gelu(z)
    if code == SOFTPLUS:
        return softplus(z)
    return silu(z)


def derivative(code, z, a):
    """``f'(z)`` of the activation with this code, given ``a = f(z)``."""
    if code == TANH:
        return tanh_der(z, a)
    if code == RELU:
        return relu_der(z, a)
    if code == LINEAR:
        return linear_der(z, a)
    if code == SIGMOID:
        return sigmoid_der(z, a)
    if code == LEAKY_RELU:
        return leaky_relu_der(z, a)
    if code == ELU:
        return elu_der(z, a)
    if code == GELU:
        return gelu_der(z, a)
    if code == SOFTPLUS:
        return softplus_der(z, a)
    return silu_der(z, a)


# --- the output layer: d(loss of one sample)/d(logit) -----------------------------------
def output_delta(loss_code, z, t, p):
    """For one output: mse ``2 (z - t)``; bce ``sigmoid(z) - t``; ce ``p - t``, where ``p`` is
    the softmax of the sample's logits at this output (the caller normalises the row; the
    others ignore ``p``). The mean over a batch scales it by ``1 / rows``."""
    if loss_code == CE:
        return p - t
    if loss_code == BCE:
        return sigmoid(z) - t
    return 2.0 * (z - t)


# --- penalties on the weights (not the biases) -----------------------------------------
def penalty_gradient(reg_code, rate, w):
    """d(penalty)/dw: l1 ``rate * sign(w)``, l2 ``rate * w`` (penalties rate*sum|w| and
    rate*sum(w^2)/2), none 0."""
    if reg_code == L1:
        return rate * (1.0 * (w > 0.0) - 1.0 * (w < 0.0))
    if reg_code == L2:
        return rate * w
    return 0.0 * w


# --- optimizers, one element at a time (torch.optim's rules) ----------------------------
def step_constants(step, hyper):
    """What every element of one step shares: ``hyper`` is OptimizerSettings.as_array()
    (learning_rate, momentum, beta1, beta2, eps, alpha, weight_decay), ``step`` counts from 1.
    Returns those seven, then Adam's bias-corrected step size ``lr / (1 - beta1^t)``, the
    root of its second correction ``sqrt(1 - beta2^t)``, and 1.0 after the first step."""
    lr, momentum, beta1, beta2 = hyper[0], hyper[1], hyper[2], hyper[3]
    eps, alpha, weight_decay = hyper[4], hyper[5], hyper[6]
    step_size = lr / (1.0 - beta1 ** float(step))  # float power: pow(), as torch
    bias2_sqrt = math.sqrt(1.0 - beta2 ** float(step))
    later = 1.0 if step > 1 else 0.0
    return (lr, momentum, beta1, beta2, eps, alpha, weight_decay, step_size, bias2_sqrt, later)


def update(code, p, g, s1, s2, k):
    """One optimizer step of a parameter ``p`` with gradient ``g`` and state ``s1``, ``s2``
    (see optimizers.py for what each optimizer keeps there); ``k``: :func:`step_constants`.
    Returns the new ``(p, s1, s2)``."""
    lr, momentum, beta1, beta2, eps, alpha, weight_decay, step_size, bias2_sqrt, later = k
    if code == ADAMW:
        p = p * (1.0 - lr * weight_decay)  # decoupled decay (Loshchilov & Hutter)
    else:
        g = g + weight_decay * p  # L2 through the gradient, as torch
    if code == ADAM or code == ADAMW:  # Kingma & Ba (2014), Algorithm 1, as torch computes it
        m = s1 + (1.0 - beta1) * (g - s1)  # torch's lerp
        v = beta2 * s2 + (1.0 - beta2) * g * g
        return p - step_size * m / (sqrt(v) / bias2_sqrt + eps), m, v
    if code == MOMENTUM or code == NESTEROV:
        buf = momentum * s1 + g if later > 0.0 else g  # torch starts the buffer at g
        if code == NESTEROV:
            return p - lr * (g + momentum * buf), buf, s2
        return p - lr * buf, buf, s2
    if code == RMSPROP:
        sq = alpha * s1 + (1.0 - alpha) * g * g
        scaled = g / (sqrt(sq) + eps)
        if momentum > 0.0:
            scaled = momentum * s2 + scaled
            return p - lr * scaled, sq, scaled
        return p - lr * scaled, sq, s2
    if code == ADAGRAD:
        total = s1 + g * g
        return p - lr * g / (sqrt(total) + eps), total, s2
    return p - lr * g, s1, s2  # SGD


# What each update does, in the slow step's words (playground/ui/views/slow_step.py).
UPDATE_FORMULAS = {
    "sgd": "w ← w − lr·g",
    "momentum": "v ← μ·v + g, then w ← w − lr·v",
    "nesterov": "v ← μ·v + g, then w ← w − lr·(g + μ·v)",
    "rmsprop": "s ← α·s + (1 − α)·g², then w ← w − lr·g / (√s + ε)",
    "adagrad": "s ← s + g², then w ← w − lr·g / (√s + ε)",
    "adam": "m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², then w ← w − lr·m̂ / (√v̂ + ε)",
    "adamw": "w ← w·(1 − lr·λ), m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², then w ← w − lr·m̂ / (√v̂ + ε)",
}


RULES = tuple(f for pair in ACTIVATION_RULES.values() for f in pair) + (
    activate, derivative, output_delta, penalty_gradient, step_constants, update)
PRIMITIVES = ("exp", "expm1", "log1p", "erf", "sqrt", "where", "maximum", "minimum", "absolute", "tanh_function")


def compile_rules(primitives: dict, jit: Callable | None = None) -> types.SimpleNamespace:
    """Every rule with the global names of :data:`PRIMITIVES` bound to ``primitives``, each
    compiled with ``jit`` (None: left as Python, for whole NumPy arrays). Rules that call
    each other (silu calls sigmoid) call the compiled versions. Returns them by name."""
    missing = set(PRIMITIVES) - set(primitives)
    if missing:
        raise ValueError(f"primitives missing: {sorted(missing)}")
    namespace = {**globals(), **primitives}
    compiled = {}
    for rule in RULES:
        function = types.FunctionType(rule.__code__, namespace, rule.__name__, rule.__defaults__)
        function.__qualname__, function.__doc__ = rule.__qualname__, rule.__doc__
        function.__module__ = __name__
        compiled[rule.__name__] = function if jit is None else jit(function)
    namespace.update(compiled)  # a rule's call of another rule finds the compiled one
    return types.SimpleNamespace(**compiled)


def scalar_where(condition, if_true, if_false):
    """``where`` for one element (both values are already computed)."""
    return if_true if condition else if_false


def compile_scalar_rules(jit: Callable, exp_function=math.exp, tanh_function=math.tanh) -> types.SimpleNamespace:
    """The rules for element-by-element code (cpu, cuda): ``math``'s primitives (or the
    given exp and tanh), ``where`` a choice of one element, all compiled with ``jit``."""
    return compile_rules({"exp": exp_function, "expm1": math.expm1, "log1p": math.log1p, "erf": math.erf,
                          "sqrt": math.sqrt, "where": jit(scalar_where), "maximum": max, "minimum": min,
                          "absolute": abs, "tanh_function": tanh_function}, jit)
