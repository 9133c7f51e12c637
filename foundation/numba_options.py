"""The one place that sets Numba compiler options for every kernel.

``fastmath`` is never set: kernels compare integers and, in later layers,
compute money, where reassociated floating point is not acceptable.
"""

JIT = {"nogil": True, "cache": True, "boundscheck": False}
PARALLEL = {**JIT, "parallel": True}
#: Records per parallel work item: large enough to amortise scratch buffers.
CHUNK = 4096
