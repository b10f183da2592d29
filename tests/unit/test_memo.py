"""The last result is reused for the very same object only, never for an equal one or after another call."""
from __future__ import annotations

from cniupgrade.memo import last_by_identity


def test_the_result_is_reused_for_the_same_object_only():
    calls = []

    @last_by_identity
    def size(items: list) -> int:
        calls.append(list(items))
        return len(items)
    first, equal = [1, 2], [1, 2]
    assert size(first) == 2 and size(first) == 2 and len(calls) == 1
    assert size(equal) == 2 and len(calls) == 2  # equal but not the same: computed again
    assert size(first) == 2 and len(calls) == 3  # one entry: the last object only


def test_recent_values_are_found_for_the_same_object_only_and_the_oldest_is_forgotten():
    from cniupgrade.memo import RecentByIdentity
    memo = RecentByIdentity(size=2)
    first, second, third = [1], [2], [3]
    memo.put(first, "one")
    memo.put(second, "two")
    assert memo.get(first) == "one" and memo.get([1]) is None  # equal is not the same
    memo.put(third, "three")
    assert memo.get(first) is None and memo.get(second) == "two" and memo.get(third) == "three"
