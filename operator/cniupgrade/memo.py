"""Remember what was derived from an object, by the object's identity.

A reconcile pass runs on every watch event and mostly sees the same plan, spec and node results as the pass
before; recomputing what is derived from them was a large part of a pass at 1000 nodes. An entry holds its
object, so the object's id cannot be reused by another while it is remembered.
"""
from __future__ import annotations

import functools
import threading
from typing import Callable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def last_by_identity(fn: Callable[[T], R]) -> Callable[[T], R]:
    """One entry, kept whole in one attribute (threads may share it: the worst case is a recomputation)."""
    last: list = [(object(), None)]

    @functools.wraps(fn)
    def remembered(obj: T) -> R:
        known, result = last[0]
        if known is obj:
            return result
        result = fn(obj)
        last[0] = (obj, result)
        return result
    return remembered


class RecentByIdentity:
    """Values remembered for the last few objects, by identity: what a decision derived from the node results it
    wrote, found again when the next decision starts from that very list (each plan's loop is one of the few)."""

    def __init__(self, size: int = 8):
        self._size = size
        self._entries: dict[int, tuple[object, object]] = {}  # id -> (the object, kept so its id stays its own)
        self._lock = threading.Lock()

    def get(self, obj: object) -> object | None:
        entry = self._entries.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else None

    def put(self, obj: object, value: object) -> None:
        with self._lock:
            self._entries.pop(id(obj), None)
            self._entries[id(obj)] = (obj, value)
            while len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]  # the oldest
