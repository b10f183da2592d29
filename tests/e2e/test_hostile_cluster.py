"""A hostile cluster under a running plan: random, seeded changes by others while it rolls (agent pods deleted,
nodes cordoned, added and removed, the DaemonSet edited, the plan paused, resumed and relabelled). Whatever the
sequence, the plan ends Succeeded and:
- no node is upgraded twice: the operator deletes at most one agent pod per node, and never one on the target;
- no pod is replaced while its gate is closed: the canary is alone and Ready first, the operator's own nodes in
  flight never exceed maxUnavailable, and it starts no node while the plan is paused;
- every node accounted: each node of the plan has one end state, the counts add up, and every node left runs the
  target agent. A failure prints the seed and the sequence; CNIUPGRADE_FUZZ_SEEDS=7,8 replays chosen seeds.
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from localcluster import nodes as sim_nodes
from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, assert_accounted, create_agent, end_states
from tests.e2e.recorder import PodRecorder

SEEDS = [int(s) for s in os.environ.get("CNIUPGRADE_FUZZ_SEEDS", "20261203,5").split(",")]
MAX_UNAVAILABLE = 3
PAUSE_SLACK = 2.0  # a pass decided before the pause was seen may still start its node; the watch lags under load
ADDED_FROM = 900  # node-0900...: nodes the fuzz adds


@dataclass
class Hostility:
    """What others did to the cluster, with monotonic times: the recorder's timeline is judged against it."""
    log: list[tuple[float, str]] = field(default_factory=list)
    deleted_pods: set[str] = field(default_factory=set)
    removed_nodes: dict[str, float] = field(default_factory=dict)
    added_nodes: set[str] = field(default_factory=set)
    cordoned: set[str] = field(default_factory=set)
    paused: list[list[float]] = field(default_factory=list)  # [start, end]

    def did(self, what: str) -> None:
        self.log.append((time.monotonic(), what))

    def story(self) -> str:
        start = self.log[0][0] if self.log else 0
        return "\n".join(f"  t={t - start:7.3f} {what}" for t, what in self.log)


