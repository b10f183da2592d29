"""Pacing after the canary: Window mode slides (the next node starts as one passes), Batches mode is lock-step."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from cniupgrade.api.status import NodeState, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from tests.unit.builders import NEW, PLAN, T0, observe, pod, spec

NODES = 7  # canary n0, then batches [n1 n2] [n3 n4] [n5 n6] at maxUnavailable 2


def deleted(decision) -> list[str]:
    return [a.node for a in decision.actions if isinstance(a, act.DeletePod)]


def reasons(decision) -> list[str]:
    return [e.reason for e in decision.events]


def ready(decision):
    return next(c for c in decision.status.conditions if c.type == "Ready")


def pods(new: set[str], not_ready: frozenset[str] = frozenset()) -> list:
    return [pod(f"n{i}", NEW if f"n{i}" in new else "rev-old", ready=f"n{i}" not in not_ready)
            for i in range(NODES)]


class Run:
    """Feeds each decision's status into the next one, with the pods the test says are there."""

    def __init__(self, **spec_kw):
        self.spec = spec(**spec_kw)
        self.status = decide(self.spec, UpgradePlanStatus(), observe(NODES), 1).status
        self.seconds = 0

    def step(self, new: set[str], not_ready: frozenset[str] = frozenset()):
        self.seconds += 1
        d = decide(self.spec, self.status, observe(NODES, pods=pods(new, not_ready), owner=PLAN,
                                                   now=T0 + dt.timedelta(seconds=self.seconds)), 1)
        self.status = d.status
        return d

    def in_flight(self) -> set[str]:
        return {r.name for r in self.status.nodes if r.state is NodeState.upgrading}

    def through_canary(self) -> None:
        assert deleted(self.step(set())) == ["n0"]
        assert "BatchSucceeded" in reasons(self.step({"n0"}))


def test_window_mode_starts_the_next_node_as_soon_as_one_passes():
    run = Run()  # Window is the default
    assert run.spec.rollout.mode.value == "Window"
    run.through_canary()
    d = run.step({"n0"})
    assert deleted(d) == ["n1", "n2"] and reasons(d) == ["BatchStarted", "PhaseRolling"]
    # n1 passes while n2 is still coming up: n3 starts in the same pass, the window stays at 2
    d = run.step({"n0", "n1", "n2"}, not_ready=frozenset({"n2"}))
    assert deleted(d) == ["n3"] and run.in_flight() == {"n2", "n3"}
    assert reasons(d) == ["BatchStarted"]  # batch 3 began; batch 2 has not passed yet
    assert d.status.phase is Phase.rolling and ready(d).message == "batch 2/4: 2 node(s) in flight"
    # n2 passes: batch 2 is done and n4 starts
    d = run.step({"n0", "n1", "n2", "n3"}, not_ready=frozenset({"n3"}))
    assert deleted(d) == ["n4"] and "BatchSucceeded" in reasons(d) and run.in_flight() == {"n3", "n4"}
    assert d.status.last_batch_finished_at
    # everything passes: the rest starts, then the plan succeeds and releases the DaemonSet exactly once
    every = {f"n{i}" for i in range(NODES)}
    d = run.step({"n0", "n1", "n2", "n3", "n4"})
    assert deleted(d) == ["n5", "n6"]
    d = run.step(every)
    assert d.status.phase is Phase.succeeded and d.status.counts.upgraded == NODES
    assert [a for a in d.actions if isinstance(a, act.ReleaseDaemonSet)]


def test_window_mode_never_has_more_than_max_unavailable_in_flight():
    run = Run(rollout={"maxUnavailable": 3, "canary": {"count": 0}})
    new: set[str] = set()
    started: list[str] = []
    while run.status.phase is not Phase.succeeded:
        d = run.step(new)
        started += [n for n in deleted(d) if n not in started]  # a pod not yet replaced is deleted again
        assert len(run.in_flight()) <= 3
        # the oldest node in flight comes up each pass, one at a time
        flight = sorted(run.in_flight())
        if flight:
            new.add(flight[0])
        assert run.seconds < 50
    assert started == [f"n{i}" for i in range(NODES)]  # plan order, each once


def test_a_node_already_down_takes_a_slot_and_is_replaced_first():
    """maxUnavailable bounds the nodes without a working agent, as the DaemonSet controller's does: one whose old
    agent is not Ready counts, and its replacement costs nothing more, so it goes first."""
    run = Run(rollout={"maxUnavailable": 2, "canary": {"count": 0}})
    d = run.step(set(), not_ready=frozenset({"n5"}))
    assert deleted(d) == ["n5", "n0"] and run.in_flight() == {"n5", "n0"}
    d = run.step({"n0", "n5"}, not_ready=frozenset({"n0", "n5"}))  # both new agents coming up: nothing more
    assert deleted(d) == [] and run.in_flight() == {"n5", "n0"}
    d = run.step({"n0", "n5"}, not_ready=frozenset({"n0"}))
    assert deleted(d) == ["n1"] and run.in_flight() == {"n0", "n1"}


