"""The engine's numbers: gradients against finite differences, and every fast backend
(tests/backends.py: cpu, and cuda where it runs) against the NumPy reference over many
random configurations."""
import itertools

import numpy as np
import pytest

from kernels import ACTIVATIONS, LOSSES, NetworkSpec, OPTIMIZERS, OptimizerSettings
from kernels import initial_parameters, losses, make_backend
from kernels.reference import backward, forward
from tests.backends import FAST_BACKENDS, cases
REGULARIZATIONS = [("none", 0.0), ("l1", 0.03), ("l2", 0.05)]


def problem(loss, n_inputs=3, n=7, n_classes=3, seed=0):
    """Random inputs (n, n_inputs) and targets fitting ``loss``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_inputs))
    if loss == "ce":
        T = np.eye(n_classes)[rng.integers(0, n_classes, n)]
    elif loss == "bce":
        T = rng.integers(0, 2, (n, 1)).astype(float)
    else:
        T = rng.normal(size=(n, 1))
    return X, T


def objective(spec, params, X, T, regularization, rate):
    """Mean loss + penalty, computed from the reference forward pass only."""
    layout = spec.layout()
    zs, _ = forward(spec, layout, params, X)
    weights = params[layout.weight_mask()]
    return losses.loss_value(zs[-1], T, spec.loss) + losses.regularization_value(weights, regularization, rate)


def finite_difference(spec, params, X, T, regularization, rate, h=1e-6):
    grad = np.zeros_like(params)
    for i in range(len(params)):
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (objective(spec, up, X, T, regularization, rate)
                   - objective(spec, down, X, T, regularization, rate)) / (2 * h)
    return grad


@pytest.mark.parametrize("backend", ["reference", *FAST_BACKENDS])
@pytest.mark.parametrize("activation,loss,reg", list(itertools.product(ACTIVATIONS, LOSSES, REGULARIZATIONS)))
def test_gradient_matches_finite_differences(backend, activation, loss, reg):
    n_out = 3 if loss == "ce" else 1
    spec = NetworkSpec((3, 4, 3, n_out), (activation, activation), loss)
    params = initial_parameters(spec, "xavier", seed=1) + 0.05  # biases off zero: relu kinks away
    X, T = problem(loss)
    # keep pre-activations away from relu-like kinks, where the derivative jumps
    zs, _ = forward(spec, spec.layout(), params, X)
    if activation in ("relu", "leaky_relu", "elu"):
        assume_smooth = all(np.min(np.abs(z)) > 1e-4 for z in zs[:-1])
        assert assume_smooth, "test data sits on a kink; pick another seed"
    grad = make_backend(backend, spec, params).gradient(X, T, *reg)
    expected = finite_difference(spec, params, X, T, *reg)
    # l1 makes the objective non-smooth at w = 0; xavier weights are never exactly 0
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_gradient_check_would_catch_a_wrong_derivative():
    """The finite-difference check is sharp enough to see a small error."""
    spec = NetworkSpec((3, 4, 1), ("tanh",), "mse")
    params = initial_parameters(spec, "xavier", seed=1)
    X, T = problem("mse")
    layout = spec.layout()
    zs, acts = forward(spec, layout, params, X)
    grad = backward(spec, layout, params, zs, acts, T)
    grad[3] *= 1.001
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(grad, finite_difference(spec, params, X, T, "none", 0.0),
                                   rtol=1e-5, atol=1e-7)


def random_configuration(rng):
    loss = rng.choice(LOSSES)
    n_out = int(rng.integers(2, 5)) if loss == "ce" else 1
    hidden = [int(s) for s in rng.integers(1, 9, size=rng.integers(0, 4))]
    acts = tuple(rng.choice(ACTIVATIONS) for _ in hidden)
    n_in = int(rng.integers(1, 8))
    spec = NetworkSpec((n_in, *hidden, n_out), acts, str(loss))
    optimizer = str(rng.choice(OPTIMIZERS))
    settings = OptimizerSettings.with_defaults(
        optimizer, learning_rate=float(rng.choice([1e-3, 1e-2, 0.1])),
        weight_decay=float(rng.choice([0.0, 1e-3])),
        momentum=float(rng.choice([0.0, 0.5])) if optimizer == "rmsprop" else None)
    reg = REGULARIZATIONS[int(rng.integers(0, 3))]
    init = str(rng.choice(["xavier", "he", "uniform"]))
    return spec, settings, reg, init, n_out


@pytest.mark.parametrize("backend,seed", cases(40, simulated=4))
def test_fast_backend_trains_like_reference(backend, seed):
    """Same minibatches, same losses and weights after many steps (float64)."""
    rng = np.random.default_rng(seed)
    spec, settings, reg, init, n_out = random_configuration(rng)
    n = int(rng.integers(5, 40))
    X = rng.normal(size=(n, spec.layer_sizes[0]))
    T = problem(spec.loss, spec.layer_sizes[0], n, n_out, seed)[1]
    batch = int(rng.integers(1, n + 1))
    order = np.concatenate([rng.permutation(n) for _ in range(3)])
    bounds = np.unique(np.concatenate([np.arange(0, len(order), batch), [len(order)]]))
    params = initial_parameters(spec, init, seed)
    reference = make_backend("reference", spec, params)
    fast = make_backend(backend, spec, params)
    for _ in range(2):  # two calls: optimizer state and step count carry over
        assert fast.train(X, T, order, bounds, settings, *reg) == len(bounds) - 1
        reference.train(X, T, order, bounds, settings, *reg)
    assert fast.step == reference.step == 2 * (len(bounds) - 1)
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fast.logits(X), reference.logits(X), rtol=1e-9, atol=1e-11)
    for got, want in zip(fast.layer_outputs(X), reference.layer_outputs(X)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("backend", ["cpu"])  # cuda's wide path: tests/cuda_sim (simulator-sized tiles)
def test_wide_layers_take_the_blas_path_and_agree(backend):
    """Layers big enough for BLAS give the reference's numbers too."""
    spec = NetworkSpec((2, 64, 48, 1), ("relu", "tanh"), "mse")
    rng = np.random.default_rng(3)
    X, T = rng.normal(size=(300, 2)), rng.normal(size=(300, 1))
    params = initial_parameters(spec, "he", 3)
    settings = OptimizerSettings.with_defaults("adam", learning_rate=1e-3)
    order = rng.permutation(300)
    bounds = np.array([0, 128, 256, 300])
    reference, fast = make_backend("reference", spec, params), make_backend(backend, spec, params)
    reference.train(X, T, order, bounds, settings, "l2", 1e-3)
    fast.train(X, T, order, bounds, settings, "l2", 1e-3)
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_float32_agrees_within_single_precision(backend):
    spec = NetworkSpec((2, 8, 8, 1), ("tanh", "tanh"), "bce")
    rng = np.random.default_rng(4)
    X, T = rng.normal(size=(50, 2)), rng.integers(0, 2, (50, 1)).astype(float)
    params = initial_parameters(spec, "xavier", 4)
    settings = OptimizerSettings.with_defaults("adam", learning_rate=1e-2)
    order, bounds = rng.permutation(50), np.arange(0, 51, 10)
    reference = make_backend("reference", spec, params)
    fast = make_backend(backend, spec, params, dtype="float32")
    reference.train(X, T, order, bounds, settings)
    fast.train(X.astype(np.float32), T.astype(np.float32), order, bounds, settings)
    assert fast.params.dtype == np.float32
    np.testing.assert_allclose(fast.get_params(), reference.get_params(), rtol=1e-4, atol=1e-5)


