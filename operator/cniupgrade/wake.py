"""A plan loop's wake-up flag that also remembers when it was first raised, so the loop can tell how long a
change it was woken for waited for a pass (the operator's own queueing delay, a metric)."""
from __future__ import annotations

import threading
import time


class Wake:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._raised_at: float | None = None

    def set(self) -> None:
        with self._lock:
            if self._raised_at is None:
                self._raised_at = time.monotonic()
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def take(self) -> float | None:
        """Lower the flag; seconds since it was first raised, None when nothing raised it (a deadline woke)."""
        with self._lock:
            raised, self._raised_at = self._raised_at, None
            self._event.clear()
        return None if raised is None else time.monotonic() - raised
