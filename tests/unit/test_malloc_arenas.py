"""The operator caps glibc's malloc arenas: threads allocating at once share two instead of one each."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import ctypes, ctypes.util, sys, tempfile, threading
    from cniupgrade import malloc_arenas
    capped = malloc_arenas.cap() if sys.argv[1] == "cap" else None
    barrier = threading.Barrier(8)

    def allocate():
        held = [bytearray(4096) for _ in range(2000)]  # > 512 bytes: from malloc, not Python's own allocator
        barrier.wait()  # all threads hold theirs at once: contention makes glibc hand out arenas
        held.extend(bytearray(4096) for _ in range(2000))
        barrier.wait()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile() as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(capped, open(out.name).read().count("<heap nr="))
""")


def arenas_after_eight_threads(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env={**environ, **env}, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], int(out[1])


def test_threads_share_two_arenas_once_capped():
    assert arenas_after_eight_threads("cap") == ("True", 2)
    _, uncapped = arenas_after_eight_threads("none")
    assert uncapped > 2  # what the cap prevents: glibc's own default here


def test_the_runners_own_choice_wins():
    assert arenas_after_eight_threads("cap", MALLOC_ARENA_MAX="4")[0] == "False"
    assert arenas_after_eight_threads("cap", GLIBC_TUNABLES="glibc.malloc.arena_max=3")[0] == "False"
