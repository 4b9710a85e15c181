"""The cuda backend's tests, run under the Numba CUDA simulator in their own process.

``NUMBA_ENABLE_CUDASIM=1`` must be set before numba is first imported, and the main
pytest run has imported numba long before it reaches this folder: so the main run does
not collect these files, and ``tests/test_cuda.py`` runs this folder in a subprocess
with the variable set (``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda_sim`` does
the same by hand). The simulator runs every GPU thread as a Python thread: shapes here
are tiny, and ``kernels/cuda.py`` keeps its blocks small under it.
"""
import os
import sys

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")

if not SIMULATED:
    collect_ignore_glob = ["test_*.py"]
else:
    # The simulator's launcher polls its threads in a loop that holds the GIL; a shorter
    # switch interval hands the GIL to the simulated threads sooner (2x faster here).
    sys.setswitchinterval(5e-4)
