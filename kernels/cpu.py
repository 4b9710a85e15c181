"""The cpu backend: Numba-compiled, forward + backward + update fused over many steps.

One call of :func:`train_steps` runs every minibatch step it is given without
returning to Python and without allocating inside the step loop; it releases the GIL
(``nogil=True``) so a server can train in a thread while its event loop runs. Small
products are written as loops (a BLAS call costs more than a 10x8 product); large ones
call BLAS through ``np.dot`` into preallocated buffers.

What makes a tiny step (2-8-8-1, batch 10) cheap, measured on a 2-core AMD EPYC:
* tanh and sigmoid go through a polynomial exp that LLVM vectorises (cpu_rules.FAST_RULES);
* the per-step kernels take flat buffers and offsets and make their own 2-D views with
  :func:`_matrix` (numba's ``reshape`` costs ~25 ns a view);
* no function on the step path creates or swaps arrays in a loop that also calls other
  functions, so numba's reference counting stays out of the loops;
* ``error_model="numpy"`` drops the ZeroDivisionError test before each division.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from .backend import Backend
from .cpu_rules import FAST_RULES, RULES
from .optimizers import apply_update
from .rules import CE, LINEAR, NO_PENALTY, REG_CODE, RELU, SIGMOID, TANH

# numba reads module-level names: the compiled rules this module's kernels inline
_tanh_fast, _sigmoid_fast = FAST_RULES.tanh, FAST_RULES.sigmoid
_activate, _derivative, _relu, _relu_der, _tanh_der = (RULES.activate, RULES.derivative, RULES.relu,
                                                       RULES.relu_der, RULES.tanh_der)
_penalty_gradient, _output_delta_element = RULES.penalty_gradient, RULES.output_delta
BLAS_MIN_WORK = 16384  # m*k*n above which np.dot (BLAS) beats plain loops
ROWS_PER_CHUNK = 1024  # evaluation works through X in chunks of this many rows

# error_model="numpy": a float division by zero gives inf/nan as in NumPy, instead of a
# ZeroDivisionError check before every division, which stops loops from vectorising.
JIT = dict(cache=True, nogil=True, error_model="numpy")
# For the activation loops only: fused multiply-adds in the exp polynomial (one rounding
# instead of two, so no less accurate) make the 100x100 grid ~30% faster.
JIT_FMA = dict(JIT, fastmath={"contract"})


# --- views (numba has no spelling for this) ---------------------------------------------
@intrinsic
def _matrix(typingctx, flat, rows, cols):
    """``flat[: rows * cols]`` seen as a C-contiguous ``(rows, cols)`` array, no copy.

    numba's ``reshape`` checks the size and calls a C helper, ~25 ns a view; a training
    step takes ~25 views, so this one skips the check: callers keep
    ``rows * cols <= flat.size``.
    """
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        return None
    matrix_type = flat.copy(ndim=2, layout="C")

    def codegen(context, builder, signature, args):
        flat_type, rows_type, cols_type = signature.args
        source = make_array(flat_type)(context, builder, args[0])
        view = make_array(matrix_type)(context, builder)
        rows = context.cast(builder, args[1], rows_type, types.intp)
        cols = context.cast(builder, args[2], cols_type, types.intp)
        populate_array(view, data=source.data, shape=[rows, cols],
                       strides=[builder.mul(cols, source.itemsize), source.itemsize],
                       itemsize=source.itemsize, meminfo=source.meminfo)
        return impl_ret_borrowed(context, builder, matrix_type, view._getvalue())
    return matrix_type(flat, rows, cols), codegen


# --- the per-step kernels -------------------------------------------------------------
# Every array argument below is a whole flat buffer; a block in it is named by offset and
# shape, e.g. "z block (m, fan_out) at z[z_at:]", row-major. Only the leaf functions make
# views of blocks: a view made in :func:`_forward`'s or :func:`_backward`'s layer loop
# costs an atomic reference-count increment and decrement, which numba cannot drop
# across the calls there. The small-shape loops and the BLAS calls are separate
# functions for the same reason: the loops then hold no counted references at all.


@njit(**JIT_FMA)
def _activate_block(code, z, a, at, n):
    """a[at: at + n] = f(z[at: at + n]).

    One loop per common code, so that the code is tested once and the loop vectorises
    (tanh and sigmoid on the vectorising exp).
    """
    z = z[at: at + n]
    a = a[at: at + n]
    if code == TANH:
        for k in range(n):
            a[k] = _tanh_fast(z[k])
    elif code == RELU:
        for k in range(n):
            a[k] = _relu(z[k])
    elif code == LINEAR:
        for k in range(n):
            a[k] = z[k]
    elif code == SIGMOID:
        for k in range(n):
            a[k] = _sigmoid_fast(z[k])
    else:
        for k in range(n):
            a[k] = _activate(code, z[k])


@njit(**JIT)
def _scale_by_derivative(code, delta, d_at, z, a, at, n):
    """delta[d_at: d_at + n] *= f'(z[at: at + n]), given a = f(z)."""
    delta = delta[d_at: d_at + n]
    z = z[at: at + n]
    a = a[at: at + n]
    if code == TANH:
        for k in range(n):
            delta[k] *= _tanh_der(z[k], a[k])
    elif code == RELU:
        for k in range(n):
            delta[k] *= _relu_der(z[k], a[k])
    elif code != LINEAR:
        for k in range(n):
            delta[k] *= _derivative(code, z[k], a[k])


