"""The cuda backend's own paths, on the GPU or under the Numba CUDA simulator: the fused
kernel with every optimizer, the tiled path and its matmul, the boundary grid, what stays on
the device; and, on a GPU only, the same at real sizes. The checks it shares with the cpu
backend (gradients against finite differences for every activation, loss and penalty; random
nets against the reference; float32; torch's golden optimizer steps) run from the one list of
backends in tests/backends.py (tests/test_kernels.py, tests/test_optimizers.py).

Tolerances: float64 as the cpu backend (``rtol=1e-9, atol=1e-11`` after tens of steps);
float32 ``rtol=1e-4, atol=1e-5`` as the cpu backend in float32.
"""
import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed: pip install 'nn-playground[cuda]'")

from kernels import (NetworkSpec, OPTIMIZERS, OptimizerSettings,  # noqa: E402
                     available_backends, initial_parameters, make_backend, resolve_backend)
from kernels import cuda as kc  # noqa: E402
from kernels.cuda import CudaBackend  # noqa: E402
from tests.test_kernels import finite_difference, problem  # noqa: E402

from numba import cuda  # noqa: E402
from numba.cuda import config as cuda_config  # noqa: E402

F64 = dict(rtol=1e-9, atol=1e-11)
F32 = dict(rtol=1e-4, atol=1e-5)
SIM_TILE = 4  # 16 threads a block: several tiles and ragged edges on tiny shapes
on_real_gpu = pytest.mark.skipif(bool(cuda_config.ENABLE_CUDASIM),
                                 reason="real sizes: too slow for the simulator, run where a GPU is")


def tiled(spec, params, dtype="float64"):
    """A cuda backend forced onto the tiled path, with simulator-sized tiles."""
    return CudaBackend(spec, params, dtype, path="tiled", tile=SIM_TILE)


def batches(n, batch, epochs, rng):
    """(sample_order, batch_bounds) of ``epochs`` shuffled passes in minibatches of ``batch``."""
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    bounds = np.unique(np.concatenate([np.arange(0, len(order), batch), [len(order)]]))
    return order, bounds


def assert_same_network(fast, reference, X, tol):
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), **tol)
    np.testing.assert_allclose(fast.logits(X), reference.logits(X), **tol)
    for got, want in zip(fast.layer_outputs(X), reference.layer_outputs(X)):
        np.testing.assert_allclose(got, want, **tol)


# --------------------------------------------------------------------------- selection

def test_auto_picks_cuda_on_a_gpu_or_the_simulator():
    assert cuda.is_available()
    assert "cuda" in available_backends()
    assert resolve_backend("auto") == "cuda"
    spec = NetworkSpec((2, 9, 1), ("tanh",), "mse")  # wide: a layer over CPU_MAX_UNITS
    backend = make_backend("auto", spec, initial_parameters(spec, "xavier", 0), "float32")
    assert isinstance(backend, CudaBackend) and backend.params.dtype == np.float32
    tiny = NetworkSpec((2, 8, 1), ("tanh",), "mse")
    assert make_backend("auto", tiny, initial_parameters(tiny, "xavier", 0)).name == "cpu"


def test_a_numba_cuda_that_cannot_compile_leaves_auto_on_cpu(monkeypatch):
    """numba-cuda 0.30 with numpy 2.5 sees the GPU but fails at its first compile."""
    import kernels

    def broken_compiler():
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    assert kernels._check_cuda() is None
    monkeypatch.setattr(kernels, "_probe_kernel_runs", broken_compiler)
    reason = kernels._check_cuda()
    assert reason == ("numba-cuda failed to compile and run a test kernel "
                      "(AttributeError: module 'numpy' has no attribute 'row_stack')")
    monkeypatch.setattr(kernels, "cuda_unavailable_reason", lambda: reason)
    assert resolve_backend("auto") == "cpu" and "cuda" not in available_backends()


