"""The one place that sets Numba compiler options for every kernel.

``fastmath`` is never set: kernels compare integers and, in later layers,
compute money, where reassociated floating point is not acceptable.

Importing this module also loads Numba's array-math support without SciPy:
on its first compile or cache load Numba probes for BLAS by importing
``scipy.linalg`` (0.2-0.4 s of a command's start-up, measured), and no kernel
here uses BLAS (``np.dot``, ``np.linalg``).  Where ``scipy.linalg`` is already
imported the probe is cheap and is left alone; importing it later works as usual.

It also asks OpenMP (Numba's threading layer here) to put its threads to sleep as soon as a
parallel loop ends, unless ``OMP_WAIT_POLICY`` is already set: by default they spin for a while,
taking a core from the threads that read and write the files (``drg group`` on 10M records: 8%
less wall time and 5% less CPU, measured on two cores).
"""

import os
import sys

JIT = {"nogil": True, "cache": True, "boundscheck": False}
PARALLEL = {**JIT, "parallel": True}
#: For a kernel that allocates nothing (its caller passes the scratch buffers): without Numba's
#: runtime it does not count references to the arrays it hands its inlined helpers, one atomic
#: increment and decrement per array per call, which was 40% of the grouping kernel's time.
NO_ALLOC = {**JIT, "_nrt": False}
#: Records per parallel work item: large enough to amortise scratch buffers.
CHUNK = 4096


def _load_array_math_without_blas() -> None:
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    sys.modules["scipy.linalg"] = None  # makes Numba's BLAS probe fail fast with ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules["scipy.linalg"]


os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by OpenMP when Numba first starts a parallel loop
_load_array_math_without_blas()