@njit(**JIT)
def _dense_loops(params, w_at, b_at, fan_in, fan_out, src, src_at, m, z, z_at):
    """z block (m, fan_out) at z_at = src block (m, fan_in) at src_at @ W + b;
    W (fan_in, fan_out) at params[w_at:], b (fan_out,) at params[b_at:]."""
    A = _matrix(src[src_at:], m, fan_in)
    W = _matrix(params[w_at:], fan_in, fan_out)
    b = params[b_at: b_at + fan_out]
    Z = _matrix(z[z_at:], m, fan_out)
    for i in range(m):
        for j in range(fan_out):
            acc = b[j]  # in a register, stored once
            for p in range(fan_in):
                acc += A[i, p] * W[p, j]
            Z[i, j] = acc


@njit(**JIT)
def _dense_blas(params, w_at, b_at, fan_in, fan_out, src, src_at, m, z, z_at):
    """:func:`_dense_loops` through BLAS, for large blocks."""
    Z = _matrix(z[z_at:], m, fan_out)
    np.dot(_matrix(src[src_at:], m, fan_in), _matrix(params[w_at:], fan_in, fan_out), Z)
    b = params[b_at: b_at + fan_out]
    for i in range(m):
        for j in range(fan_out):
            Z[i, j] += b[j]


@njit(**JIT)
def _weight_gradient_loops(grad, w_at, b_at, fan_in, fan_out, src, src_at, m, delta, d_at):
    """dW (fan_in, fan_out) at grad[w_at:] = A.T @ D and db at grad[b_at:] = column sums of D;
    A = src block (m, fan_in) at src_at, D = delta block (m, fan_out) at d_at."""
    A = _matrix(src[src_at:], m, fan_in)
    D = _matrix(delta[d_at:], m, fan_out)
    dW = _matrix(grad[w_at:], fan_in, fan_out)
    for p in range(fan_in):
        for j in range(fan_out):
            acc = 0.0
            for i in range(m):
                acc += A[i, p] * D[i, j]
            dW[p, j] = acc
    db = grad[b_at: b_at + fan_out]
    for j in range(fan_out):
        acc = 0.0
        for i in range(m):
            acc += D[i, j]
        db[j] = acc


@njit(**JIT)
def _weight_gradient_blas(grad, w_at, b_at, fan_in, fan_out, src, src_at, m, delta, d_at):
    """:func:`_weight_gradient_loops` through BLAS, for large blocks."""
    A = _matrix(src[src_at:], m, fan_in)
    D = _matrix(delta[d_at:], m, fan_out)
    np.dot(A.T, D, _matrix(grad[w_at:], fan_in, fan_out))
    db = grad[b_at: b_at + fan_out]
    for j in range(fan_out):
        db[j] = 0.0
    for i in range(m):  # row by row: contiguous, and the same sum order as by columns
        for j in range(fan_out):
            db[j] += D[i, j]


@njit(**JIT)
def _input_delta_loops(params, w_at, fan_in, fan_out, m, delta, d_at, in_at):
    """delta block (m, fan_in) at in_at = delta block (m, fan_out) at d_at @ W.T,
    W (fan_in, fan_out) at params[w_at:]."""
    D = _matrix(delta[d_at:], m, fan_out)
    W = _matrix(params[w_at:], fan_in, fan_out)
    D_in = _matrix(delta[in_at:], m, fan_in)
    if fan_out == 1:  # a one-output layer: an outer product, no sums
        for i in range(m):
            for p in range(fan_in):
                D_in[i, p] = D[i, 0] * W[p, 0]
        return
    for i in range(m):
        for p in range(fan_in):
            acc = 0.0
            for j in range(fan_out):
                acc += D[i, j] * W[p, j]
            D_in[i, p] = acc


@njit(**JIT)
def _input_delta_blas(params, w_at, fan_in, fan_out, m, delta, d_at, in_at):
    """:func:`_input_delta_loops` through BLAS, for large blocks."""
    np.dot(_matrix(delta[d_at:], m, fan_out), _matrix(params[w_at:], fan_in, fan_out).T,
           _matrix(delta[in_at:], m, fan_in))


