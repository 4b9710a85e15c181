"""``nn-playground bench``: time one training step on every backend (and PyTorch CPU
when it is installed), and print the figures as ratios measured in the same run.

Workloads:
  tiny  2-8-8-1 tanh, batch 10, Adam           microseconds per optimizer step
  wide  2-256-256-256-1 relu, batch 256, Adam  microseconds per optimizer step
  grid  100x100 boundary evaluation of the tiny net, microseconds per evaluation
The cuda backend gets rows when a GPU is present (never under the CUDA simulator).

``nn-playground bench --sweep`` times one square float32 matmul over sizes 64..4096 on
NumPy (BLAS), a plain Numba loop and the cuda backend's tiled kernel, in GFLOP/s, and
finds the size from which the GPU wins; ``--plot FILE.html`` draws it with Bokeh.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

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


def _simulated() -> bool:
    """Whether the Numba CUDA simulator is on: its "GPU" is Python threads, not worth timing."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def cuda_missing() -> str | None:
    """Why there are no cuda timings here, or None when a real GPU can be timed."""
    from kernels import cuda_unavailable_reason

    if _simulated():
        return "the CUDA simulator is on (NUMBA_ENABLE_CUDASIM); its timings mean nothing"
    return cuda_unavailable_reason()


def collect(repeats: int = 5) -> list[dict]:
    """One record per (workload, backend, dtype): ``us_per_step``."""
    from kernels import available_backends

    records = []
    backends = [b for b in available_backends() if b != "auto" and (b != "cuda" or cuda_missing() is None)]
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
    if cuda_missing() is not None:
        print(f"(no cuda rows: {cuda_missing()})")
    print(f"cold start of `nn-playground train --epochs 1`: {cold_start_seconds():.2f} s")
    return 0


# ---------------------------------------------------------------------------------------
# --sweep: one matmul over sizes, CPU against GPU
# ---------------------------------------------------------------------------------------
SWEEP_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
SWEEP_SECONDS = 0.5  # time each (engine, size) for about this long: many calls when small,
#                      one or two at 4096 (about a second each on numpy, 2 cores)
LOOP_MAX_SECONDS = 1.0  # the Numba loop stops before a size predicted to take longer a call
OUT_OF_CACHE = 2.0  # the loop's time grows faster than n^3 once the matrices outgrow the caches


@njit(cache=True, nogil=True)
def loop_matmul(A, B, out):
    """``out = A @ B`` as a plain Numba loop, the cpu backend's small-product path: what a
    CPU does without BLAS. The (i, p, j) order keeps the inner loop along rows, so it
    vectorizes. A (m, k), B (k, n), out (m, n)."""
    m, k = A.shape
    n = B.shape[1]
    for i in range(m):
        for j in range(n):
            out[i, j] = 0.0
        for p in range(k):
            a = A[i, p]
            for j in range(n):
                out[i, j] += a * B[p, j]


def _seconds_per_call(call, max_calls: int) -> float:
    """Best time of ``call``: calls until ``SWEEP_SECONDS`` have passed (at least one,
    at most ``max_calls``), so small sizes get many tries and large ones few."""
    best, started = float("inf"), time.perf_counter()
    for _ in range(max_calls):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
        if time.perf_counter() - started > SWEEP_SECONDS:
            break
    return best


def _sweep_engines():
    """``{name: prepare}``: ``prepare(A, B)`` sets up one engine's ``A @ B`` and returns
    ``(call, result)``: ``call()`` computes the product once, ``result()`` fetches it."""

    def numpy_engine(A, B):
        out = np.empty((A.shape[0], B.shape[1]), A.dtype)
        return (lambda: np.matmul(A, B, out=out)), (lambda: out)

    def loop_engine(A, B):
        out = np.empty((A.shape[0], B.shape[1]), A.dtype)
        return (lambda: loop_matmul(A, B, out)), (lambda: out)

    engines = {"numpy": numpy_engine, "cpu-loop": loop_engine}
    if cuda_missing() is None:
        from numba import cuda

        from kernels.cuda import matmul

        def cuda_engine(A, B):
            dA, dB = cuda.to_device(A), cuda.to_device(B)  # resident, as the backend's weights
            out = cuda.device_array((A.shape[0], B.shape[1]), A.dtype)

            def call():
                matmul(dA, dB, out)
                cuda.synchronize()  # launches return at once: time the work, not the launch

            return call, out.copy_to_host

        engines["cuda"] = cuda_engine
    return engines


