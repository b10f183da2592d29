"""Node results a decision keeps up to date read the same as ones rebuilt from the whole list."""
from __future__ import annotations

import random
from collections import Counter

from cniupgrade.api.status import ComputedPlan, NodeResult, NodeState
from cniupgrade.rollout.layout import layout_of
from cniupgrade.rollout.node_results import NodeResults

STATES = list(NodeState)


def rebuilt(layout, by_name: dict[str, NodeResult]):
    """What the results say, computed from scratch."""
    results = sorted(by_name.values(), key=lambda r: layout.key(r.name))
    states = Counter(r.state for r in results)
    unfinished = {n for n, r in by_name.items() if r.state is not NodeState.upgraded}
    unstarted = [n for n in layout.order if n not in by_name]
    return results, states, unfinished, unstarted


def test_results_kept_pass_by_pass_read_as_rebuilt_from_scratch():
    for seed in range(100):
        rng = random.Random(seed)
        names = [f"n{i}" for i in range(rng.randint(1, 40))]
        plan = ComputedPlan(batches=[names[i:i + 3] for i in range(0, len(names), 3)], max_unavailable=3)
        layout = layout_of(plan)
        listed: list[NodeResult] = []
        truth: dict[str, NodeResult] = {}
        for _ in range(30):
            if rng.random() < 0.2 and listed:  # a decision starts from a copy (a status read back): rebuilt
                listed = list(listed)
            results = NodeResults(listed)
            for _ in range(rng.randint(0, 4)):
                # mostly the next nodes in plan order, sometimes any (a node down is started first)
                name = rng.choice(names[:len(truth) + 3] if rng.random() < 0.8 else names)
                result = NodeResult(name=name, state=rng.choice(STATES), message=str(rng.random()))
                results.put(result)
                truth[name] = result
            want_results, states, unfinished, unstarted = rebuilt(layout, truth)
            assert results.unfinished == unfinished, seed
            assert list(results.unstarted(layout)) == unstarted, seed
            begin = rng.randrange(len(names))
            assert list(results.unstarted(layout, begin)) == [n for n in unstarted if layout.key(n) >= begin]
            assert sorted(results.failed()) == sorted(n for n in unfinished if truth[n].state is NodeState.failed)
            listed, counts = results.listing(layout)
            assert listed == want_results, seed
            assert (counts.planned, counts.upgraded, counts.failed, counts.rolled_back, counts.removed) == (
                len(names), states[NodeState.upgraded], states[NodeState.failed], states[NodeState.rolled_back],
                states[NodeState.removed])
            assert counts.pending == len(names) - sum(states[s] for s in (
                NodeState.upgraded, NodeState.failed, NodeState.rolled_back, NodeState.removed))


def test_a_list_not_made_by_a_decision_is_read_whole_whatever_its_order():
    plan = ComputedPlan(batches=[["a", "b"], ["c", "d"]], max_unavailable=2)
    stored = [NodeResult(name="c", state=NodeState.upgrading), NodeResult(name="a", state=NodeState.upgraded)]
    results = NodeResults(stored)
    results.put(NodeResult(name="b", state=NodeState.upgrading))
    assert list(results.unstarted(layout_of(plan))) == ["d"] and results.unfinished == {"b", "c"}
    listed, counts = results.listing(layout_of(plan))
    assert [r.name for r in listed] == ["a", "b", "c"] and (counts.upgraded, counts.pending) == (1, 3)


def test_newly_upgraded_are_the_nodes_this_decision_passed_and_no_others():
    before = [NodeResult(name="done", state=NodeState.upgraded), NodeResult(name="busy", state=NodeState.upgrading),
              NodeResult(name="slow", state=NodeState.upgrading)]
    results = NodeResults(before)
    results.put(NodeResult(name="done", state=NodeState.upgraded, message="said again"))  # passed before
    results.put(NodeResult(name="busy", state=NodeState.upgraded))
    results.put(NodeResult(name="new", state=NodeState.upgrading))
    results.put(NodeResult(name="new", state=NodeState.upgraded))  # started and passed in one decision
    results.put(NodeResult(name="slow", state=NodeState.failed))
    assert [r.name for r in results.newly_upgraded()] == ["busy", "new"]
    assert NodeResults(before).newly_upgraded() == []