def test_fused_or_tiled_is_picked_by_size():
    tiny = CudaBackend(NetworkSpec((2, 8, 8, 1), ("tanh", "tanh"), "mse"), np.zeros(105))
    assert tiny.uses_fused(10) and not tiny.uses_fused(kc.FUSED_MAX_ROWS + 1)
    wide_spec = NetworkSpec((2, kc.FUSED_MAX_WIDTH + 1, 1), ("relu",), "mse")
    wide = CudaBackend(wide_spec, np.zeros(wide_spec.layout().size))
    assert not wide.uses_fused(10)
    assert not CudaBackend(tiny.spec, np.zeros(105), path="tiled").uses_fused(10)


# --------------------------------------------------------------------------- the matmul

@pytest.mark.parametrize("trans_a,trans_b,dtype", [(False, False, "float32"), (True, False, "float32"),
                                                   (False, True, "float32"), (False, False, "float64")])
def test_tiled_matmul_and_its_transposes(trans_a, trans_b, dtype):
    """out (5, 6) over k = 7 with 4x4 tiles: two tiles each way, ragged edges, two k steps."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(7, 5) if trans_a else (5, 7)).astype(dtype)
    B = rng.normal(size=(6, 7) if trans_b else (7, 6)).astype(dtype)
    out = cuda.device_array((5, 6), dtype)
    kc.matmul(cuda.to_device(A), cuda.to_device(B), out, trans_a, trans_b, tile=SIM_TILE)
    expected = (A.T if trans_a else A).astype(np.float64) @ (B.T if trans_b else B).astype(np.float64)
    np.testing.assert_allclose(out.copy_to_host(), expected, **(F64 if dtype == "float64" else F32))


# --------------------------------------------------------------------------- gradients

def gradient_problem(activation, loss, hidden=(4, 3)):
    n_out = 3 if loss == "ce" else 1
    spec = NetworkSpec((3, *hidden, n_out), (activation,) * len(hidden), loss)
    params = initial_parameters(spec, "xavier", seed=1) + 0.05  # biases off zero: relu kinks away
    X, T = problem(loss)
    return spec, params, X, T


@pytest.mark.parametrize("activation,loss,reg", [("tanh", "ce", ("l2", 0.05)), ("softplus", "bce", ("l1", 0.03)),
                                                 ("gelu", "mse", ("none", 0.0))])
def test_tiled_gradient_matches_finite_differences(activation, loss, reg):
    spec, params, X, T = gradient_problem(activation, loss, hidden=(5,))
    backend = tiled(spec, params)
    grad = backend.gradient(X, T, *reg)
    assert backend.last_path == "tiled"
    np.testing.assert_allclose(grad, finite_difference(spec, params, X, T, *reg), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- training

def optimizer_cases():
    for name in OPTIMIZERS:
        yield name, OptimizerSettings.with_defaults(name, learning_rate=0.05, weight_decay=1e-3)
    yield "rmsprop+momentum", OptimizerSettings.with_defaults("rmsprop", learning_rate=0.01, momentum=0.5)


@pytest.mark.parametrize("label,settings", list(optimizer_cases()), ids=[c[0] for c in optimizer_cases()])
def test_each_optimizer_trains_like_reference_in_the_fused_kernel(label, settings):
    """Same minibatches, same weights, optimizer state and step count after two calls."""
    spec = NetworkSpec((3, 4, 3, 2), ("tanh", "elu"), "ce")
    rng = np.random.default_rng(7)
    X, T = problem("ce", n=9, n_classes=2, seed=7)
    order, bounds = batches(9, 4, 1, rng)
    params = initial_parameters(spec, "xavier", 7)
    reference, fast = make_backend("reference", spec, params), make_backend("cuda", spec, params)
    for _ in range(2):  # optimizer state and step count carry over between calls
        assert fast.train(X, T, order, bounds, settings, "l2", 0.01) == len(bounds) - 1
        reference.train(X, T, order, bounds, settings, "l2", 0.01)
    assert fast.last_path == "fused"
    assert fast.step == reference.step == 2 * (len(bounds) - 1)
    np.testing.assert_allclose(fast.state1, reference.state1, **F64)
    np.testing.assert_allclose(fast.state2, reference.state2, **F64)
    assert_same_network(fast, reference, X, F64)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tiled_path_trains_like_reference(dtype):
    """Two hidden layers (delta through W.T and f'), ragged tiles, a short last batch."""
    spec = NetworkSpec((3, 5, 3, 2), ("relu", "tanh"), "ce")
    rng = np.random.default_rng(3)
    X, T = problem("ce", n=7, n_classes=2, seed=3)
    order, bounds = rng.permutation(7), np.array([0, 3, 6, 7])
    params = initial_parameters(spec, "he", 3) + 0.01
    settings = OptimizerSettings.with_defaults("adam", learning_rate=1e-2)
    reference, fast = make_backend("reference", spec, params), tiled(spec, params, dtype)
    reference.train(X, T, order, bounds, settings, "l2", 1e-3)
    fast.train(X.astype(dtype), T.astype(dtype), order, bounds, settings, "l2", 1e-3)
    assert fast.last_path == "tiled" and fast.step == 3 and fast.params.dtype == np.dtype(dtype)
    assert_same_network(fast, reference, X.astype(dtype), F64 if dtype == "float64" else F32)


def test_wide_net_takes_the_tiled_path_by_itself():
    spec = NetworkSpec((2, kc.FUSED_MAX_WIDTH + 1, 1), ("tanh",), "mse")
    rng = np.random.default_rng(5)
    X, T = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    params = initial_parameters(spec, "xavier", 5)
    settings = OptimizerSettings.with_defaults("sgd", learning_rate=0.1)
    reference, fast = make_backend("reference", spec, params), CudaBackend(spec, params, "float64", tile=SIM_TILE)
    fast.train(X, T, np.arange(3), np.array([0, 3]), settings)
    reference.train(X, T, np.arange(3), np.array([0, 3]), settings)
    assert fast.last_path == "tiled"
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), **F64)