def sweep(sizes=SWEEP_SIZES, max_calls: int = 1000, log=None) -> tuple[list[dict], list[str]]:
    """Time ``n x n @ n x n`` float32 on each engine; returns (records, notes).

    Records: ``{"engine", "size", "seconds", "gflops"}`` with ``gflops = 2 n^3 / seconds /
    1e9``. Notes: lines to print about engines that stopped early or are missing.
    """
    rng = np.random.default_rng(0)
    engines = _sweep_engines()
    notes = []
    # warm-up on a small ragged product: compiles the kernels, and checks that they are right
    A, B = rng.standard_normal((70, 50), np.float32), rng.standard_normal((50, 60), np.float32)
    for name, prepare in engines.items():
        call, result = prepare(A, B)
        call()
        np.testing.assert_allclose(result(), A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4,
                                   err_msg=f"the {name} matmul is wrong")
    records, stopped = [], set()
    for n in sizes:
        A, B = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
        for name, prepare in engines.items():
            if name in stopped:
                continue
            previous = [r for r in records if r["engine"] == name]
            if name == "cpu-loop" and previous:
                predicted = previous[-1]["seconds"] * (n / previous[-1]["size"]) ** 3 * OUT_OF_CACHE
                if predicted > LOOP_MAX_SECONDS:
                    stopped.add(name)
                    notes.append(f"cpu-loop stops at {previous[-1]['size']}: {n} x {n} would take "
                                 f"{predicted:.0f} s or more a call, larger sizes minutes")
                    continue
            seconds = _seconds_per_call(prepare(A, B)[0], max_calls)
            records.append(dict(engine=name, size=n, seconds=seconds, gflops=2 * n**3 / seconds / 1e9))
            if log:
                log(f"  {name:9} {n:5d}  {records[-1]['gflops']:8.1f} GFLOP/s")
    if "cuda" not in engines:
        notes.append(f"no cuda column: {cuda_missing()}; the crossover needs a GPU")
    return records, notes


def crossover(records: list[dict], cpu_engine: str = "numpy") -> int | None:
    """The smallest size from which cuda is faster than ``cpu_engine`` at every larger size
    measured by both; None when it never is (or either is missing)."""
    cuda_at = {r["size"]: r["gflops"] for r in records if r["engine"] == "cuda"}
    cpu_at = {r["size"]: r["gflops"] for r in records if r["engine"] == cpu_engine}
    common = sorted(set(cuda_at) & set(cpu_at))
    found = None
    for n in reversed(common):
        if cuda_at[n] <= cpu_at[n]:
            break
        found = n
    return found


def format_sweep(records: list[dict], notes: list[str]) -> str:
    """The sweep as a table of GFLOP/s (size down, engine across), then the crossover."""
    engines = list(dict.fromkeys(r["engine"] for r in records))
    sizes = sorted({r["size"] for r in records})
    value = {(r["engine"], r["size"]): r["gflops"] for r in records}
    lines = ["matmul n x n @ n x n, float32, GFLOP/s (higher is faster)",
             f"{'n':>6} " + " ".join(f"{e:>10}" for e in engines)]
    for n in sizes:
        cells = [f"{value[e, n]:10.1f}" if (e, n) in value else f"{'-':>10}" for e in engines]
        lines.append(f"{n:6d} " + " ".join(cells))
    lines += notes
    if "cuda" in engines:
        for cpu_engine in ("numpy", "cpu-loop"):
            if cpu_engine not in engines:
                continue
            n = crossover(records, cpu_engine)
            lines.append(f"crossover vs {cpu_engine}: " + (f"the GPU wins from n = {n} on" if n else
                                                          "the GPU did not win at the sizes measured"))
    return "\n".join(lines)


def plot_sweep(records: list[dict], path: str) -> None:
    """A Bokeh chart of the sweep (log-log GFLOP/s against n) as a standalone HTML file."""
    from bokeh.io import save
    from bokeh.models import FixedTicker, Span
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    title = "matmul n x n, float32" + ("" if crossover(records) else
                                         " (no GPU timed here)" if all(r["engine"] != "cuda" for r in records) else "")
    fig = figure(title=title, x_axis_type="log", y_axis_type="log",
                 x_axis_label="n", y_axis_label="GFLOP/s", width=720, height=420,
                 tools="pan,wheel_zoom,box_zoom,reset,hover",
                 tooltips=[("engine", "$name"), ("n", "@x"), ("GFLOP/s", "@y{0.0}")])
    colors = {"numpy": "#1f77b4", "cpu-loop": "#ff7f0e", "cuda": "#2ca02c"}
    for engine in dict.fromkeys(r["engine"] for r in records):
        rows = [r for r in records if r["engine"] == engine]
        xs, ys = [r["size"] for r in rows], [r["gflops"] for r in rows]
        color = colors.get(engine, "#7f7f7f")
        fig.line(xs, ys, legend_label=engine, color=color, line_width=2, name=engine)
        fig.scatter(xs, ys, legend_label=engine, color=color, size=7, name=engine)
    n = crossover(records)
    if n:
        fig.add_layout(Span(location=n, dimension="height", line_dash="dashed", line_color="#2ca02c"))
    fig.xaxis.ticker = FixedTicker(ticks=sorted({r["size"] for r in records}))
    fig.legend.location = "top_left"
    save(fig, filename=path, resources=INLINE, title="nn-playground matmul sweep")


def run_sweep(as_json: bool = False, plot: str | None = None) -> int:
    log = None if as_json else (lambda line: print(line, file=sys.stderr, flush=True))
    records, notes = sweep(log=log if sys.stderr.isatty() else None)
    if plot:
        plot_sweep(records, plot)
    if as_json:
        print(json.dumps(dict(records=records, notes=notes, crossover=crossover(records))))
        return 0
    print(format_sweep(records, notes))
    if plot:
        print(f"chart written to {plot}")
    return 0
