"""Remember a function's result for the last object it was called with, by identity.

A reconcile pass runs on every watch event and mostly sees the same plan, spec and node results as the pass
before; recomputing what is derived from them was a large part of a pass at 1000 nodes. One entry, kept whole
in one attribute (threads may share it: the worst case is a recomputation). The entry holds the object, so its
id cannot be reused by another object while it is remembered.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def last_by_identity(fn: Callable[[T], R]) -> Callable[[T], R]:
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