# --------------------------------------------------------------------------- evaluation

def test_boundary_grid_is_evaluated_on_the_device():
    """The Session's 100x100 grid: a thread per point through the whole tiny net.

    (A narrow net: the simulator interprets every multiply-add in Python.)"""
    spec = NetworkSpec((2, 4, 2, 1), ("tanh", "relu"), "bce")
    params = initial_parameters(spec, "xavier", 2)
    xs = np.linspace(-6, 6, 100)
    gx, gy = np.meshgrid(xs, xs)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    logits = make_backend("cuda", spec, params).logits(grid)
    assert logits.shape == (10_000, 1)
    np.testing.assert_allclose(logits, make_backend("reference", spec, params).logits(grid), **F64)


def test_wide_net_evaluates_in_chunks(monkeypatch):
    monkeypatch.setattr(kc, "EVAL_ROWS", 4)  # 10 rows: chunks of 4, 4 and 2
    spec = NetworkSpec((2, kc.FUSED_MAX_WIDTH + 1, 2), ("silu",), "ce")
    params = initial_parameters(spec, "he", 6)
    X = np.random.default_rng(6).normal(size=(10, 2))
    fast, reference = CudaBackend(spec, params, "float64", tile=SIM_TILE), make_backend("reference", spec, params)
    np.testing.assert_allclose(fast.logits(X), reference.logits(X), **F64)
    for got, want in zip(fast.layer_outputs(X), reference.layer_outputs(X)):
        np.testing.assert_allclose(got, want, **F64)


# --------------------------------------------------------------------------- device residency

