"""The cpu backend: Numba-compiled, forward + backward + update fused over many steps.

One call of :func:`train_steps` runs every minibatch step it is given without
returning to Python and without allocating inside the step loop; it releases the GIL
(``nogil=True``) so a server can train in a thread while its event loop runs. Small
products are written as loops (a BLAS call costs more than a 10x8 product); large ones
call BLAS through ``np.dot`` into preallocated buffers.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .backend import Backend
from .optimizers import apply_update
from .spec import ELU_ALPHA, LEAKY_SLOPE

# ACTIVATION_CODE order: relu, leaky_relu, elu, gelu, tanh, sigmoid, softplus, silu, linear
RELU, LEAKY_RELU, ELU, GELU, TANH, SIGMOID, SOFTPLUS, SILU, LINEAR = range(9)
MSE, BCE, CE = range(3)
BLAS_MIN_WORK = 16384  # m*k*n above which np.dot (BLAS) beats plain loops
ROWS_PER_CHUNK = 1024  # evaluation works through X in chunks of this many rows
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

JIT = dict(cache=True, nogil=True)


# libm's tanh costs ~30 ns here, exp ~10 ns: both functions go through one exp.
@njit(inline="always", **JIT)
def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


@njit(inline="always", **JIT)
def _tanh(z):
    return 1.0 - 2.0 / (math.exp(2.0 * z) + 1.0)


@njit(inline="always", **JIT)
def _activate(code, z):
    if code == TANH:
        return _tanh(z)
    if code == RELU:
        return z if z > 0.0 else 0.0 * z
    if code == LINEAR:
        return z
    if code == SIGMOID:
        return _sigmoid(z)
    if code == LEAKY_RELU:
        return z if z > 0.0 else LEAKY_SLOPE * z
    if code == ELU:
        return z if z > 0.0 else ELU_ALPHA * math.expm1(z)
    if code == GELU:
        return 0.5 * z * (1.0 + math.erf(z * _INV_SQRT2))
    if code == SOFTPLUS:
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    return z * _sigmoid(z)  # SILU


@njit(inline="always", **JIT)
def _derivative(code, z, a):
    """f'(z), given z and a = f(z)."""
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return 1.0 if z > 0.0 else 0.0
    if code == LINEAR:
        return 1.0
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == LEAKY_RELU:
        return 1.0 if z > 0.0 else LEAKY_SLOPE
    if code == ELU:
        return 1.0 if z > 0.0 else ELU_ALPHA * math.exp(z)
    if code == GELU:
        return 0.5 * (1.0 + math.erf(z * _INV_SQRT2)) + z * _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    if code == SOFTPLUS:
        return _sigmoid(z)
    s = _sigmoid(z)  # SILU
    return s * (1.0 + z * (1.0 - s))


@njit(**JIT)
def _matmul(A, B, out):
    """out = A @ B; A (m, k), B (k, n), out (m, n)."""
    m, k = A.shape
    n = B.shape[1]
    if m * k * n >= BLAS_MIN_WORK:
        np.dot(A, B, out)
        return
    for i in range(m):
        for j in range(n):
            out[i, j] = 0.0
        for p in range(k):
            a = A[i, p]
            for j in range(n):
                out[i, j] += a * B[p, j]


@njit(**JIT)
def _matmul_tn(A, B, out):
    """out = A.T @ B; A (m, k), B (m, n), out (k, n)."""
    m, k = A.shape
    n = B.shape[1]
    if m * k * n >= BLAS_MIN_WORK:
        np.dot(A.T, B, out)
        return
    for p in range(k):
        for j in range(n):
            out[p, j] = 0.0
    for i in range(m):
        for p in range(k):
            a = A[i, p]
            for j in range(n):
                out[p, j] += a * B[i, j]


