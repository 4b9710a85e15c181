"""``nn-playground bench``: time one training step on every backend (and PyTorch CPU
when it is installed), and print the figures as ratios measured in the same run.

Workloads:
  tiny  2-8-8-1 tanh, batch 10, Adam           microseconds per optimizer step
  wide  2-256-256-256-1 relu, batch 256, Adam  microseconds per optimizer step
  grid  100x100 boundary evaluation of the tiny net, microseconds per evaluation
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from kernels import NetworkSpec, OptimizerSettings, initial_parameters, make_backend


@dataclass(frozen=True)
class Workload:
    name: str
    layer_sizes: tuple
    activation: str
    batch: int
    n_points: int


WORKLOADS = (
    Workload("tiny", (2, 8, 8, 1), "tanh", 10, 500),
    Workload("wide", (2, 256, 256, 256, 1), "relu", 256, 2048),
)
GRID_POINTS = 100 * 100
TARGET_SECONDS = 0.25  # each timing repeat runs about this long


def _data(workload: Workload, rng):
    X = rng.uniform(-6, 6, size=(workload.n_points, workload.layer_sizes[0]))
    T = (X[:, :1] * X[:, 1:2] > 0).astype(np.float64) * 2 - 1
    return X, T


def _best_seconds_per_call(call, repeats: int) -> float:
    """Best over ``repeats`` of the mean time of ``call``, in seconds (after a warm-up)."""
    call()
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    inner = max(1, int(TARGET_SECONDS / once))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            call()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def time_engine(workload: Workload, backend: str, dtype: str, repeats: int) -> float:
    """Microseconds per training step of ``workload`` on one of our backends."""
    rng = np.random.default_rng(0)
    X, T = _data(workload, rng)
    spec = NetworkSpec(workload.layer_sizes, (workload.activation,) * (len(workload.layer_sizes) - 2), "mse")
    net = make_backend(backend, spec, initial_parameters(spec, "he", 0), dtype)
    X, T = X.astype(dtype), T.astype(dtype)
    steps = 1 if backend == "reference" else max(1, 20000 // (workload.batch * sum(workload.layer_sizes)))
    order = np.concatenate([rng.permutation(len(X)) for _ in range(-(-steps * workload.batch // len(X)))])
    bounds = np.arange(steps + 1) * workload.batch
    settings = OptimizerSettings.with_defaults("adam", learning_rate=1e-4)
    return 1e6 * _best_seconds_per_call(lambda: net.train(X, T, order, bounds, settings), repeats) / steps


def time_grid(backend: str, dtype: str, repeats: int) -> float:
    tiny = WORKLOADS[0]
    spec = NetworkSpec(tiny.layer_sizes, (tiny.activation,) * 2, "mse")
    net = make_backend(backend, spec, initial_parameters(spec, "xavier", 0), dtype)
    grid = np.random.default_rng(0).uniform(-6, 6, size=(GRID_POINTS, 2)).astype(dtype)
    return 1e6 * _best_seconds_per_call(lambda: net.logits(grid), repeats)


def time_torch(workload: Workload | None, repeats: int) -> float | None:
    """PyTorch CPU eager, float32, 2 threads; None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    tiny = workload is None
    workload = workload or WORKLOADS[0]
    layers = []
    sizes = workload.layer_sizes
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[workload.activation]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    if tiny:
        grid = torch.rand(GRID_POINTS, 2) * 12 - 6
        with torch.no_grad():
            return 1e6 * _best_seconds_per_call(lambda: model(grid), repeats)
    X, T = _data(workload, np.random.default_rng(0))
    X, T = torch.tensor(X, dtype=torch.float32), torch.tensor(T, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.MSELoss()
    batches = [torch.randperm(len(X))[: workload.batch] for _ in range(8)]
    counter = iter(range(10**12))

    def step():
        batch = batches[next(counter) % len(batches)]
        optimizer.zero_grad()
        loss_fn(model(X[batch]), T[batch]).backward()
        optimizer.step()

    return 1e6 * _best_seconds_per_call(step, repeats)


def cold_start_seconds() -> float:
    """Wall time of a fresh ``nn-playground train --epochs 1`` process (kernels cached)."""
    command = [sys.executable, "-m", "playground.cli", "train", "--epochs", "1", "--json"]
    subprocess.run(command, capture_output=True, check=True)  # fills the kernel cache
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=dict(os.environ))
    return time.perf_counter() - start


def collect(repeats: int = 5) -> list[dict]:
    """One record per (workload, backend, dtype): ``us_per_step``."""
    from kernels import available_backends

    records = []
    backends = [b for b in available_backends() if b != "auto"]
    for workload in WORKLOADS:
        for backend in backends:
            for dtype in ("float64", "float32"):
                if workload.name == "tiny" and dtype == "float32" and backend == "reference":
                    continue
                records.append(dict(workload=workload.name, backend=backend, dtype=dtype,
                                    us_per_step=time_engine(workload, backend, dtype, repeats)))
        us = time_torch(workload, repeats)
        if us is not None:
            records.append(dict(workload=workload.name, backend="torch", dtype="float32", us_per_step=us))
    for backend in backends:
        records.append(dict(workload="grid", backend=backend, dtype="float64",
                            us_per_step=time_grid(backend, "float64", repeats)))
    us = time_torch(None, repeats)
    if us is not None:
        records.append(dict(workload="grid", backend="torch", dtype="float32", us_per_step=us))
    return records


def format_table(records: list[dict]) -> str:
    """A text table; ratios are speed-ups over the reference and over torch (same run)."""
    lines = [f"{'workload':8} {'backend':10} {'dtype':8} {'us/step':>11} {'x reference':>12} {'x torch':>9}"]
    for r in records:
        same = [o for o in records if o["workload"] == r["workload"]]
        ref = next((o["us_per_step"] for o in same if o["backend"] == "reference"
                    and o["dtype"] == "float64"), None)
        torch_us = next((o["us_per_step"] for o in same if o["backend"] == "torch"), None)
        vs_ref = f"{ref / r['us_per_step']:.1f}" if ref else "-"
        vs_torch = f"{torch_us / r['us_per_step']:.2f}" if torch_us else "-"
        lines.append(f"{r['workload']:8} {r['backend']:10} {r['dtype']:8} {r['us_per_step']:11.2f} "
                     f"{vs_ref:>12} {vs_torch:>9}")
    return "\n".join(lines)


def run_benchmark(as_json: bool = False, repeats: int = 5) -> int:
    records = collect(repeats)
    if as_json:
        print(json.dumps(records))
        return 0
    print(format_table(records))
    if not any(r["backend"] == "torch" for r in records):
        print("(PyTorch not installed: pip install 'nn-playground[bench]' adds torch rows)")
    print(f"cold start of `nn-playground train --epochs 1`: {cold_start_seconds():.2f} s")
    return 0
