"""The one list of backends that the engine's tests run on (tests/test_kernels.py,
tests/test_optimizers.py): the cpu kernels everywhere, and the cuda kernels where they can
run: on a GPU, in the main run; under the Numba CUDA simulator, in the subprocess that
tests/test_cuda.py starts with ``NUMBA_ENABLE_CUDASIM=1`` (which selects the ``cuda``
cases of these files and tests/cuda_sim). The reference backend is what they are compared
with; finite differences and torch's golden steps are what all of them are checked against.
"""
from __future__ import annotations

import os
import sys

from kernels import cuda_unavailable_reason

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
FAST_BACKENDS = ("cpu",) + (("cuda",) if cuda_unavailable_reason() is None else ())

if SIMULATED:
    # The simulator's launcher polls its threads in a loop that holds the GIL; a shorter
    # switch interval hands the GIL to the simulated threads sooner (2x faster here).
    sys.setswitchinterval(5e-4)


def cases(count: int, simulated: int) -> list[tuple[str, int]]:
    """(backend, seed) pairs: ``count`` seeds per backend, ``simulated`` for cuda under the
    simulator (every GPU thread a Python thread: a few random nets, not forty)."""
    return [(backend, seed) for backend in FAST_BACKENDS
            for seed in range(simulated if backend == "cuda" and SIMULATED else count)]