@njit(**JIT)
def _matmul_nt(A, B, out):
    """out = A @ B.T; A (m, n), B (k, n), out (m, k)."""
    m, n = A.shape
    k = B.shape[0]
    if m * k * n >= BLAS_MIN_WORK:
        np.dot(A, B.T, out)
        return
    for i in range(m):
        for p in range(k):
            acc = 0.0
            for j in range(n):
                acc += A[i, j] * B[p, j]
            out[i, p] = acc


@njit(**JIT)
def _unit_offsets(sizes, rows):
    """Offsets of each weight layer's ``(rows, fan_out)`` block in a flat workspace."""
    offsets = np.zeros(sizes.shape[0], np.int64)
    for layer in range(sizes.shape[0] - 1):
        offsets[layer + 1] = offsets[layer] + rows * sizes[layer + 1]
    return offsets


@njit(**JIT)
def _forward(params, sizes, w_off, b_off, acts, X, zbuf, abuf, offsets):
    """Forward pass of ``X`` (m, n_inputs); fills each layer's z and f(z) blocks.

    Returns the output logits, a ``(m, n_outputs)`` view into ``zbuf``.
    """
    m = X.shape[0]
    a_prev = X
    z = X
    for layer in range(sizes.shape[0] - 1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        W = params[w_off[layer]: w_off[layer] + fan_in * fan_out].reshape((fan_in, fan_out))
        b = params[b_off[layer]: b_off[layer] + fan_out]
        z = zbuf[offsets[layer]: offsets[layer] + m * fan_out].reshape((m, fan_out))
        a = abuf[offsets[layer]: offsets[layer] + m * fan_out].reshape((m, fan_out))
        _matmul(a_prev, W, z)
        code = acts[layer]
        for i in range(m):
            for j in range(fan_out):
                zz = z[i, j] + b[j]
                z[i, j] = zz
                a[i, j] = _activate(code, zz)
        a_prev = a
    return z


@njit(**JIT)
def _output_delta(loss_code, logits, T, delta):
    """delta = d(mean loss)/d(logits); every argument (m, n_outputs)."""
    m, n_out = logits.shape
    scale = 1.0 / m
    for i in range(m):
        if loss_code == CE:
            zmax = logits[i, 0]
            for j in range(1, n_out):
                zmax = max(zmax, logits[i, j])
            total = 0.0
            for j in range(n_out):
                e = math.exp(logits[i, j] - zmax)
                delta[i, j] = e
                total += e
            for j in range(n_out):
                delta[i, j] = (delta[i, j] / total - T[i, j]) * scale
        elif loss_code == BCE:
            for j in range(n_out):
                delta[i, j] = (_sigmoid(logits[i, j]) - T[i, j]) * scale
        else:
            for j in range(n_out):
                delta[i, j] = 2.0 * (logits[i, j] - T[i, j]) * scale


@njit(**JIT)
def _backward(params, grad, sizes, w_off, b_off, acts, loss_code, X, T, zbuf, abuf, offsets,
              delta_a, delta_b, reg_code, reg_rate):
    """Fill ``grad`` with the gradient of mean loss + penalty, after :func:`_forward`."""
    m = X.shape[0]
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    last = n_layers - 1
    logits = zbuf[offsets[last]: offsets[last] + m * n_out].reshape((m, n_out))
    delta = delta_a[: m * n_out].reshape((m, n_out))
    _output_delta(loss_code, logits, T, delta)
    use_a = True
    for layer in range(last, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        if layer > 0:
            a_prev = abuf[offsets[layer - 1]: offsets[layer - 1] + m * fan_in].reshape((m, fan_in))
        else:
            a_prev = X
        dW = grad[w_off[layer]: w_off[layer] + fan_in * fan_out].reshape((fan_in, fan_out))
        _matmul_tn(a_prev, delta, dW)
        db_start = b_off[layer]
        for j in range(fan_out):
            acc = 0.0
            for i in range(m):
                acc += delta[i, j]
            grad[db_start + j] = acc
        if reg_code != 0:
            start, stop = w_off[layer], w_off[layer] + fan_in * fan_out
            for k in range(start, stop):
                w = params[k]
                if reg_code == 1:
                    grad[k] += reg_rate * ((w > 0.0) - (w < 0.0))
                else:
                    grad[k] += reg_rate * w
        if layer > 0:
            W = params[w_off[layer]: w_off[layer] + fan_in * fan_out].reshape((fan_in, fan_out))
            buf = delta_b if use_a else delta_a
            use_a = not use_a
            delta_prev = buf[: m * fan_in].reshape((m, fan_in))
            _matmul_nt(delta, W, delta_prev)
            z = zbuf[offsets[layer - 1]: offsets[layer - 1] + m * fan_in].reshape((m, fan_in))
            code = acts[layer - 1]
            for i in range(m):
                for j in range(fan_in):
                    delta_prev[i, j] *= _derivative(code, z[i, j], a_prev[i, j])
            delta = delta_prev


@njit(**JIT)
def _workspace(sizes, rows, dtype_like):
    offsets = _unit_offsets(sizes, rows)
    width = 0
    for s in sizes:
        width = max(width, s)
    total = offsets[-1]
    zbuf = np.empty(total, dtype_like.dtype)
    abuf = np.empty(total, dtype_like.dtype)
    delta_a = np.empty(rows * width, dtype_like.dtype)
    delta_b = np.empty(rows * width, dtype_like.dtype)
    return offsets, zbuf, abuf, delta_a, delta_b


@njit(**JIT)
def train_steps(params, grad, state1, state2, step, sizes, w_off, b_off, acts, loss_code,
                X, T, order, bounds, opt_code, hyper, reg_code, reg_rate):
    """Run ``len(bounds) - 1`` minibatch steps; returns the optimizer's step count after.

    ``X`` (n, n_inputs), ``T`` (n, n_outputs), ``order`` (m,) row indices, ``bounds``
    (steps + 1,) offsets into ``order``; ``params``/``grad``/``state1``/``state2`` (P,).
    """
    max_rows = 1
    for s in range(bounds.shape[0] - 1):
        max_rows = max(max_rows, bounds[s + 1] - bounds[s])
    n_in = X.shape[1]
    n_out = T.shape[1]
    offsets, zbuf, abuf, delta_a, delta_b = _workspace(sizes, max_rows, params)
    xb_all = np.empty(max_rows * n_in, params.dtype)
    tb_all = np.empty(max_rows * n_out, params.dtype)
    for s in range(bounds.shape[0] - 1):
        m = bounds[s + 1] - bounds[s]
        xb = xb_all[: m * n_in].reshape((m, n_in))
        tb = tb_all[: m * n_out].reshape((m, n_out))
        for i in range(m):
            row = order[bounds[s] + i]
            for j in range(n_in):
                xb[i, j] = X[row, j]
            for j in range(n_out):
                tb[i, j] = T[row, j]
        batch_offsets = _unit_offsets(sizes, m) if m != max_rows else offsets
        _forward(params, sizes, w_off, b_off, acts, xb, zbuf, abuf, batch_offsets)
        _backward(params, grad, sizes, w_off, b_off, acts, loss_code, xb, tb, zbuf, abuf,
                  batch_offsets, delta_a, delta_b, reg_code, reg_rate)
        step += 1
        apply_update(opt_code, params, grad, state1, state2, step, hyper)
    return step


@njit(**JIT)
def gradient(params, sizes, w_off, b_off, acts, loss_code, X, T, reg_code, reg_rate):
    """Gradient of mean loss + penalty over all of ``X``, flat ``(P,)``."""
    offsets, zbuf, abuf, delta_a, delta_b = _workspace(sizes, X.shape[0], params)
    grad = np.empty_like(params)
    _forward(params, sizes, w_off, b_off, acts, X, zbuf, abuf, offsets)
    _backward(params, grad, sizes, w_off, b_off, acts, loss_code, X, T, zbuf, abuf, offsets,
              delta_a, delta_b, reg_code, reg_rate)
    return grad


@njit(**JIT)
def evaluate(params, sizes, w_off, b_off, acts, X, out):
    """Every layer's output f(z) for all rows of ``X``, chunk by chunk.

    ``out`` (n, sum of fan_outs): layer blocks side by side, the output layer last
    holding its logits (its activation is linear).
    """
    n = X.shape[0]
    rows = min(n, ROWS_PER_CHUNK)
    offsets, zbuf, abuf, delta_a, delta_b = _workspace(sizes, max(rows, 1), params)
    n_layers = sizes.shape[0] - 1
    for start in range(0, n, rows):
        m = min(rows, n - start)
        chunk_offsets = _unit_offsets(sizes, m)
        _forward(params, sizes, w_off, b_off, acts, X[start: start + m], zbuf, abuf, chunk_offsets)
        col = 0
        for layer in range(n_layers):
            width = sizes[layer + 1]
            a = abuf[chunk_offsets[layer]: chunk_offsets[layer] + m * width].reshape((m, width))
            for i in range(m):
                for j in range(width):
                    out[start + i, col + j] = a[i, j]
            col += width


@njit(**JIT)
def output_logits(params, sizes, w_off, b_off, acts, X, out):
    """The output layer's logits for all rows of ``X`` into ``out`` (n, n_outputs)."""
    n = X.shape[0]
    rows = min(n, ROWS_PER_CHUNK)
    offsets, zbuf, abuf, delta_a, delta_b = _workspace(sizes, max(rows, 1), params)
    n_out = sizes[-1]
    for start in range(0, n, rows):
        m = min(rows, n - start)
        z = _forward(params, sizes, w_off, b_off, acts, X[start: start + m], zbuf, abuf,
                     _unit_offsets(sizes, m))
        for i in range(m):
            for j in range(n_out):
                out[start + i, j] = z[i, j]


REG_CODE = {"none": 0, "l1": 1, "l2": 2}


class CpuBackend(Backend):
    """Numba backend: fused training steps without the GIL."""

    name = "cpu"

    def __init__(self, spec, params, dtype=np.float64):
        super().__init__(spec, params, dtype)
        self._grad = np.zeros_like(self.params)
        self._net = (self.layout.layer_sizes, self.layout.w_offsets, self.layout.b_offsets,
                     spec.activation_codes)

    def _cast(self, array):
        return np.ascontiguousarray(array, dtype=self.dtype)

    def train(self, X, targets, sample_order, batch_bounds, settings, regularization="none",
              reg_rate=0.0):
        steps = len(batch_bounds) - 1
        if steps <= 0:
            return 0
        self.step = train_steps(
            self.params, self._grad, self.state1, self.state2, self.step, *self._net,
            self.spec.loss_code, self._cast(X), self._cast(targets),
            np.ascontiguousarray(sample_order, dtype=np.int64),
            np.ascontiguousarray(batch_bounds, dtype=np.int64),
            settings.code, settings.as_array(), REG_CODE[regularization], float(reg_rate))
        return steps

    def gradient(self, X, targets, regularization="none", reg_rate=0.0):
        return gradient(self.params, *self._net, self.spec.loss_code, self._cast(X),
                        self._cast(targets), REG_CODE[regularization], float(reg_rate))

    def logits(self, X):
        out = np.empty((len(X), self.spec.layer_sizes[-1]), self.dtype)
        output_logits(self.params, *self._net, self._cast(X), out)
        return out

    def layer_outputs(self, X):
        widths = self.spec.layer_sizes[1:]
        out = np.empty((len(X), sum(widths)), self.dtype)
        evaluate(self.params, *self._net, self._cast(X), out)
        return np.split(out, np.cumsum(widths)[:-1], axis=1)