class Adversary:
    def __init__(self, api: client.ApiClient, namespace: str, plans, rng: random.Random):
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.namespace, self.plans, self.rng = namespace, plans, rng
        self.h = Hostility()
        self.originals = [sim_nodes.node_name(i) for i in range(E2E_NODES)]
        self._next_added = ADDED_FROM

    def act(self) -> None:
        moves = [self.delete_agent_pod, self.cordon, self.uncordon, self.add_node, self.remove_node,
                 self.edit_daemonset, self.pause_and_resume, self.relabel_plan]
        weights = [5, 2, 1, 2, 1, 2, 1, 1]
        self.rng.choices(moves, weights)[0]()

    def delete_agent_pod(self) -> None:
        pods = [p for p in self.core.list_namespaced_pod(self.namespace, label_selector=AGENT_SELECTOR).items
                if not p.metadata.deletion_timestamp and p.spec.node_name]
        if pods:
            pod = self.rng.choice(sorted(pods, key=lambda p: p.metadata.name))
            self.h.deleted_pods.add(pod.metadata.uid)
            self.h.did(f"delete agent pod on {pod.spec.node_name}")
            try:
                self.core.delete_namespaced_pod(pod.metadata.name, self.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise

    def _present(self) -> list[str]:
        return sorted(n for n in self.originals + sorted(self.h.added_nodes) if n not in self.h.removed_nodes)

    def cordon(self) -> None:
        name = self.rng.choice(self._present())
        self.h.cordoned.add(name)
        self.h.did(f"cordon {name}")
        self.core.patch_node(name, {"spec": {"unschedulable": True}})

    def uncordon(self) -> None:
        if self.h.cordoned:
            name = self.rng.choice(sorted(self.h.cordoned))
            self.h.cordoned.discard(name)
            if name not in self.h.removed_nodes:
                self.h.did(f"uncordon {name}")
                self.core.patch_node(name, {"spec": {"unschedulable": False}})

    def add_node(self) -> None:
        index, self._next_added = self._next_added, self._next_added + 1
        name = sim_nodes.node_name(index)
        self.h.added_nodes.add(name)
        self.h.did(f"add {name}")
        self.core.create_node(sim_nodes.manifest(index))

    def remove_node(self) -> None:
        present = self._present()
        if len(present) > E2E_NODES // 2:
            name = self.rng.choice(present)
            self.h.removed_nodes[name] = time.monotonic()
            self.h.did(f"remove {name}")
            self.core.delete_node(name)

    def edit_daemonset(self) -> None:
        """Someone else's edits that are not the template: labels, annotations, the revision history."""
        value = str(self.rng.randint(1, 10**6))
        if self.rng.random() < 0.5:
            self.h.did(f"label and annotate the DaemonSet ({value})")
            body = {"metadata": {"labels": {"team.example.com/touched": value},
                                 "annotations": {"team.example.com/note": value}}}
        else:
            limit = self.rng.randint(5, 12)
            self.h.did(f"DaemonSet revisionHistoryLimit {limit}")
            body = {"spec": {"revisionHistoryLimit": limit}}
        self.apps.patch_namespaced_daemon_set("cni-agent", self.namespace, body)

    def pause_and_resume(self) -> None:
        self.h.did("pause the plan")
        self.plans.patch_spec(paused=True)
        window = [time.monotonic(), 0.0]
        time.sleep(self.rng.uniform(3.0, 5.0))
        window[1] = time.monotonic()
        self.h.paused.append(window)
        self.h.did("resume the plan")
        self.plans.patch_spec(paused=False)

    def relabel_plan(self) -> None:
        value = str(self.rng.randint(1, 10**6))
        self.h.did(f"label the plan ({value})")
        self.plans.custom.patch_namespaced_custom_object(
            "cniupgrade.io", "v1alpha1", self.namespace, "upgradeplans", "upgrade",
            {"metadata": {"labels": {"team.example.com/touched": value}}})

    def make_peace(self) -> None:
        """The cluster as other tests expect it: removed nodes back, added ones gone, none cordoned."""
        for name in self.h.added_nodes:
            try:
                self.core.delete_node(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        for name in self.h.removed_nodes:
            if name in self.originals:
                self.core.create_node(sim_nodes.manifest(self.originals.index(name)))
        for name in self.h.cordoned - set(self.h.removed_nodes) - self.h.added_nodes:
            self.core.patch_node(name, {"spec": {"unschedulable": False}})
        wait_for(lambda: all(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
                             for n in self.core.list_node().items if n.metadata.name in self.originals)
                 and len(self.core.list_node().items) == E2E_NODES, 60, "the original nodes back and Ready")


def judge(recorder: PodRecorder, h: Hostility, target: str, canary: str) -> list[str]:
    """The operator's deletions, told apart from the adversary's and the pod GC's, against the promises."""
    problems: list[str] = []
    first_seen: dict[str, tuple[float, str, str]] = {}  # uid -> (deleted at, node, revision)
    for e in recorder.events:
        if e.node and (e.deleting or e.kind == "DELETED") and e.uid not in first_seen:
            first_seen[e.uid] = (e.at, e.node, e.revision)
    ours = sorted((at, node, revision) for uid, (at, node, revision) in first_seen.items()
                  if uid not in h.deleted_pods and not (node in h.removed_nodes and at >= h.removed_nodes[node] - 0.5))
    per_node: dict[str, int] = {}
    for at, node, revision in ours:
        per_node[node] = per_node.get(node, 0) + 1
        if revision == target:
            problems.append(f"the operator deleted {node}'s agent on the target revision (upgraded twice)")
        if any(start + PAUSE_SLACK < at <= end for start, end in h.paused):
            problems.append(f"{node} started while the plan was paused")
    problems += [f"{node}: {count} agent pods deleted by the operator" for node, count in per_node.items() if count > 1]
    if canary not in h.removed_nodes:
        if ours and ours[0][1] != canary:
            problems.append(f"the first node started was {ours[0][1]}, not the canary {canary}")
        canary_ready = recorder.first_ready_at(canary, target) or float("inf")
        if any(at < canary_ready for at, node, _ in ours if node != canary):
            problems.append("a node started before the canary was Ready on the target")
    # the operator's nodes in flight: from its deletion to the node's first Ready pod on the target
    intervals = []
    for at, node, _ in ours:
        ready = next((e.at for e in recorder.events if e.node == node and e.revision == target and e.ready
                      and e.at >= at), float("inf"))
        ends = min(ready, h.removed_nodes.get(node, float("inf")))
        intervals.append((at, ends, node))
    for at, _, node in intervals:
        flying = [n for start, end, n in intervals if start <= at < end]
        if len(flying) > MAX_UNAVAILABLE:
            problems.append(f"{len(flying)} of the operator's nodes in flight at once (max {MAX_UNAVAILABLE}): "
                            f"{sorted(flying)}")
    return problems


@pytest.mark.parametrize("seed", SEEDS)
def test_a_plan_keeps_its_promises_under_a_hostile_cluster(admin_api, namespace, operator, plans, seed):
    rng = random.Random(seed)
    core = client.CoreV1Api(admin_api)
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    adversary = Adversary(admin_api, namespace, plans, rng)
    try:
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": MAX_UNAVAILABLE, "canary": {"count": 1},
                                  "nodeTimeoutSeconds": 120})
            planned = wait_for(lambda: (plans.status().get("plan") or {}).get("batches"), 60, "the plan computed")
            canary = planned[0][0]
            deadline = time.monotonic() + 300
            while plans.status().get("phase") not in ("Succeeded", "Failed", "RolledBack"):
                assert time.monotonic() < deadline, f"seed {seed}: no end in 300 s\n{adversary.h.story()}"
                adversary.act()
                time.sleep(rng.uniform(0.2, 0.8))
            status = plans.wait_phase("Succeeded", "Failed", "RolledBack", timeout=10)
            time.sleep(1.0)  # the last pods' events
        story = f"seed {seed}, what others did:\n{adversary.h.story()}"
        assert status["phase"] == "Succeeded", (status.get("conditions"), story)
        revisions = client.AppsV1Api(admin_api).list_namespaced_controller_revision(
            namespace, label_selector=AGENT_SELECTOR).items
        target = max(revisions, key=lambda r: r.revision).metadata.labels["controller-revision-hash"]
        problems = judge(recorder, adversary.h, target, canary)
        assert not problems, "\n".join(problems) + "\n" + story
        # every node of the plan has one end state: all the original ones, and the added ones (planned afresh
        # before the rollout started, joining after its last batch since); the removed ones ended Removed or Upgraded
        joined = set(end_states(status)) & adversary.h.added_nodes
        states = assert_accounted(status, set(adversary.originals) | joined)
        assert all(states[n] in ("Removed", "Upgraded") for n in adversary.h.removed_nodes if n in states), story
        # every node still there runs the target agent, one that joined with the previous agent (between the plan
        # and the DaemonSet's take) too: it joined the plan at its end
        present = {n.metadata.name for n in core.list_node().items}

        def on_previous() -> tuple[set[str]] | None:
            """(the nodes whose agent is not on the target,) once every node has one: a tuple, as the set may be
            empty and wait_for waits for a true value."""
            pods = core.list_namespaced_pod(namespace, label_selector=AGENT_SELECTOR).items
            by_node = {p.spec.node_name: p for p in pods if p.spec.node_name and not p.metadata.deletion_timestamp}
            if not present <= set(by_node):
                return None  # the DaemonSet controller is still filling a node
            return ({n for n in present if by_node[n].metadata.labels.get("controller-revision-hash") != target},)
        (left,) = wait_for(on_previous, 60, f"a pod on each node\n{story}")
        assert not left, (left, story)
    finally:
        adversary.make_peace()
