"""Run a module as `python -m` would, then report the process's own peak RSS (VmHWM) on the last line.

The bench cannot take a child's peak from wait4(): Linux carries the parent's peak into the child's ru_maxrss
when the child execs (the mm it leaves is the parent's, after vfork), so a child of the bench, which has just
created 100k objects with 32 threads, reported the bench's own ~270 MiB.
"""
from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

MARKER = "bench-peak-rss-mib"
REPO = Path(__file__).resolve().parent.parent  # the working directory `python -m bench.peak` needs


def proc_status(pid: int, name: str) -> int:
    """A number of /proc/<pid>/status: VmHWM, VmRSS (KiB), Threads..."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise KeyError(name)


def peak_rss_mib(pid: int) -> float:
    """A live process's own peak RSS (VmHWM)."""
    return proc_status(pid, "VmHWM") / 1024


if __name__ == "__main__":
    module, sys.argv = sys.argv[1], sys.argv[1:]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        sys.stdout.flush()
        print(f"{MARKER} {peak_rss_mib(os.getpid())}", flush=True)
