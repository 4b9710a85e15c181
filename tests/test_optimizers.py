"""Tests for kernels.optimizers: the engine's update rules replay torch.optim's trajectories.

tests/golden/optimizers.json holds, per case, parameters after every step of a torch.optim
run (float64, single-tensor path) on a fixed function; scripts/make_optimizer_golden.py
writes it. Here every implementation, :func:`update_reference` (NumPy), :func:`apply_update`
(the cpu backend's) and the cuda backend's update kernel where it runs (tests/backends.py), replay each run from the same start, with the same gradient
computed the same way, and must land on torch's parameters at every step. Torch is not
imported: it is needed only to regenerate the file.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from kernels.optimizers import (OPTIMIZER_CODE, OPTIMIZERS, OWN_HYPERPARAMETERS,
                                OptimizerSettings, apply_update, update_reference)
from tests.backends import FAST_BACKENDS, SIMULATED

GOLDEN = json.loads((Path(__file__).parent / "golden" / "optimizers.json").read_text())
CASES = GOLDEN["cases"]

# The engine and torch do the same float64 operations but not always the same roundings:
# torch's CPU kernels fuse multiply-adds (``add(alpha=)``, ``addcmul``, ``lerp`` round once,
# the engine twice), and Numba computes ``beta**step`` for an integer step by repeated
# multiplication where torch calls ``pow``. Measured over all cases and steps: 71 % of values
# identical, the largest difference 2.8e-15 (about 13 ulp of 1.0; values are at most 1.3 in
# size). So ATOL 1e-14 alone would pass, with a margin of 3.5; RTOL 1e-12 only matters for
# values above 0.01 and is still far below what a wrong rule gives: a learning rate off by
# one part in 10^7 fails every case (see test_tolerance_catches_small_changes).
RTOL = 1e-12
ATOL = 1e-14
# A GPU contracts multiply-adds too and has its own pow: looser there, still 100x below what
# a learning rate off by one part in 10^7 gives (test_tolerance_catches_small_changes).
TOLERANCE = {name: dict(rtol=RTOL, atol=ATOL) for name in ("reference", "cpu")}
TOLERANCE["cuda"] = dict(rtol=RTOL, atol=ATOL) if SIMULATED else dict(rtol=1e-10, atol=1e-12)


def gradient(x: np.ndarray, function: dict) -> np.ndarray:
    """Gradient ``(7,)`` of the golden function at ``x``, with the generator's exact operations."""
    center, curvature, quartic = (np.array(function[k], dtype=np.float64)
                                  for k in ("center", "curvature", "quartic"))
    d = x - center
    g = curvature * d + quartic * d * d * d
    diff = x[1:] - x[:-1]
    g[:-1] -= function["coupling"] * diff
    g[1:] += function["coupling"] * diff
    return g


def step_reference(settings, params, grad, state1, state2, step):
    update_reference(settings, params, grad, state1, state2, step)


def step_cpu(settings, params, grad, state1, state2, step):
    apply_update(settings.code, params, grad, state1, state2, step, settings.as_array())


def step_cuda(settings, params, grad, state1, state2, step):
    """The cuda backend's update kernel (the fused kernel runs the same device function)."""
    from numba import cuda

    from kernels import cuda as kc

    d_params, d_grad, d_state1, d_state2 = (cuda.to_device(a) for a in (params, grad, state1, state2))
    blocks, threads = kc._launch_shape(len(params))
    kc._update[blocks, threads](settings.code, d_params, d_grad, d_state1, d_state2, step,
                                cuda.to_device(settings.as_array()))
    for host, device in ((params, d_params), (state1, d_state1), (state2, d_state2)):
        host[:] = device.copy_to_host()


IMPLEMENTATIONS = {"reference": step_reference, "cpu": step_cpu, "cuda": step_cuda}
IMPLEMENTATIONS = {name: step for name, step in IMPLEMENTATIONS.items() if name == "reference" or name in FAST_BACKENDS}


def case_id(case: dict) -> str:
    return f"{case['optimizer']}-{case['label']}"


def settings_for(case: dict) -> OptimizerSettings:
    """The engine's settings for a case: its defaults with the case's overrides."""
    return OptimizerSettings.with_defaults(case["optimizer"], **case["overrides"])


def replay(case: dict, settings: OptimizerSettings, implementation) -> np.ndarray:
    """``(steps, 7)`` parameters after every step of the engine's run of ``case``."""
    params = np.array(case["initial"], dtype=np.float64)
    state1 = np.zeros_like(params)
    state2 = np.zeros_like(params)
    trajectory = []
    for step in range(1, case["steps"] + 1):
        grad = gradient(params, case["function"])
        implementation(settings, params, grad, state1, state2, step)
        trajectory.append(params.copy())
    return np.array(trajectory)


