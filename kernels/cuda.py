"""The cuda backend: Numba-CUDA kernels, with the network resident on the GPU.

The flat parameter vector, its gradient and the optimizer state (``state1``,
``state2``) live in device memory in the layout of :mod:`kernels.spec`; they come back
to the host only through :meth:`CudaBackend.get_params` (and the ``params``/``state1``/
``state2`` properties, which return host copies). Input and target arrays are copied to
the device once and cached by the identity of the host array (the Session passes the
same arrays on every call); each call then sends only its minibatch order and brings
back only small results (logits, layer outputs, a gradient vector).

Two ways to train, picked by size (:meth:`CudaBackend.uses_fused`):

* **fused** -- tiny nets (every layer at most ``FUSED_MAX_WIDTH`` = 32 units) and
  batches up to ``FUSED_MAX_ROWS`` rows: :func:`_fused_train` runs *all* the steps of a
  ``train`` call in one launch of one thread block. Threads share the (row, unit)
  pairs of each phase -- forward layer by layer, output delta, backward layer by
  layer, optimizer update -- with ``syncthreads`` between phases. A 2-8-8-1 net has
  too little work to fill even one SM: what matters is the launch overhead (several
  microseconds a launch, tens from Python), and this pays it once per call, not the
  dozen launches per step of the tiled path.
* **tiled** -- anything wider: per step, a gather of the minibatch rows, a tiled
  shared-memory matmul per product (forward ``A @ B``; backward ``A.T @ B`` for the
  weight gradient and ``A @ B.T`` for the delta), and element-wise kernels for
  bias + activation, activation derivative, loss gradient at the output, bias
  gradient, regularization and the optimizer update.

Evaluation (``logits``, ``layer_outputs``, the 100x100 boundary grid) runs on the
device too: one thread per row through every layer for tiny nets
(:func:`_forward_rows_kernel`), the tiled forward pass in chunks of ``EVAL_ROWS``
rows otherwise.

Precision. The parameters, data and workspace are stored in the dtype the caller
passes: ``CudaBackend`` defaults to float32, the GPU's natural choice, and float64 is
available (``make_backend`` passes the config's ``dtype``). The tiled matmul -- where
the FLOPs are -- is compiled per dtype and stays in it; the activations, the loss
gradient, the optimizer rules and the fused kernel's sums compute in double precision
in registers (Numba types a Python float literal as float64) and store in the array
dtype: they are memory- or latency-bound, so this costs little. Measured against the
float64 NumPy reference in ``tests/cuda_sim``:

* float64: parameters after tens of steps agree to ``rtol=1e-9, atol=1e-11`` (the
  cpu backend's tolerance); the differences are rounding only (fused multiply-add on
  the GPU, the tiled summation order).
* float32: ``rtol=1e-4, atol=1e-5`` after a few Adam steps, as for the cpu backend in
  float32.

The per-element math is kernels/rules.py's, compiled here as device functions
(:data:`CUDA_RULES`), the rules that the cpu and the reference backends run too.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from numba import cuda, from_dtype
from numba.cuda import config as cuda_config

from .backend import Backend
from . import rules
from .rules import CE, REG_CODE

# Under the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1) every GPU thread is a Python
# thread and a launch costs about a millisecond per thread, more for big blocks: there
# the blocks are kept small (the kernels stride over any count, so results are equal).
SIMULATED = bool(cuda_config.ENABLE_CUDASIM)
WARP = 1 if SIMULATED else 32  # blocks are a whole number of warps
TILE = 16  # matmul tiles are TILE x TILE; one thread per output element of a tile
THREADS = 8 if SIMULATED else 256  # threads per block of the element-wise kernels
MAX_BLOCKS = 4 if SIMULATED else 65535  # blocks of a 1-D launch; grid-stride loops do the rest
FUSED_MAX_WIDTH = 32  # nets whose every layer is at most this wide count as tiny
FUSED_MAX_ROWS = 2048  # ... and train fused while a minibatch has at most this many rows
FUSED_MAX_THREADS = 8 if SIMULATED else 256  # threads of the fused kernel's one block
EVAL_ROWS = 4096  # the tiled path evaluates this many rows at a time
DEVICE_CACHE_SIZE = 8  # host arrays whose device copies a backend keeps



# ---------------------------------------------------------------------------------------
# Per-element math: the rules of kernels/rules.py as device functions, shared by the fused
# and the tiled kernels.
# ---------------------------------------------------------------------------------------
_DEVICE = dict(device=True, inline=True)
CUDA_RULES = rules.compile_scalar_rules(cuda.jit(**_DEVICE))
_activate, _derivative, _penalty_gradient = CUDA_RULES.activate, CUDA_RULES.derivative, CUDA_RULES.penalty_gradient
_output_delta_element, _step_constants, _update_rule = CUDA_RULES.output_delta, CUDA_RULES.step_constants, CUDA_RULES.update


@cuda.jit(device=True)
def _output_delta_row(loss_code, logits, targets, delta, scale):
    """One sample's ``d(mean loss)/d(logits)`` into ``delta``; all three ``(n_outputs,)``.

    ``scale`` is ``1 / batch rows`` (the loss is a mean); for ce, ``delta`` holds the row's
    softmax first (shifted by its max: no overflow), as cpu.py's ``_output_delta``.
    """
    n_out = logits.shape[0]
    if loss_code == CE:
        zmax = logits[0]
        for j in range(1, n_out):
            zmax = max(zmax, logits[j])
        total = 0.0
        for j in range(n_out):
            e = math.exp(logits[j] - zmax)
            delta[j] = e
            total += e
        for j in range(n_out):
            delta[j] = _output_delta_element(loss_code, logits[j], targets[j], delta[j] / total) * scale
    else:
        for j in range(n_out):
            delta[j] = _output_delta_element(loss_code, logits[j], targets[j], 0.0) * scale


@cuda.jit(device=True, inline=True)
def _update_element(code, i, params, grad, state1, state2, constants):
    """One optimizer step for element ``i`` of the flat vectors, in place (rules.update);
    ``constants``: rules.step_constants of this step."""
    params[i], state1[i], state2[i] = _update_rule(code, params[i], grad[i], state1[i], state2[i], constants)


# ---------------------------------------------------------------------------------------
# The fused kernel for tiny nets: every step of a train call in one launch, one block.
# ---------------------------------------------------------------------------------------
@cuda.jit(cache=True)
def _fused_train(params, grad, state1, state2, first_step, sizes, w_off, b_off, acts,
                 loss_code, X, T, order, bounds, opt_code, hyper, reg_code, reg_rate,
                 zbuf, abuf, delta_a, delta_b, unit_offsets, update):
    """Run ``len(bounds) - 1`` minibatch steps in one thread block.

    ``X`` (n, n_inputs), ``T`` (n, n_outputs); step ``s`` trains on rows
    ``order[bounds[s]:bounds[s+1]]``. ``params``/``grad``/``state1``/``state2`` (P,)
    flat. Workspace: ``zbuf``/``abuf`` hold each layer's ``(rows, fan_out)`` block of
    z and f(z) row-major at ``unit_offsets[layer]``; ``delta_a``/``delta_b`` (rows *
    widest,) take turns holding dL/dz of the layer being back-propagated. With
    ``update`` False the kernel only fills ``grad`` (one step: the gradient over the
    rows), which is how :meth:`CudaBackend.gradient` runs on tiny nets.

    Each phase hands its (row, unit) pairs to the threads round-robin, then
    ``syncthreads`` so the next phase sees every result (global-memory writes of a
    block are visible to the whole block after the barrier).
    """
    tid = cuda.threadIdx.x
    stride = cuda.blockDim.x
    n_layers = sizes.shape[0] - 1
    last = n_layers - 1
    n_out = sizes[n_layers]
    for s in range(bounds.shape[0] - 1):
        first = bounds[s]
        m = bounds[s + 1] - first
        # forward: z = a_prev @ W + b, a = f(z); one (row i, unit j) per thread
        for layer in range(n_layers):
            fan_in, fan_out = sizes[layer], sizes[layer + 1]
            w0, b0, out0 = w_off[layer], b_off[layer], unit_offsets[layer]
            in0 = unit_offsets[layer - 1] if layer > 0 else 0
            for idx in range(tid, m * fan_out, stride):
                i = idx // fan_out
                j = idx - i * fan_out
                acc = 0.0
                if layer == 0:
                    row = order[first + i]
                    for p in range(fan_in):
                        acc += X[row, p] * params[w0 + p * fan_out + j]
                else:
                    for p in range(fan_in):
                        acc += abuf[in0 + i * fan_in + p] * params[w0 + p * fan_out + j]
                z = acc + params[b0 + j]
                zbuf[out0 + idx] = z
                abuf[out0 + idx] = _activate(acts[layer], z)
            cuda.syncthreads()
        # the loss gradient at the output, one row per thread
        out0 = unit_offsets[last]
        for i in range(tid, m, stride):
            _output_delta_row(loss_code, zbuf[out0 + i * n_out: out0 + (i + 1) * n_out],
                              T[order[first + i]], delta_a[i * n_out: (i + 1) * n_out], 1.0 / m)
        cuda.syncthreads()
        # backward: weight and bias gradients, and the delta one layer down
        delta, spare = delta_a, delta_b
        for layer in range(last, -1, -1):
            fan_in, fan_out = sizes[layer], sizes[layer + 1]
            w0, b0 = w_off[layer], b_off[layer]
            in0 = unit_offsets[layer - 1] if layer > 0 else 0
            n_weights = fan_in * fan_out
            for idx in range(tid, n_weights + fan_out, stride):
                acc = 0.0
                if idx < n_weights:  # dW[p, j] = sum_i a_prev[i, p] * delta[i, j]
                    p = idx // fan_out
                    j = idx - p * fan_out
                    for i in range(m):
                        if layer == 0:
                            a_prev = X[order[first + i], p]
                        else:
                            a_prev = abuf[in0 + i * fan_in + p]
                        acc += a_prev * delta[i * fan_out + j]
                    grad[w0 + idx] = acc + _penalty_gradient(reg_code, reg_rate, params[w0 + idx])
                else:  # db[j] = sum_i delta[i, j]
                    j = idx - n_weights
                    for i in range(m):
                        acc += delta[i * fan_out + j]
                    grad[b0 + j] = acc
            if layer > 0:  # delta_prev[i, p] = (delta[i] . W[p]) * f'(z[i, p])
                for idx in range(tid, m * fan_in, stride):
                    i = idx // fan_in
                    p = idx - i * fan_in
                    acc = 0.0
                    for j in range(fan_out):
                        acc += delta[i * fan_out + j] * params[w0 + p * fan_out + j]
                    spare[idx] = acc * _derivative(acts[layer - 1], zbuf[in0 + idx], abuf[in0 + idx])
            cuda.syncthreads()
            delta, spare = spare, delta
        if update:
            constants = _step_constants(first_step + s + 1, hyper)
            for i in range(tid, params.shape[0], stride):
                _update_element(opt_code, i, params, grad, state1, state2, constants)
            cuda.syncthreads()  # the next step's forward pass reads the new parameters


@lru_cache(maxsize=None)
def _forward_rows_kernel(dtype_name: str):
    """Evaluation for tiny nets: one thread carries one row through every layer.

    The kernel ``(params, sizes, w_off, b_off, acts, X, out, all_layers)``: ``X``
    (n, n_inputs); with ``all_layers`` ``out`` is (n, sum of fan_outs), every layer's
    f(z) side by side (the output layer's are its logits), else ``out`` (n, n_outputs)
    gets the logits only. The row's activations stay in two per-thread arrays of
    ``FUSED_MAX_WIDTH`` in the backend's dtype.
    """
    element = from_dtype(np.dtype(dtype_name))
    zero = np.dtype(dtype_name).type(0)

    @cuda.jit
    def forward_rows(params, sizes, w_off, b_off, acts, X, out, all_layers):
        a_in = cuda.local.array(FUSED_MAX_WIDTH, element)
        a_out = cuda.local.array(FUSED_MAX_WIDTH, element)
        n_layers = sizes.shape[0] - 1
        for i in range(cuda.grid(1), X.shape[0], cuda.gridsize(1)):
            for p in range(sizes[0]):
                a_in[p] = X[i, p]
            col = 0
            for layer in range(n_layers):
                fan_in, fan_out = sizes[layer], sizes[layer + 1]
                w0, b0 = w_off[layer], b_off[layer]
                for j in range(fan_out):
                    acc = zero
                    for p in range(fan_in):
                        acc += a_in[p] * params[w0 + p * fan_out + j]
                    a_out[j] = _activate(acts[layer], acc + params[b0 + j])
                for j in range(fan_out):
                    a_in[j] = a_out[j]
                    if all_layers:
                        out[i, col + j] = a_out[j]
                col += fan_out
            if not all_layers:
                for j in range(sizes[n_layers]):
                    out[i, j] = a_in[j]

    return forward_rows


# ---------------------------------------------------------------------------------------
# The tiled path: matmul and element-wise kernels, one launch per step of each.
# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def tiled_matmul_kernel(tile: int, dtype_name: str):
    """The kernel ``(A, B, out, trans_a, trans_b)``: ``out = op(A) @ op(B)``.

    ``op(A)`` is ``A.T`` when ``trans_a`` (likewise B), so one kernel does the forward
    ``A @ B``, the weight gradient ``A.T @ B`` and the delta ``A @ B.T``; ``out`` is
    ``(m, n)`` and the shared dimension ``k``. Launch with blocks of ``(tile, tile)``
    threads over a grid of ``(ceil(n / tile), ceil(m / tile))``: each block computes
    one ``tile x tile`` block of ``out``, walking along ``k`` one tile at a time. Every
    thread loads one element of the A tile and one of the B tile into shared memory
    (then each loaded element is used ``tile`` times); edges are padded with zeros.
    Loads always run along a row of the stored array, so neighbouring threads read
    neighbouring addresses (coalesced) also for the transposed operands; the tiles get
    one padding column so that the transposed store into shared memory avoids bank
    conflicts. Compiled per (tile, dtype): shared arrays need both at compile time.
    """
    element = from_dtype(np.dtype(dtype_name))
    zero = np.dtype(dtype_name).type(0)
    padded = tile + 1  # a compile-time constant, as shared array shapes must be

    @cuda.jit
    def matmul(A, B, out, trans_a, trans_b):
        a_tile = cuda.shared.array((tile, padded), element)  # a_tile[r, c] = op(A)[row0 + r, k0 + c]
        b_tile = cuda.shared.array((tile, padded), element)  # b_tile[r, c] = op(B)[k0 + r, col0 + c]
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * tile, cuda.blockIdx.x * tile
        m, n = out.shape
        k = A.shape[0] if trans_a else A.shape[1]
        acc = zero
        for k0 in range(0, k, tile):
            if trans_a:  # op(A)[row0 + tx, k0 + ty] = A[k0 + ty, row0 + tx]
                r, c = row0 + tx, k0 + ty
                a_tile[tx, ty] = A[c, r] if r < m and c < k else zero
            else:
                r, c = row0 + ty, k0 + tx
                a_tile[ty, tx] = A[r, c] if r < m and c < k else zero
            if trans_b:  # op(B)[k0 + tx, col0 + ty] = B[col0 + ty, k0 + tx]
                r, c = k0 + tx, col0 + ty
                b_tile[tx, ty] = B[c, r] if r < k and c < n else zero
            else:
                r, c = k0 + ty, col0 + tx
                b_tile[ty, tx] = B[r, c] if r < k and c < n else zero
            cuda.syncthreads()  # the tiles are complete
            for q in range(tile):
                acc += a_tile[ty, q] * b_tile[q, tx]
            cuda.syncthreads()  # everyone is done with them before they are overwritten
        if row0 + ty < m and col0 + tx < n:
            out[row0 + ty, col0 + tx] = acc

    return matmul


def matmul(A, B, out, trans_a=False, trans_b=False, tile=TILE):
    """``out = op(A) @ op(B)`` on the device (arrays are device arrays of one dtype).

    ``op(A) = A.T`` when ``trans_a``; ``out`` ``(m, n)``. Queued on the default stream;
    returns before the product is done.
    """
    m, n = out.shape
    if m == 0 or n == 0:
        return
    kernel = tiled_matmul_kernel(tile, np.dtype(out.dtype).name)
    kernel[(-(-n // tile), -(-m // tile)), (tile, tile)](A, B, out, trans_a, trans_b)


def _launch_shape(count: int) -> tuple[int, int]:
    """(blocks, threads) for a 1-D kernel over ``count`` items.

    One item per thread, up to ``MAX_BLOCKS`` blocks; the kernels loop over the items
    with a stride of the whole grid (grid-stride loops), so any count is covered.
    """
    threads = min(THREADS, WARP * -(-count // WARP))
    return min(MAX_BLOCKS, -(-count // threads)), threads


@cuda.jit(cache=True)
def _gather_rows(X, T, order, first, xb, tb):
    """``xb[i] = X[order[first + i]]`` and likewise ``tb`` from ``T``; a row at a time."""
    for i in range(cuda.grid(1), xb.shape[0], cuda.gridsize(1)):
        row = order[first + i]
        for j in range(X.shape[1]):
            xb[i, j] = X[row, j]
        for j in range(T.shape[1]):
            tb[i, j] = T[row, j]


@cuda.jit(cache=True)
def _bias_activation(z, b, a, code):
    """``z += b`` (row-wise), ``a = f(z)``; ``z``/``a`` (m, n), ``b`` (n,)."""
    m, n = z.shape
    for idx in range(cuda.grid(1), m * n, cuda.gridsize(1)):
        i, j = idx // n, idx % n
        zz = z[i, j] + b[j]
        z[i, j] = zz
        a[i, j] = _activate(code, zz)


@cuda.jit(cache=True)
def _output_delta(logits, targets, delta, loss_code, scale):
    """``delta = d(mean loss)/d(logits)``; all (m, n_outputs), a row at a time."""
    for i in range(cuda.grid(1), logits.shape[0], cuda.gridsize(1)):
        _output_delta_row(loss_code, logits[i], targets[i], delta[i], scale)


@cuda.jit(cache=True)
def _bias_gradient(delta, db):
    """``db[j] = sum_i delta[i, j]``: ``delta`` (m, n), ``db`` (n,); a column at a time."""
    for j in range(cuda.grid(1), db.shape[0], cuda.gridsize(1)):
        acc = 0.0
        for i in range(delta.shape[0]):
            acc += delta[i, j]
        db[j] = acc


@cuda.jit(cache=True)
def _times_derivative(delta, z, a, code):
    """``delta *= f'(z)`` element-wise; all three (m, n), ``a = f(z)``."""
    m, n = delta.shape
    for idx in range(cuda.grid(1), m * n, cuda.gridsize(1)):
        i, j = idx // n, idx % n
        delta[i, j] *= _derivative(code, z[i, j], a[i, j])


@cuda.jit(cache=True)
def _add_penalty(params, grad, weight_mask, reg_code, rate):
    """``grad += d penalty / d params`` where ``weight_mask`` (uint8, (P,)) marks weights."""
    for i in range(cuda.grid(1), params.shape[0], cuda.gridsize(1)):
        if weight_mask[i]:
            grad[i] += _penalty_gradient(reg_code, rate, params[i])


@cuda.jit(cache=True)
def _update(opt_code, params, grad, state1, state2, step, hyper):
    """One optimizer step over the flat vectors (P,): :func:`_update_element` per element."""
    constants = _step_constants(step, hyper)
    for i in range(cuda.grid(1), params.shape[0], cuda.gridsize(1)):
        _update_element(opt_code, i, params, grad, state1, state2, constants)


class _Workspace:
    """Device scratch for forward + backward passes of up to ``rows`` rows.

    ``z``/``a`` (flat): each layer's ``(rows, fan_out)`` block of pre-activations and
    outputs, row-major at ``offsets[layer]`` (the first ``m`` rows of a block are its
    first ``m * fan_out`` entries, so any ``m <= rows`` fits); ``deltas``: two flat
    ``(rows * widest,)`` buffers that take turns in back-propagation; ``xb``/``tb``:
    the gathered minibatch. The fused kernel takes the flat buffers; the tiled path
    takes 2-D views of them, made once per shape and kept.
    """

    def __init__(self, layer_sizes, rows: int, dtype):
        sizes = [int(s) for s in layer_sizes]
        self.rows = rows
        self.offsets = np.concatenate([[0], np.cumsum([rows * w for w in sizes[1:]])]).astype(np.int64)
        self.device_offsets = cuda.to_device(self.offsets)
        self.z = cuda.device_array(int(self.offsets[-1]), dtype)
        self.a = cuda.device_array(int(self.offsets[-1]), dtype)
        self.deltas = (cuda.device_array(rows * max(sizes), dtype),
                       cuda.device_array(rows * max(sizes), dtype))
        self.xb = cuda.device_array((rows, sizes[0]), dtype)
        self.tb = cuda.device_array((rows, sizes[-1]), dtype)
        self._sizes = sizes
        self._views = {}

    def _view(self, key, make):
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = make()
        return view

    def layer(self, which: str, layer: int, m: int):
        """``(m, fan_out)`` view of layer ``layer``'s z (``which="z"``) or f(z) (``"a"``)."""
        width, start = self._sizes[layer + 1], int(self.offsets[layer])
        flat = self.z if which == "z" else self.a
        return self._view((which, layer, m), lambda: flat[start: start + m * width].reshape(m, width))

    def delta(self, turn: int, m: int, width: int):
        """``(m, width)`` view of delta buffer ``turn`` (0 or 1)."""
        return self._view(("delta", turn, m, width),
                          lambda: self.deltas[turn][: m * width].reshape(m, width))

    def batch(self, m: int):
        """Views of the first ``m`` rows of the gathered inputs and targets."""
        return self._view(("batch", m), lambda: (self.xb[:m], self.tb[:m]))


# ---------------------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------------------
class CudaBackend(Backend):
    """Numba-CUDA backend: parameters, gradient and optimizer state stay on the GPU.

    ``params``, ``state1`` and ``state2`` are read-only properties returning host
    copies; change the parameters with :meth:`set_params`. ``path`` is ``"auto"``
    (fused for tiny nets and batches, tiled otherwise; see :meth:`uses_fused`), or
    ``"tiled"`` to force the tiled kernels (tests do, on tiny shapes); ``tile`` sets the
    matmul tile edge and ``fused_threads`` the fused kernel's block size (None: by
    size). ``last_path`` says which path the last ``train``/``gradient`` call took.
    """

    name = "cuda"

    def __init__(self, spec, params, dtype=np.float32, *, path="auto", tile=TILE, fused_threads=None):
        if path not in ("auto", "tiled"):
            raise ValueError(f"path must be 'auto' or 'tiled', got {path!r}")
        layout = spec.layout()
        self.path, self.tile, self.fused_threads = path, tile, fused_threads
        self.last_path = None
        self.tiny = int(max(spec.layer_sizes)) <= FUSED_MAX_WIDTH
        self.dtype = np.dtype(dtype)  # (Backend.__init__ sets it too; needed here first)
        self._act_codes = [int(code) for code in spec.activation_codes]
        self._d_params = cuda.device_array(layout.size, self.dtype)
        self._d_grad = cuda.device_array(layout.size, self.dtype)
        self._d_state1 = cuda.device_array(layout.size, self.dtype)
        self._d_state2 = cuda.device_array(layout.size, self.dtype)
        # the network as the kernels read it: layer sizes, W and b offsets, activation codes
        self._net = tuple(cuda.to_device(np.ascontiguousarray(a, np.int64)) for a in
                          (layout.layer_sizes, layout.w_offsets, layout.b_offsets, spec.activation_codes))
        self._d_weight_mask = cuda.to_device(layout.weight_mask().astype(np.uint8))
        # per layer: W (fan_in, fan_out) and b (fan_out,) as views of the flat vectors
        self._W = [self._weights(self._d_params, layout, l) for l in range(spec.n_layers)]
        self._b = [self._bias(self._d_params, layout, l) for l in range(spec.n_layers)]
        self._dW = [self._weights(self._d_grad, layout, l) for l in range(spec.n_layers)]
        self._db = [self._bias(self._d_grad, layout, l) for l in range(spec.n_layers)]
        self._workspace = None
        self._device_cache = OrderedDict()  # id(host array) -> (host array, device copy)
        self._aranges = {}  # n -> device arange(n), the row order of a whole-array gradient
        self._no_optimizer = cuda.to_device(np.zeros(7))  # hyper-parameters of a gradient-only launch
        super().__init__(spec, params, dtype)

    @staticmethod
    def _weights(flat, layout, layer):
        fan_in, fan_out = int(layout.layer_sizes[layer]), int(layout.layer_sizes[layer + 1])
        start = int(layout.w_offsets[layer])
        return flat[start: start + fan_in * fan_out].reshape(fan_in, fan_out)

    @staticmethod
    def _bias(flat, layout, layer):
        start = int(layout.b_offsets[layer])
        return flat[start: start + int(layout.layer_sizes[layer + 1])]

    # --- parameters: on the device, host copies on request ------------------------------
    def set_params(self, params: np.ndarray) -> None:
        """Copy ``params`` (flat ``(P,)``) to the device and clear the optimizer state."""
        params = np.asarray(params)
        if params.shape != (self.layout.size,):
            raise ValueError(f"expected {self.layout.size} parameters, got {params.shape}")
        host = np.ascontiguousarray(params, dtype=self.dtype)
        self._d_params.copy_to_device(host)
        zeros = np.zeros_like(host)
        self._d_state1.copy_to_device(zeros)
        self._d_state2.copy_to_device(zeros)
        self.step = 0

    def load_optimizer_state(self, state1: np.ndarray, state2: np.ndarray, step: int) -> None:
        """Copy the optimizer's state to the device (flat ``(P,)`` each) and its step count."""
        self._d_state1.copy_to_device(np.ascontiguousarray(state1, dtype=self.dtype))
        self._d_state2.copy_to_device(np.ascontiguousarray(state2, dtype=self.dtype))
        self.step = int(step)

    @property
    def params(self) -> np.ndarray:
        """Host copy of the flat parameters ``(P,)`` in the backend's dtype."""
        return self._d_params.copy_to_host()

    @property
    def state1(self) -> np.ndarray:
        """Host copy of the optimizer's first state vector ``(P,)``."""
        return self._d_state1.copy_to_host()

    @property
    def state2(self) -> np.ndarray:
        """Host copy of the optimizer's second state vector ``(P,)``."""
        return self._d_state2.copy_to_host()

    def get_params(self) -> np.ndarray:
        return self._d_params.copy_to_host().astype(np.float64)

    # --- data on the device ---------------------------------------------------------------
    def _to_device(self, array):
        """The device copy of a host array, made once and cached by the array's identity.

        The cache keeps the host array itself too, so its ``id`` cannot be reused by
        another array while the entry lives. Host arrays are taken as read-only: one
        changed in place after its first use here would not be seen.
        """
        key = id(array)
        hit = self._device_cache.get(key)
        if hit is not None and hit[0] is array:
            self._device_cache.move_to_end(key)
            return hit[1]
        device = cuda.to_device(np.ascontiguousarray(array, dtype=self.dtype))
        self._device_cache[key] = (array, device)
        while len(self._device_cache) > DEVICE_CACHE_SIZE:
            self._device_cache.popitem(last=False)
        return device

    def _workspace_for(self, rows: int) -> _Workspace:
        """A workspace of at least ``rows`` rows (grown, never shrunk)."""
        if self._workspace is None or self._workspace.rows < rows:
            self._workspace = _Workspace(self.layout.layer_sizes, max(rows, 1), self.dtype)
        return self._workspace

    def uses_fused(self, rows: int) -> bool:
        """Whether training on minibatches of up to ``rows`` rows takes the fused kernel."""
        return self.path == "auto" and self.tiny and rows <= FUSED_MAX_ROWS

    # --- training -------------------------------------------------------------------------
    def train(self, X, targets, sample_order, batch_bounds, settings, regularization="none",
              reg_rate=0.0):
        self.check_arrays(X, targets, sample_order, batch_bounds)
        bounds = np.ascontiguousarray(batch_bounds, dtype=np.int64)
        steps = len(bounds) - 1
        if steps <= 0:
            return 0
        d_X, d_T = self._to_device(X), self._to_device(targets)
        d_order = cuda.to_device(np.ascontiguousarray(sample_order, dtype=np.int64))
        d_hyper = cuda.to_device(settings.as_array())
        reg_code, reg_rate = REG_CODE[regularization], float(reg_rate)
        rows = int(np.max(np.diff(bounds)))
        if self.uses_fused(rows):
            self._run_fused(d_X, d_T, d_order, cuda.to_device(bounds), rows, settings.code,
                            d_hyper, reg_code, reg_rate, update=True)
        else:
            self.last_path = "tiled"
            workspace = self._workspace_for(rows)
            for s in range(steps):
                first, m = int(bounds[s]), int(bounds[s + 1] - bounds[s])
                xb, tb = workspace.batch(m)
                if m > 0:
                    blocks, threads = _launch_shape(m)
                    _gather_rows[blocks, threads](d_X, d_T, d_order, first, xb, tb)
                self._forward_backward(xb, tb, m, workspace, reg_code, reg_rate)
                blocks, threads = _launch_shape(self.layout.size)
                _update[blocks, threads](settings.code, self._d_params, self._d_grad, self._d_state1,
                                         self._d_state2, self.step + s + 1, d_hyper)
        self.step += steps
        cuda.synchronize()  # return when the steps are done: callers time this call
        return steps

    def _run_fused(self, d_X, d_T, d_order, d_bounds, rows, opt_code, d_hyper, reg_code, reg_rate,
                   update):
        self.last_path = "fused"
        workspace = self._workspace_for(rows)
        # enough threads for the widest phase (rows x units, or the parameter update)
        work = max(rows * int(max(self.spec.layer_sizes)), self.layout.size)
        threads = self.fused_threads or min(FUSED_MAX_THREADS, WARP * -(-work // WARP))
        _fused_train[1, threads](
            self._d_params, self._d_grad, self._d_state1, self._d_state2, self.step, *self._net,
            self.spec.loss_code, d_X, d_T, d_order, d_bounds, opt_code, d_hyper, reg_code, reg_rate,
            workspace.z, workspace.a, workspace.deltas[0], workspace.deltas[1],
            workspace.device_offsets, update)

    def _forward_tiled(self, X_rows, m, workspace):
        """Tiled forward pass of ``X_rows`` (device, (m, n_inputs)) into the workspace."""
        a_prev = X_rows
        for layer in range(self.spec.n_layers):
            z, a = workspace.layer("z", layer, m), workspace.layer("a", layer, m)
            matmul(a_prev, self._W[layer], z, tile=self.tile)
            if z.size:
                blocks, threads = _launch_shape(z.size)
                _bias_activation[blocks, threads](z, self._b[layer], a, self._act_codes[layer])
            a_prev = a

    def _forward_backward(self, X_rows, T_rows, m, workspace, reg_code, reg_rate):
        """Fill the device gradient with d(mean loss + penalty) over ``m`` rows (tiled)."""
        self._forward_tiled(X_rows, m, workspace)
        sizes = [int(s) for s in self.layout.layer_sizes]
        last = self.spec.n_layers - 1
        turn = 0
        delta = workspace.delta(turn, m, sizes[-1])
        if m > 0:
            blocks, threads = _launch_shape(m)
            _output_delta[blocks, threads](workspace.layer("z", last, m), T_rows, delta,
                                           self.spec.loss_code, 1.0 / m)
        for layer in range(last, -1, -1):
            a_prev = X_rows if layer == 0 else workspace.layer("a", layer - 1, m)
            matmul(a_prev, delta, self._dW[layer], trans_a=True, tile=self.tile)  # dW = a_prev.T @ delta
            blocks, threads = _launch_shape(sizes[layer + 1])
            _bias_gradient[blocks, threads](delta, self._db[layer])
            if layer > 0:
                turn = 1 - turn
                below = workspace.delta(turn, m, sizes[layer])
                matmul(delta, self._W[layer], below, trans_b=True, tile=self.tile)  # delta @ W.T
                if m > 0:
                    blocks, threads = _launch_shape(m * sizes[layer])
                    _times_derivative[blocks, threads](below, workspace.layer("z", layer - 1, m),
                                                       workspace.layer("a", layer - 1, m),
                                                       self._act_codes[layer - 1])
                delta = below
        if reg_code:
            blocks, threads = _launch_shape(self.layout.size)
            _add_penalty[blocks, threads](self._d_params, self._d_grad, self._d_weight_mask,
                                          reg_code, reg_rate)

    # --- readouts -------------------------------------------------------------------------
    def gradient(self, X, targets, regularization="none", reg_rate=0.0):
        self.check_arrays(X, targets)
        d_X, d_T = self._to_device(X), self._to_device(targets)
        n = d_X.shape[0]
        reg_code, reg_rate = REG_CODE[regularization], float(reg_rate)
        if self.uses_fused(n):
            order = self._aranges.get(n)
            if order is None:
                order = self._aranges[n] = cuda.to_device(np.arange(n, dtype=np.int64))
            self._run_fused(d_X, d_T, order, cuda.to_device(np.array([0, n], np.int64)), n, 0,
                            self._no_optimizer, reg_code, reg_rate, update=False)
        else:
            self.last_path = "tiled"
            self._forward_backward(d_X, d_T, n, self._workspace_for(n), reg_code, reg_rate)
        return self._d_grad.copy_to_host()

    def _evaluate(self, X, all_layers: bool) -> np.ndarray:
        """Logits ``(n, n_outputs)``, or every layer's output side by side ``(n, sum fan_outs)``."""
        d_X = self._to_device(X)
        n = d_X.shape[0]
        widths = [int(w) for w in self.spec.layer_sizes[1:]]
        shape = (n, sum(widths) if all_layers else widths[-1])
        if n == 0:
            return np.empty(shape, self.dtype)
        if self.tiny:  # one launch, one thread per row through every layer
            out = cuda.device_array(shape, self.dtype)
            blocks, threads = _launch_shape(n)
            _forward_rows_kernel(self.dtype.name)[blocks, threads](self._d_params, *self._net, d_X, out,
                                                                    all_layers)
            return out.copy_to_host()
        host = np.empty(shape, self.dtype)
        rows = min(n, EVAL_ROWS)
        workspace = self._workspace_for(rows)
        for start in range(0, n, rows):
            m = min(rows, n - start)
            self._forward_tiled(d_X[start: start + m], m, workspace)
            for layer in range(len(widths)) if all_layers else [len(widths) - 1]:
                col = sum(widths[:layer]) if all_layers else 0  # the output layer's f(z) is z
                host[start: start + m, col: col + widths[layer]] = workspace.layer("a", layer, m).copy_to_host()
        return host

    def logits(self, X):
        self.check_arrays(X)
        return self._evaluate(X, all_layers=False)

    def layer_outputs(self, X):
        self.check_arrays(X)
        widths = self.spec.layer_sizes[1:]
        out = self._evaluate(X, all_layers=True)
        return np.split(out, np.cumsum(widths)[:-1], axis=1)
