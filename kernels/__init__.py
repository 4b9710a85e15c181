"""The numeric engine: one :class:`Backend` interface, several implementations.

``reference`` is plain NumPy (the specification), ``cpu`` is fused Numba, ``cuda`` is
Numba-CUDA (needs numba-cuda and a GPU, or the simulator); ``auto`` picks cuda for wide
nets when it can run here, else cpu (see :data:`CPU_MAX_UNITS`).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from functools import lru_cache

from .backend import Backend
from .spec import ACTIVATIONS, INITIALIZATIONS, LOSSES, NetworkSpec, initial_parameters
from .optimizers import OPTIMIZERS, OptimizerSettings

BACKENDS = ("auto", "reference", "cpu", "cuda")


class BackendUnavailable(RuntimeError):
    """The asked-for backend cannot run here; the message says what to use instead."""


def _cuda_driver_loadable() -> bool:
    """Whether the CUDA driver library loads, tried the way numba-cuda tries it.

    Checked before importing ``numba.cuda`` (about a second) so that a machine without
    a driver -- where ``numba.cuda.is_available()`` is False anyway -- does not pay
    that import on every start.
    """
    if os.environ.get("NUMBA_CUDA_DRIVER") or sys.platform != "linux":
        return True  # a driver path given, or another platform: let numba-cuda decide
    for name in ("libcuda.so", "libcuda.so.1", "/usr/lib/libcuda.so", "/usr/lib/libcuda.so.1",
                 "/usr/lib64/libcuda.so", "/usr/lib64/libcuda.so.1"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _check_cuda() -> str | None:
    """None when the cuda backend can run here, else why not (a short phrase)."""
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'nn-playground[cuda]')"
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
    if not simulated and not _cuda_driver_loadable():
        return "no CUDA GPU here (no CUDA driver library found)"
    try:
        from numba import cuda
        if not cuda.is_available():
            return "no usable CUDA GPU found (numba.cuda.is_available() is False)"
    except Exception as err:  # a broken CUDA install must not stop the cpu backend
        return f"numba-cuda failed to start ({_first_line(err)})"
    try:
        if not _probe_kernel_runs():
            return "numba-cuda ran a test kernel that wrote the wrong value"
    except Exception as err:
        return f"numba-cuda failed to compile and run a test kernel ({_first_line(err)})"
    return None


def _first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


def _probe_kernel_runs() -> bool:
    """Compile and run a one-thread kernel (about a second, once per process).

    numba-cuda can import and see a GPU and still fail at its first compile: numba-cuda
    0.30 with numpy 2.5, which dropped ``np.row_stack``, raises AttributeError there. Found
    here, ``auto`` picks the cpu backend instead of one whose every kernel would fail."""
    import numpy as np
    from numba import cuda

    @cuda.jit
    def write_one(out):
        out[0] = 1.0

    out = cuda.to_device(np.zeros(1))
    write_one[1, 1](out)
    return float(out.copy_to_host()[0]) == 1.0


@lru_cache(maxsize=1)
def cuda_unavailable_reason() -> str | None:
    """Why the cuda backend cannot run here, or None when it can (checked once)."""
    return _check_cuda()


# ``auto`` keeps nets whose every layer has at most this many units on the cpu kernels,
# GPU or not: a step of such a net is a chain of tiny dependent sums, which one CPU core
# runs faster than one GPU block. Measured on an H200 with 16 cores (scripts/gpu_check.sh):
# a 2-8-8-1 step took 2.4 us on the cpu kernels and 17 us in the fused cuda kernel, and a
# room of 30 served sessions got 22.6 frames/s each on the cpu kernels and 8.9 on cuda.
CPU_MAX_UNITS = 8


def resolve_backend(name: str, spec: NetworkSpec | None = None) -> str:
    """The concrete backend that ``name`` means here for the net ``spec``.

    ``auto`` -> ``cuda`` where it runs, for a net with a layer wider than
    :data:`CPU_MAX_UNITS` (every wide net when ``spec`` is None); ``cpu`` otherwise."""
    if name == "auto":
        wide = spec is None or max(spec.layer_sizes) > CPU_MAX_UNITS
        return "cuda" if wide and cuda_unavailable_reason() is None else "cpu"
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "cuda" and cuda_unavailable_reason() is not None:
        raise BackendUnavailable(f"backend 'cuda' is not available here: {cuda_unavailable_reason()}; "
                                 "use --backend cpu")
    return name


def available_backends() -> list[str]:
    """Backends that can run on this machine, ``auto`` first (cuda only when usable)."""
    return [name for name in BACKENDS if name != "cuda" or cuda_unavailable_reason() is None]


def make_backend(name: str, spec: NetworkSpec, params, dtype="float64") -> Backend:
    """A backend of kind ``name`` holding ``params`` (flat, float64) as ``dtype``."""
    name = resolve_backend(name, spec)
    if name == "reference":
        from .reference import ReferenceBackend
        return ReferenceBackend(spec, params, dtype)
    if name == "cuda":
        from .cuda import CudaBackend
        return CudaBackend(spec, params, dtype)
    from .cpu import CpuBackend
    return CpuBackend(spec, params, dtype)


__all__ = ["ACTIVATIONS", "BACKENDS", "Backend", "BackendUnavailable", "INITIALIZATIONS",
           "CPU_MAX_UNITS", "LOSSES", "NetworkSpec", "OPTIMIZERS", "OptimizerSettings", "available_backends", "cuda_unavailable_reason",
           "initial_parameters", "make_backend", "resolve_backend"]