def first_mismatch(ours: np.ndarray, torch_run: np.ndarray) -> str:
    bad = ~np.isclose(ours, torch_run, rtol=RTOL, atol=ATOL)
    step, index = np.argwhere(bad)[0]
    return (f"first mismatch after step {step + 1}, params[{index}]: engine "
            f"{ours[step, index]!r}, torch {torch_run[step, index]!r} "
            f"({int(bad.sum())} of {bad.size} values differ)")


# ----------------------------------------------------------------------- the golden file

def test_golden_file_covers_every_optimizer():
    assert GOLDEN["torch_version"]
    assert {case["optimizer"] for case in CASES} == set(OPTIMIZERS)
    for case in CASES:
        trajectory = np.array(case["trajectory"])
        assert trajectory.shape == (case["steps"], len(case["initial"]))
        assert np.isfinite(trajectory).all()
    assert len({case_id(case) for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_settings_match_torch_hyperparameters(case):
    """The engine's settings for a case are the hyper-parameters torch ran with."""
    settings = settings_for(case)
    assert set(case["hyper"]) == set(OWN_HYPERPARAMETERS[case["optimizer"]])
    assert {key: getattr(settings, key) for key in case["hyper"]} == case["hyper"]


# ----------------------------------------------------------------------- trajectories

@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory_matches_torch(case, implementation):
    ours = replay(case, settings_for(case), IMPLEMENTATIONS[implementation])
    torch_run = np.array(case["trajectory"])
    assert np.allclose(ours, torch_run, **TOLERANCE[implementation]), first_mismatch(ours, torch_run)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_tolerance_catches_small_changes(case, implementation):
    """A learning rate off by one part in 10^7 leaves torch's trajectory: the test can fail."""
    settings = settings_for(case)
    wrong = dataclasses.replace(settings, learning_rate=settings.learning_rate * (1 + 1e-7))
    ours = replay(case, wrong, IMPLEMENTATIONS[implementation])
    assert not np.allclose(ours, np.array(case["trajectory"]), **TOLERANCE[implementation])


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_implementations_agree_on_longer_vectors(backend):
    """A backend and NumPy agree on a vector long enough for SIMD paths (and, on cuda, more
    elements than threads), for every optimizer."""
    rng = np.random.default_rng(7)
    for name in OPTIMIZERS:
        settings = OptimizerSettings.with_defaults(name, learning_rate=0.01, weight_decay=0.01,
                                                   momentum=0.5 if name == "rmsprop" else None)
        params = [rng.normal(size=1001) for _ in range(2)]
        params[1][:] = params[0]
        states = [[np.zeros(1001), np.zeros(1001)] for _ in range(2)]
        for step in range(1, 6):
            grad = rng.normal(size=1001)
            for implementation, p, (s1, s2) in zip(("reference", backend), params, states):
                IMPLEMENTATIONS[implementation](settings, p, grad, s1, s2, step)
        np.testing.assert_allclose(params[1], params[0], err_msg=name, **TOLERANCE[backend])


# ----------------------------------------------------------------------- settings

def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        OptimizerSettings.with_defaults("adamax")
    with pytest.raises(ValueError):
        OptimizerSettings.with_defaults("Adam")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_are_torchs(name):
    """``with_defaults(name)`` has torch.optim's defaults (as recorded from its signatures).

    The one deliberate difference: the engine's "momentum" and "nesterov" are torch's SGD
    with ``momentum=0.9`` (torch's own SGD default is 0, which would be plain SGD).
    """
    torch_defaults = dict(GOLDEN["torch_defaults"][name])
    if name in ("momentum", "nesterov"):
        assert torch_defaults["momentum"] == 0.0
        torch_defaults["momentum"] = 0.9
    settings = OptimizerSettings.with_defaults(name)
    own = OWN_HYPERPARAMETERS[name]
    assert set(own) <= set(torch_defaults)
    assert {key: getattr(settings, key) for key in own} == {key: torch_defaults[key] for key in own}


def test_overrides_replace_defaults_and_none_keeps_them():
    settings = OptimizerSettings.with_defaults("adam", learning_rate=0.05, beta2=None)
    assert (settings.name, settings.learning_rate, settings.beta2) == ("adam", 0.05, 0.999)
    assert settings.code == OPTIMIZER_CODE["adam"]
    assert settings.as_array().tolist() == [0.05, 0.0, 0.9, 0.999, 1e-8, 0.99, 0.0]

