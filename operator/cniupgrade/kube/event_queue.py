"""Events are posted in order by one background worker, so posting never delays a decision (~4 ms each).

Not a ThreadPoolExecutor: the interpreter waits at exit for every task queued on one, and against an unreachable
API server each Event can take its whole request timeout. The worker here is a daemon thread; the operator gives
what is queued a bounded time on the way out (drain).
"""
from __future__ import annotations

import functools
import queue
import threading
import time
from typing import Callable


class EventQueue:
    def __init__(self, name: str = "cniupgrade-events"):
        self._queue: queue.Queue[tuple[Callable, tuple]] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, post: Callable, *args) -> None:
        self._queue.put((post, args))

    def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for what is queued to be posted; returns how many are left."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks and (left := deadline - time.monotonic()) > 0:
                self._queue.all_tasks_done.wait(left)
            return self._queue.unfinished_tasks

    def _work(self) -> None:
        while True:
            post, args = self._queue.get()
            try:
                post(*args)
            except Exception:  # noqa: BLE001 - the poster logs its own failures; the worker must go on
                pass
            finally:
                self._queue.task_done()


@functools.cache
def shared() -> EventQueue:
    """One for the process: every plan's Events, in order."""
    return EventQueue()