@njit(**JIT)
def _add_penalty(params, grad, start, stop, reg_code, reg_rate):
    """grad += d(penalty)/dW over params[start:stop] (rules.penalty_gradient)."""
    for k in range(start, stop):
        grad[k] += _penalty_gradient(reg_code, reg_rate, params[k])


@njit(**JIT)
def _output_delta(loss_code, z, z_at, T, t_at, m, n_out, delta):
    """delta (m, n_out) = d(mean loss)/d(logits); logits block at z[z_at:], targets at T[t_at:]."""
    logits = _matrix(z[z_at:], m, n_out)
    targets = _matrix(T[t_at:], m, n_out)
    D = _matrix(delta, m, n_out)
    scale = 1.0 / m
    for i in range(m):
        if loss_code == CE:  # D holds the row's softmax first, shifted by its max: no overflow
            zmax = logits[i, 0]
            for j in range(1, n_out):
                zmax = max(zmax, logits[i, j])
            total = 0.0
            for j in range(n_out):
                e = math.exp(logits[i, j] - zmax)
                D[i, j] = e
                total += e
            for j in range(n_out):
                D[i, j] = _output_delta_element(loss_code, logits[i, j], targets[i, j], D[i, j] / total) * scale
        else:
            for j in range(n_out):
                D[i, j] = _output_delta_element(loss_code, logits[i, j], targets[i, j], 0.0) * scale


@njit(**JIT)
def _block_offsets(sizes, rows):
    """Where each block (rows, width) starts in a flat workspace: block 0 holds the
    inputs (width n_inputs), block l + 1 weight layer l's outputs (width fan_out)."""
    offsets = np.zeros(sizes.shape[0] + 1, np.int64)
    for k in range(sizes.shape[0]):
        offsets[k + 1] = offsets[k] + rows * sizes[k]
    return offsets