def test_a_node_that_passed_and_lost_its_agent_takes_a_slot_and_is_not_touched():
    """A new version that crashes after its gate passed: the DaemonSet controller counts that node against
    maxUnavailable too, so a bad version stops itself at maxUnavailable nodes down."""
    run = Run(rollout={"maxUnavailable": 2})
    run.through_canary()
    d = run.step({"n0"}, not_ready=frozenset({"n0"}))  # the canary's new agent crashed after passing
    assert deleted(d) == ["n1"] and run.in_flight() == {"n1"}
    assert "1 upgraded node(s) without a Ready agent take slots of maxUnavailable: n0" in ready(d).message
    d = run.step({"n0", "n1"}, not_ready=frozenset({"n0"}))  # n1 passed; n0 still down: only one slot again
    assert deleted(d) == ["n2"] and run.in_flight() == {"n2"}
    d = run.step({"n0", "n1", "n2"}, not_ready=frozenset({"n0", "n1"}))  # n1 crashed too: nothing starts
    assert deleted(d) == [] and not run.in_flight()
    d = run.step({"n0", "n1", "n2"})  # both came back
    assert deleted(d) == ["n3", "n4"]


def test_batches_mode_holds_a_batch_while_upgraded_nodes_have_no_ready_agent():
    run = Run(rollout={"mode": "Batches"})
    run.through_canary()
    d = run.step({"n0"}, not_ready=frozenset({"n0"}))
    assert deleted(d) == [] and ready(d).reason == "AgentsNotReady"
    assert ready(d).message.startswith("batch 2/4 waits: 1 upgraded node(s) without a Ready agent")
    assert deleted(run.step({"n0"})) == ["n1", "n2"]


def test_the_operator_never_takes_a_node_down_when_agents_that_passed_crashed_meanwhile():
    """Agents that passed crash and recover at random; whatever they do, no deletion of ours leaves more than
    maxUnavailable nodes without a Ready agent."""
    for seed in range(200):
        rng = random.Random(seed)
        plan_spec = spec(rollout={"maxUnavailable": 2, "canary": {"count": 1}})
        state = {f"n{i}": "old" for i in range(NODES)}  # old -> gone -> starting -> new <-> crashed
        decided = decide(plan_spec, UpgradePlanStatus(), observe(NODES), 1).status
        for second in range(1, 400):
            if decided.phase is Phase.succeeded:
                break
            live = [pod(n, NEW if s in ("starting", "new", "crashed") else "rev-old", ready=s in ("old", "new"))
                    for n, s in state.items() if s != "gone"]
            d = decide(plan_spec, decided, observe(NODES, pods=live, owner=PLAN,
                                                   now=T0 + dt.timedelta(seconds=second)), 1)
            decided = d.status
            down_before = sum(s != "old" and s != "new" for s in state.values())
            for node in deleted(d):
                if state[node] == "old":
                    state[node] = "gone"
            down = [n for n, s in state.items() if s not in ("old", "new")]
            assert len(down) <= max(2, down_before), (seed, second, down)
            for node, s in state.items():
                if s == "gone" and rng.random() < 0.5:
                    state[node] = "starting"
                elif s == "starting" and rng.random() < 0.4:
                    state[node] = "new"
                elif s == "new" and rng.random() < 0.05:
                    state[node] = "crashed"
                elif s == "crashed" and rng.random() < 0.3:
                    state[node] = "new"
        assert decided.phase is Phase.succeeded or any(s == "crashed" for s in state.values()), seed


def test_batches_mode_waits_for_the_whole_batch():
    run = Run(rollout={"mode": "Batches"})
    run.through_canary()
    assert deleted(run.step({"n0"})) == ["n1", "n2"]
    # n1 passes, n2 does not yet: nothing new starts
    d = run.step({"n0", "n1", "n2"}, not_ready=frozenset({"n2"}))
    assert deleted(d) == [] and run.in_flight() == {"n2"}
    d = run.step({"n0", "n1", "n2"})
    assert "BatchSucceeded" in reasons(d) and deleted(d) == []
    assert deleted(run.step({"n0", "n1", "n2"})) == ["n3", "n4"]


def test_batch_delay_holds_the_next_batch_in_batches_mode():
    run = Run(rollout={"mode": "Batches", "batchDelaySeconds": 30})
    run.through_canary()
    d = run.step({"n0"})
    assert deleted(d) == [] and d.requeue_after and 25 < d.requeue_after <= 30
    assert ready(d).reason == "BatchDelay" and ready(d).message == "batch 2 starts in 29s"


def test_pause_in_window_mode_lets_nodes_in_flight_finish_and_starts_none():
    run = Run()
    run.through_canary()
    assert deleted(run.step({"n0"})) == ["n1", "n2"]
    run.spec = run.spec.model_copy(update={"paused": True})
    d = run.step({"n0", "n1", "n2"}, not_ready=frozenset({"n2"}))
    assert deleted(d) == [] and run.in_flight() == {"n2"} and d.status.phase is Phase.rolling
    d = run.step({"n0", "n1", "n2"})
    assert deleted(d) == [] and d.status.phase is Phase.paused and not run.in_flight()
    assert ready(d).message == "paused before batch 3; set spec.paused: false"
    run.spec = run.spec.model_copy(update={"paused": False})
    assert deleted(run.step({"n0", "n1", "n2"})) == ["n3", "n4"]


