"""Paged lists fetched at once: every page arrives once, each stream in its own order, errors surface, and
the fetchers stop when the consumer leaves."""
from __future__ import annotations

import threading
import time

import pytest

from cniupgrade.kube.client import interleave


def stream(name: str, count: int, delay: float = 0.0):
    for i in range(count):
        time.sleep(delay)
        yield [f"{name}-{i}"]


def test_every_page_of_every_stream_arrives_once_in_its_own_order():
    got: dict[str, list[str]] = {}
    for name, page in interleave({"a": stream("a", 50), "b": stream("b", 30, 0.001), "c": stream("c", 0)},
                                 buffered=2):
        got.setdefault(name, []).extend(page)
    assert got == {"a": [f"a-{i}" for i in range(50)], "b": [f"b-{i}" for i in range(30)]}


def test_the_streams_are_fetched_at_the_same_time():
    together = threading.Barrier(4, timeout=10)  # broken unless all four fetch at once

    def meeting(name: str):
        together.wait()
        yield from stream(name, 5)
    pages = list(interleave({name: meeting(name) for name in "abcd"}, buffered=1))
    assert len(pages) == 20 and not together.broken


def test_an_error_in_one_stream_is_raised_to_the_consumer():
    def broken():
        yield ["fine"]
        raise PermissionError("forbidden: list spiderendpoints")
    with pytest.raises(PermissionError, match="forbidden"):
        list(interleave({"ok": stream("ok", 3), "broken": broken()}))


def test_leaving_early_stops_the_fetchers_and_bounds_what_was_read():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield [i]
            i += 1
    pages = interleave({"endless": endless()}, buffered=3)
    next(pages)
    pages.close()
    time.sleep(0.5)
    settled = len(produced)
    time.sleep(0.3)
    assert len(produced) == settled <= 6  # it stopped, having read no more than the buffer allows
    assert not [t for t in threading.enumerate() if t.name == "list-endless"]
