"""A decision's working copy of the status's node results, with what a pass asks of them kept up to date.

A 1000-node pass rebuilt them from the whole list each time (by name, sorted into plan order, counted: ~0.4 ms,
and most passes change a node or two). What a decision derives from the list it returns is remembered for that
very list, so the next pass, which starts from it, only applies its own changes.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from typing import Iterator, Mapping, Sequence

from cniupgrade.api.status import Counts, NodeResult, NodeState
from cniupgrade.memo import RecentByIdentity
from cniupgrade.rollout.layout import PlanLayout


@dataclass(frozen=True)
class _Derived:
    by_name: Mapping[str, NodeResult]
    unfinished: frozenset[str]  # started and not upgraded
    states: Mapping[NodeState, int]
    any_failed: bool
    layout: PlanLayout | None = None  # set when the list is in this layout's order (a decision made it)
    started_upto: int = 0  # with layout: every node before this position has a result

    @classmethod
    def of(cls, listed: Sequence[NodeResult]) -> _Derived:
        by_name = {r.name: r for r in listed}
        states = Counter(r.state for r in by_name.values())
        return cls(by_name, frozenset(n for n, r in by_name.items() if r.state is not NodeState.upgraded),
                   states, states[NodeState.failed] > 0)


_derived = RecentByIdentity()


class NodeResults:
    def __init__(self, listed: Sequence[NodeResult] = ()):
        self.listed = listed
        self._known: _Derived = _derived.get(listed) or _Derived.of(listed)
        self._by_name = dict(self._known.by_name)
        self.unfinished = set(self._known.unfinished)
        self.any_failed = self._known.any_failed
        self._before: dict[str, NodeResult | None] = {}  # each changed node's result before this decision

    def get(self, name: str) -> NodeResult | None:
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> NodeResult:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def items(self):
        return self._by_name.items()

    @property
    def changed(self) -> bool:
        return bool(self._before)

    def put(self, result: NodeResult) -> None:
        name = result.name
        self._before.setdefault(name, self._by_name.get(name))
        self._by_name[name] = result
        if result.state is NodeState.upgraded:
            self.unfinished.discard(name)
        else:
            self.unfinished.add(name)
        self.any_failed = self.any_failed or result.state is NodeState.failed

    def newly_upgraded(self) -> list[NodeResult]:
        """The nodes this decision passed (each node once per upgrade: the next decision starts from this one)."""
        return [self._by_name[name] for name, before in self._before.items()
                if self._by_name[name].state is NodeState.upgraded
                and (before is None or before.state is not NodeState.upgraded)]

    def failed(self) -> list[str]:
        return [n for n in self.unfinished if self._by_name[n].state is NodeState.failed] if self.any_failed else []

    def unstarted(self, layout: PlanLayout, begin: int = 0) -> Iterator[str]:
        """Nodes without a result, in plan order from position `begin`."""
        known = self._known
        start = max(begin, known.started_upto if known.layout is layout else 0)
        return (name for name in islice(layout.order, start, None) if name not in self._by_name)

    def listing(self, layout: PlanLayout) -> tuple[list[NodeResult], Counts]:
        """The results in plan order and their counts (of planned nodes), remembered for the next decision."""
        known = self._known
        if known.layout is layout and all(name in layout.position for name in self._before):
            results, states = list(self.listed), Counter(known.states)
            for name, before in self._before.items():
                after = self._by_name[name]
                at = bisect_left(results, layout.position[name], key=lambda r: layout.key(r.name))
                if before is None:
                    results.insert(at, after)
                else:
                    results[at] = after
                    states[before.state] -= 1
                states[after.state] += 1
            started_upto = known.started_upto
        else:
            results = sorted(self._by_name.values(), key=lambda r: layout.key(r.name))
            states, started_upto = Counter(r.state for r in results), 0
        order = layout.order
        while started_upto < len(order) and order[started_upto] in self._by_name:
            started_upto += 1
        _derived.put(results, _Derived(dict(self._by_name), frozenset(self.unfinished), states,
                                       states[NodeState.failed] > 0, layout, started_upto))
        upgraded, failed, rolled_back, removed = (states[s] for s in (
            NodeState.upgraded, NodeState.failed, NodeState.rolled_back, NodeState.removed))
        return results, Counts(total=len(order), planned=len(order), upgraded=upgraded, failed=failed,
                               rolled_back=rolled_back, removed=removed,
                               pending=len(order) - upgraded - failed - rolled_back - removed)
