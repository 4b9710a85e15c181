"""The cuda backend: its tests under the Numba CUDA simulator (run in a subprocess, as
the simulator must be switched on before numba is imported), and how a machine without
a GPU or without numba-cuda is told so."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kernels
from kernels import BackendUnavailable, available_backends, cuda_unavailable_reason, resolve_backend
from playground.cli import main

ROOT = Path(__file__).resolve().parents[1]
SIM_TESTS = Path(__file__).with_name("cuda_sim")
# the engine's tests over the one list of backends: their cuda cases run under the simulator too
SHARED_TESTS = [Path(__file__).with_name(name) for name in ("test_kernels.py", "test_optimizers.py")]
SIM_TIME_LIMIT = 300  # seconds; the folder takes about 35 s on 2 cores


def test_cuda_backend_under_the_simulator():
    """tests/cuda_sim and the cuda cases of the shared engine tests, in their own process with
    NUMBA_ENABLE_CUDASIM=1; its output on failure."""
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed (pip install 'nn-playground[cuda]' runs the cuda tests)")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5", "-k", "cuda",
         str(SIM_TESTS), *map(str, SHARED_TESTS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=SIM_TIME_LIMIT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"simulated cuda tests failed:\n{output[-12000:]}"
    assert " passed" in output, output[-2000:]
    skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert all("where a GPU is" in line or "simulator only" in line for line in skips), output[-2000:]
    print(f"simulated cuda tests: {output.strip().splitlines()[-1]} ({time.perf_counter() - started:.0f} s)")


def test_cuda_is_listed_only_where_it_can_run():
    assert ("cuda" in available_backends()) == (cuda_unavailable_reason() is None)
    assert resolve_backend("auto") == ("cuda" if cuda_unavailable_reason() is None else "cpu")


@pytest.mark.parametrize("gpu", [True, False])
def test_auto_trains_playground_nets_on_the_cpu_and_wide_nets_on_a_gpu(monkeypatch, gpu):
    from kernels import CPU_MAX_UNITS, NetworkSpec

    monkeypatch.setattr(kernels, "cuda_unavailable_reason", lambda: None if gpu else "no CUDA GPU here")
    widest_tiny = NetworkSpec((2, CPU_MAX_UNITS, CPU_MAX_UNITS, 1), ("tanh", "tanh"), "mse")
    wide = NetworkSpec((2, CPU_MAX_UNITS + 1, 1), ("relu",), "mse")
    many_classes = NetworkSpec((2, 4, CPU_MAX_UNITS + 1), ("relu",), "ce")
    assert resolve_backend("auto", widest_tiny) == "cpu"
    assert resolve_backend("auto", wide) == resolve_backend("auto", many_classes) == ("cuda" if gpu else "cpu")
    assert resolve_backend("cpu", wide) == "cpu"


def test_asking_for_cuda_without_a_gpu_says_what_to_use(capsys):
    if cuda_unavailable_reason() is None:
        pytest.skip("the cuda backend can run here")
    with pytest.raises(BackendUnavailable, match="--backend cpu"):
        resolve_backend("cuda")
    code = main(["train", "--backend", "cuda", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "cuda" in err and "--backend cpu" in err


def test_missing_numba_cuda_is_named_in_the_reason(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba_cuda" else real_find_spec(name, *a))
    assert "numba-cuda is not installed" in kernels._check_cuda()


# --------------------------------------------------------------------------- bench --sweep

def test_sweep_times_the_cpu_engines_and_says_when_there_is_no_gpu(monkeypatch):
    from playground.cli import bench

    monkeypatch.setattr(bench, "SWEEP_SECONDS", 0.01)
    records, notes = bench.sweep(sizes=(16, 32), max_calls=3)
    engines = {r["engine"] for r in records}
    assert {"numpy", "cpu-loop"} <= engines
    assert all(r["gflops"] > 0 and r["gflops"] == pytest.approx(2 * r["size"] ** 3 / r["seconds"] / 1e9)
               for r in records)
    text = bench.format_sweep(records, notes)
    assert "GFLOP/s" in text and "    16 " in text and "    32 " in text
    if bench.cuda_missing() is not None:
        assert "cuda" not in engines and "no cuda column" in text and "crossover needs a GPU" in text


def test_crossover_is_where_the_gpu_starts_winning_for_good():
    from playground.cli.bench import crossover, format_sweep

    def records(cuda_gflops):
        cpu = [dict(engine="numpy", size=n, seconds=1.0, gflops=50.0) for n in (64, 128, 256, 512)]
        return cpu + [dict(engine="cuda", size=n, seconds=1.0, gflops=g)
                      for n, g in zip((64, 128, 256, 512), cuda_gflops)]

    assert crossover(records([10, 60, 40, 900])) == 512  # a win at 128 that does not last
    assert crossover(records([10, 20, 60, 900])) == 256
    assert crossover(records([10, 20, 30, 40])) is None
    assert "the GPU wins from n = 256 on" in format_sweep(records([10, 20, 60, 900]), [])
    assert "did not win" in format_sweep(records([10, 20, 30, 40]), [])


def test_sweep_plot_is_a_bokeh_page(tmp_path):
    from playground.cli.bench import plot_sweep

    records = [dict(engine=e, size=n, seconds=1.0, gflops=g * n) for e, g in (("numpy", 1.0), ("cuda", 2.0))
               for n in (64, 128)]
    path = tmp_path / "sweep.html"
    plot_sweep(records, str(path))
    page = path.read_text()
    assert "Bokeh" in page and "matmul n x n" in page


@pytest.mark.parametrize("plot, message", [("missing-folder/sweep.html", "does not exist"),
                                           ("sweep.png", "ending in .html")])
def test_bad_plot_path_is_refused_before_the_sweep(capsys, tmp_path, monkeypatch, plot, message):
    monkeypatch.chdir(tmp_path)
    code = main(["bench", "--plot", plot])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