def test_parameters_and_data_stay_on_the_device():
    spec = NetworkSpec((2, 3, 1), ("tanh",), "mse")
    params = initial_parameters(spec, "xavier", 0)
    backend = make_backend("cuda", spec, params, "float32")
    X, T = np.ones((4, 2)), np.zeros((4, 1))
    settings = OptimizerSettings.with_defaults("adam", learning_rate=0.1)
    backend.train(X, T, np.arange(4), np.array([0, 2, 4]), settings)
    assert backend.step == 2 and np.any(backend.state1 != 0)
    # the host arrays went to the device once; later calls find them in the cache
    device_X = backend._to_device(X)
    backend.train(X, T, np.arange(4), np.array([0, 4]), settings)
    assert backend._to_device(X) is device_X and len(backend._device_cache) == 2
    # params is a host copy: writing to it changes nothing on the device
    copy = backend.params
    copy[:] = 0
    assert np.any(backend.params != 0)
    trained = backend.get_params()
    assert trained.dtype == np.float64 and not np.allclose(trained, params)
    backend.set_params(params)  # the Session's reset
    assert backend.step == 0 and not np.any(backend.state1) and not np.any(backend.state2)
    np.testing.assert_allclose(backend.get_params(), params, rtol=1e-7)
    with pytest.raises(ValueError, match="expected 13 parameters"):
        backend.set_params(np.zeros(3))


# --------------------------------------------------------------------------- real sizes (GPU only)

@on_real_gpu
@pytest.mark.parametrize("dtype,tol", [("float64", F64), ("float32", dict(rtol=2e-3, atol=2e-4))])
def test_real_sizes_train_like_reference_on_the_gpu(dtype, tol):
    """Default tiles (16x16) and blocks (256 threads) over shapes that need many of them:
    a 2-64-48-3 net, batches of 200 rows, 3 steps with momentum, then the 100x100
    boundary grid. (Momentum, not Adam: Adam divides by the root of tiny squared
    gradients, which float32 rounding can change by a whole learning rate.)"""
    rng = np.random.default_rng(11)
    spec = NetworkSpec((2, 64, 48, 3), ("relu", "tanh"), "ce")
    params = initial_parameters(spec, "he", 11)
    X = rng.normal(size=(600, 2))
    T = np.eye(3)[rng.integers(0, 3, 600)]
    settings = OptimizerSettings.with_defaults("momentum", learning_rate=0.05)
    order, bounds = rng.permutation(600), np.array([0, 200, 400, 600])
    fast = CudaBackend(spec, params, dtype)
    reference = make_backend("reference", spec, params)
    fast.train(X.astype(dtype), T.astype(dtype), order, bounds, settings)
    reference.train(X, T, order, bounds, settings)
    assert fast.last_path == "tiled" and fast.step == reference.step == 3
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), **tol)
    xs = np.linspace(-6, 6, 100)
    grid = np.column_stack([a.ravel() for a in np.meshgrid(xs, xs)])
    np.testing.assert_allclose(fast.logits(grid.astype(dtype)), reference.logits(grid), **tol)


@on_real_gpu
def test_a_tiny_net_trains_a_whole_epoch_in_one_launch_on_the_gpu():
    """The fused kernel with a real block (a warp multiple) on the app's default shape:
    2-4-2-1, 10-row batches, one epoch of 20 steps."""
    rng = np.random.default_rng(12)
    spec = NetworkSpec((2, 4, 2, 1), ("tanh", "tanh"), "bce")
    params = initial_parameters(spec, "xavier", 12)
    X, T = rng.normal(size=(200, 2)), rng.integers(0, 2, (200, 1)).astype(float)
    settings = OptimizerSettings.with_defaults("sgd", learning_rate=0.03)
    order, bounds = rng.permutation(200), np.arange(0, 201, 10)
    fast = CudaBackend(spec, params, "float64")
    reference = make_backend("reference", spec, params)
    fast.train(X, T, order, bounds, settings)
    reference.train(X, T, order, bounds, settings)
    assert fast.last_path == "fused" and fast.step == 20
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), **F64)