@njit(**JIT)
def _forward(params, sizes, w_off, b_off, acts, m, zbuf, abuf, offsets):
    """Forward pass of the m input rows in ``abuf``'s block 0; fills each layer's
    z and f(z) blocks (m, fan_out) in ``zbuf`` and ``abuf`` (see :func:`_block_offsets`)."""
    for layer in range(sizes.shape[0] - 1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        src_at, at = offsets[layer], offsets[layer + 1]
        if m * fan_in * fan_out >= BLAS_MIN_WORK:
            _dense_blas(params, w_off[layer], b_off[layer], fan_in, fan_out, abuf, src_at, m, zbuf, at)
        else:
            _dense_loops(params, w_off[layer], b_off[layer], fan_in, fan_out, abuf, src_at, m, zbuf, at)
        _activate_block(acts[layer], zbuf, abuf, at, m * fan_out)


@njit(**JIT)
def _backward(params, grad, sizes, w_off, b_off, acts, loss_code, T, m, zbuf, abuf, offsets,
              deltas, reg_code, reg_rate):
    """Fill ``grad`` with the gradient of mean loss + penalty, after :func:`_forward`.

    ``T`` (m * n_outputs,) holds the targets; ``deltas`` two blocks of m * (widest layer),
    used in turn for each layer's delta = d(mean loss)/dz.
    """
    last = sizes.shape[0] - 2
    half = deltas.shape[0] // 2
    d_at = 0  # the current delta's block; the layer below writes the other one
    _output_delta(loss_code, zbuf, offsets[last + 1], T, 0, m, sizes[last + 1], deltas)
    for layer in range(last, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        src_at, below_at = offsets[layer], half - d_at
        if m * fan_in * fan_out >= BLAS_MIN_WORK:
            _weight_gradient_blas(grad, w_off[layer], b_off[layer], fan_in, fan_out, abuf, src_at,
                                  m, deltas, d_at)
            if layer > 0:
                _input_delta_blas(params, w_off[layer], fan_in, fan_out, m, deltas, d_at, below_at)
        else:
            _weight_gradient_loops(grad, w_off[layer], b_off[layer], fan_in, fan_out, abuf, src_at,
                                   m, deltas, d_at)
            if layer > 0:
                _input_delta_loops(params, w_off[layer], fan_in, fan_out, m, deltas, d_at, below_at)
        if reg_code != NO_PENALTY:
            _add_penalty(params, grad, w_off[layer], w_off[layer] + fan_in * fan_out, reg_code, reg_rate)
        if layer > 0:
            _scale_by_derivative(acts[layer - 1], deltas, below_at, zbuf, abuf, src_at, m * fan_in)
            d_at = below_at


@njit(**JIT)
def _workspace(sizes, rows, dtype_like):
    """Flat buffers for ``rows`` rows: offsets, z blocks, f(z) blocks, two delta blocks."""
    offsets = _block_offsets(sizes, rows)
    width = 0
    for s in sizes:
        width = max(width, s)
    total = offsets[-1]
    zbuf = np.empty(total, dtype_like.dtype)
    abuf = np.empty(total, dtype_like.dtype)
    deltas = np.empty(2 * rows * width, dtype_like.dtype)
    return offsets, zbuf, abuf, deltas


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
    # blocks spaced for max_rows serve every shorter batch too: nothing allocated per step
    offsets, zbuf, abuf, deltas = _workspace(sizes, max_rows, params)
    tb = np.empty(max_rows * n_out, params.dtype)
    for s in range(bounds.shape[0] - 1):
        m = bounds[s + 1] - bounds[s]
        for i in range(m):  # the batch's rows into the input block
            row = order[bounds[s] + i]
            for j in range(n_in):
                abuf[i * n_in + j] = X[row, j]
            for j in range(n_out):
                tb[i * n_out + j] = T[row, j]
        _forward(params, sizes, w_off, b_off, acts, m, zbuf, abuf, offsets)
        _backward(params, grad, sizes, w_off, b_off, acts, loss_code, tb, m, zbuf, abuf, offsets,
                  deltas, reg_code, reg_rate)
        step += 1
        apply_update(opt_code, params, grad, state1, state2, step, hyper)
    return step


@njit(**JIT)
def gradient(params, sizes, w_off, b_off, acts, loss_code, X, T, reg_code, reg_rate):
    """Gradient of mean loss + penalty over all of ``X``, flat ``(P,)``."""
    m = X.shape[0]
    offsets, zbuf, abuf, deltas = _workspace(sizes, m, params)
    x = X.reshape(X.size)
    for k in range(X.size):  # the rows into the input block
        abuf[k] = x[k]
    grad = np.empty_like(params)
    _forward(params, sizes, w_off, b_off, acts, m, zbuf, abuf, offsets)
    _backward(params, grad, sizes, w_off, b_off, acts, loss_code, T.reshape(T.size), m, zbuf,
              abuf, offsets, deltas, reg_code, reg_rate)
    return grad


@njit(**JIT)
def evaluate(params, sizes, w_off, b_off, acts, X, out):
    """Every layer's output f(z) for all rows of ``X``, chunk by chunk.

    ``out`` (n, sum of fan_outs): layer blocks side by side, the output layer last
    holding its logits (its activation is linear).
    """
    n, n_in = X.shape
    rows = max(1, min(n, ROWS_PER_CHUNK))
    offsets, zbuf, abuf, deltas = _workspace(sizes, rows, params)
    x = X.reshape(X.size)
    n_layers = sizes.shape[0] - 1
    for start in range(0, n, rows):
        m = min(rows, n - start)
        for k in range(m * n_in):  # the chunk's rows into the input block
            abuf[k] = x[start * n_in + k]
        _forward(params, sizes, w_off, b_off, acts, m, zbuf, abuf, offsets)
        col = 0
        for layer in range(n_layers):
            width = sizes[layer + 1]
            a = _matrix(abuf[offsets[layer + 1]:], m, width)
            for i in range(m):
                for j in range(width):
                    out[start + i, col + j] = a[i, j]
            col += width


@njit(**JIT)
def output_logits(params, sizes, w_off, b_off, acts, X, out):
    """The output layer's logits for all rows of ``X`` into ``out`` (n, n_outputs)."""
    n, n_in = X.shape
    rows = max(1, min(n, ROWS_PER_CHUNK))
    offsets, zbuf, abuf, deltas = _workspace(sizes, rows, params)
    x = X.reshape(X.size)
    n_out = sizes[-1]
    for start in range(0, n, rows):
        m = min(rows, n - start)
        for k in range(m * n_in):  # the chunk's rows into the input block
            abuf[k] = x[start * n_in + k]
        _forward(params, sizes, w_off, b_off, acts, m, zbuf, abuf, offsets)
        z = _matrix(zbuf[offsets[-2]:], m, n_out)
        for i in range(m):
            for j in range(n_out):
                out[start + i, j] = z[i, j]


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
        self.check_arrays(X, targets, sample_order, batch_bounds)
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
        self.check_arrays(X, targets)
        return gradient(self.params, *self._net, self.spec.loss_code, self._cast(X),
                        self._cast(targets), REG_CODE[regularization], float(reg_rate))

    def logits(self, X):
        self.check_arrays(X)
        out = np.empty((len(X), self.spec.layer_sizes[-1]), self.dtype)
        output_logits(self.params, *self._net, self._cast(X), out)
        return out

    def layer_outputs(self, X):
        self.check_arrays(X)
        widths = self.spec.layer_sizes[1:]
        out = np.empty((len(X), sum(widths)), self.dtype)
        evaluate(self.params, *self._net, self._cast(X), out)
        return np.split(out, np.cumsum(widths)[:-1], axis=1)
