"""The cuda backend's tests: under the Numba CUDA simulator on any machine, and on the
real GPU where one is present.

``NUMBA_ENABLE_CUDASIM=1`` must be set before numba is first imported, and the main
pytest run has imported numba long before it reaches this folder: so where there is no
GPU the main run does not collect these files, and ``tests/test_cuda.py`` runs this
folder in a subprocess with the variable set (``NUMBA_ENABLE_CUDASIM=1 python -m pytest
tests/cuda_sim`` does the same by hand). The simulator runs every GPU thread as a Python
thread: shapes here are tiny, and ``kernels/cuda.py`` keeps its blocks small under it.
Where a CUDA GPU is usable (``kernels.cuda_unavailable_reason()`` is None), the main run
collects this folder too and the same tests run on the GPU, with real block sizes.
"""
import os

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")

import tests.backends  # noqa: F401,E402 - under the simulator: its GIL switch interval

if not SIMULATED:
    from kernels import cuda_unavailable_reason

    if cuda_unavailable_reason() is not None:
        collect_ignore_glob = ["test_*.py"]
