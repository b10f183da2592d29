"""Run a module as `python -m` would, then report the process's own peak RSS (VmHWM) on the last line.

The bench cannot take a child's peak from wait4(): Linux carries the parent's peak into the child's ru_maxrss
when the child execs (the mm it leaves is the parent's, after vfork), so a child of the bench, which has just
created 100k objects with 32 threads, reported the bench's own ~270 MiB.
"""
from __future__ import annotations

import runpy
import sys

MARKER = "bench-peak-rss-kib"


def peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


if __name__ == "__main__":
    module, sys.argv = sys.argv[1], sys.argv[1:]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        sys.stdout.flush()
        print(f"{MARKER} {peak_kib()}", flush=True)