def test_a_failure_in_window_mode_starts_nothing_more():
    run = Run(rollout={"maxUnavailable": 2, "nodeTimeoutSeconds": 10})
    run.through_canary()
    assert deleted(run.step({"n0"})) == ["n1", "n2"]
    run.seconds += 30  # n2 never becomes Ready: past its timeout
    d = run.step({"n0", "n1", "n2"}, not_ready=frozenset({"n2"}))
    assert deleted(d) == [] and d.status.phase is Phase.failed
    assert {r.name: r.state for r in d.status.nodes}["n2"] is NodeState.failed


def test_window_never_exceeds_max_unavailable_with_lost_writes_stale_statuses_and_a_lagging_pod_view():
    """Decisions restart from the last written status (a crash) or an older one (a stale watch event), see pods
    as they were a few events ago (the watch lags our own deletions), and the plan is paused and resumed."""
    for seed in range(200):
        rng = random.Random(seed)
        plan_spec = spec(rollout={"maxUnavailable": 2, "canary": {"count": 1}})
        state = {f"n{i}": "old" for i in range(NODES)}  # old (Ready) -> gone -> starting -> new (Ready)
        seen = [dict(state)]  # what the pod watch showed, event by event
        written = decided = decide(plan_spec, UpgradePlanStatus(), observe(NODES), 1).status
        history = [written]
        for second in range(1, 300):
            if decided.phase is Phase.succeeded:
                break
            if rng.random() < 0.1:
                plan_spec = plan_spec.model_copy(update={"paused": not plan_spec.paused})
            view = seen[max(0, len(seen) - 1 - rng.choice((0, 0, 1, 2)))]
            live = [pod(n, NEW if s in ("starting", "new") else "rev-old", ready=s in ("old", "new"))
                    for n, s in view.items() if s != "gone"]
            luck = rng.random()
            base = decided if luck < 0.7 else written if luck < 0.9 else rng.choice(history)
            d = decide(plan_spec, base, observe(NODES, pods=live, owner=PLAN,
                                                now=T0 + dt.timedelta(seconds=second)), 1)
            decided = d.status
            if rng.random() < 0.5:
                written = decided
                history.append(written)
            for node in deleted(d):
                if state[node] == "old":  # a pod deleted already is not found again
                    state[node] = "gone"
            down = [n for n, s in state.items() if s in ("gone", "starting")]
            assert len(down) <= 2, (seed, second, down)
            for node, s in state.items():  # the DaemonSet controller and the node move on, at random
                if s == "gone" and rng.random() < 0.5:
                    state[node] = "starting"
                elif s == "starting" and rng.random() < 0.4:
                    state[node] = "new"
            seen.append(dict(state))
        assert decided.phase is Phase.succeeded, seed


def test_a_pass_that_changes_no_node_keeps_the_node_results_and_counts_as_they_were():
    """A pass runs on every watch event; most change no node and must not re-sort or re-count the results."""
    run = Run()
    run.through_canary()
    run.step({"n0"})  # n1, n2 in flight
    before = run.status
    d = run.step({"n0"})  # their new pods are not there yet: nothing changes
    assert d.status.nodes is before.nodes and d.status.counts == before.counts
    d = run.step({"n0", "n1"}, not_ready=frozenset({"n1"}))  # n1's new pod exists, not Ready: still nothing
    assert d.status.nodes is before.nodes
    d = run.step({"n0", "n1", "n2"})  # both pass, n3 and n4 start: recounted, in plan order
    assert d.status.counts.upgraded == 3 and d.status.counts.pending == NODES - 3
    assert [r.name for r in d.status.nodes] == ["n0", "n1", "n2", "n3", "n4"]


def test_a_node_removed_from_the_cluster_before_its_turn_takes_no_slot():
    """A scaled-down node has no agent: it must not count as one down, or maxUnavailable 1 waits forever."""
    plan_spec = spec(rollout={"maxUnavailable": 1, "canary": {"count": 0}})
    status = decide(plan_spec, UpgradePlanStatus(), observe(4), 1).status
    new: set[str] = set()
    for second in range(1, 12):
        obs = observe(4, pods=[pod(n, NEW if n in new else "rev-old") for n in ("n0", "n1", "n3")], owner=PLAN,
                      now=T0 + dt.timedelta(seconds=second))
        obs = replace(obs, nodes={n: info for n, info in obs.nodes.items() if n != "n2"})
        d = decide(plan_spec, status, obs, 1)
        status = d.status
        assert len(deleted(d)) <= 1
        new |= set(deleted(d))
        if status.phase is Phase.succeeded:
            break
    assert status.phase is Phase.succeeded and new == {"n0", "n1", "n3"}
