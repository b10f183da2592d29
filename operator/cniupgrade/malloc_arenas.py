"""Cap glibc's malloc arenas, the operator's main memory cost at scale.

glibc gives a thread that meets contention an arena of its own (up to 8 per core) and keeps what is freed there
for reuse by that arena. The operator's threads (pod deletions at once, one per watch, kopf's) each parse and drop
lists and events: at 1000 simulated nodes, ~25 MiB were in use and 136 MiB free but held after three plans, and
the peak grew with every plan. Two arenas keep the freed memory reusable by all threads; the threads mostly wait
on the network and on the GIL, and no CPU cost of the cap showed beyond the noise (docs/benchmarks.md).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def cap(arenas: int = ARENAS) -> bool:
    """Cap the arenas of threads started from now on; False where it does not apply: not glibc, or the operator's
    runner chose its own (MALLOC_ARENA_MAX or a glibc.malloc tunable in the environment wins)."""
    if "MALLOC_ARENA_MAX" in os.environ or "glibc.malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # musl and others have no mallopt, or no findable libc
        return False
    return mallopt(M_ARENA_MAX, arenas) == 1