def test_initialization_is_seeded_and_shaped():
    spec = NetworkSpec((2, 8, 8, 1), ("tanh", "tanh"), "mse")
    layout = spec.layout()
    a, b = initial_parameters(spec, "xavier", 5), initial_parameters(spec, "xavier", 5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, initial_parameters(spec, "xavier", 6))
    assert layout.size == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    limit = np.sqrt(6 / (8 + 8))
    W = layout.weights(a, 1)
    assert W.shape == (8, 8) and np.all(np.abs(W) <= limit) and np.all(layout.bias(a, 1) == 0)
    uniform = initial_parameters(spec, "uniform", 5)
    assert np.all(layout.bias(uniform, 0) == 0.1) and np.all(np.abs(layout.weights(uniform, 0)) <= 0.5)
    assert not np.any(initial_parameters(spec, "zeros", 5))
    he = initial_parameters(NetworkSpec((400, 400, 1), ("relu",), "mse"), "he", 0)
    assert abs(he[: 400 * 400].std() - np.sqrt(2 / 400)) < 0.002


def test_layout_views_write_through_to_the_flat_vector():
    spec = NetworkSpec((3, 2, 1), ("relu",), "mse")
    layout = spec.layout()
    flat = np.zeros(layout.size)
    layout.weights(flat, 0)[1, 0] = 7.0
    layout.bias(flat, 1)[0] = 9.0
    assert flat[2] == 7.0 and flat[-1] == 9.0
    assert layout.weight_mask().sum() == 3 * 2 + 2 * 1


def test_a_change_of_the_rules_drops_the_compiled_kernels_cached_before(tmp_path):
    """Numba checks a cached kernel against its own file only; the rules are inlined from
    other files, so a change there must drop the cache (else the kernels keep the old rules)."""
    from kernels.cpu_rules import drop_stale_caches

    for name in ("rules.py", "cpu_rules.py", "optimizers.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    kernel = cache / "cpu.train_steps-400.py311.nbi"
    kernel.write_text("compiled")
    assert drop_stale_caches(tmp_path) and not kernel.exists()
    kernel.write_text("compiled again")
    assert not drop_stale_caches(tmp_path) and kernel.exists()  # same rules: the cache is kept
    (tmp_path / "rules.py").write_text("# a new rule\n")
    assert drop_stale_caches(tmp_path) and not kernel.exists()
