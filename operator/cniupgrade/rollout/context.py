"""The working state of one reconcile decision and its helpers (events, deadlines, node results, the end).

Each step of the decision (rollout/steps/) is a function of a Context: it reads the plan and what was observed,
adds actions and events, and either ends the decision (returns Context.finish()) or lets the next step go on."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from cniupgrade.api import conditions as cond
from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import (TERMINAL_PHASES, ComputedPlan, Counts, NodeResult, NodeState, Phase,
                                   UpgradePlanStatus)
from cniupgrade.memo import last_by_identity
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.layout import layout_of
from cniupgrade.rollout.node_results import NodeResults
from cniupgrade.rollout.observation import Observation
from cniupgrade.rollout.planner import not_ready_when_planned
from cniupgrade.rollout.rollback_request import RollbackRequest

RECHECK_SECONDS = 30.0


@dataclass
class Decision:
    status: UpgradePlanStatus
    actions: list[act.Action] = field(default_factory=list)
    events: list[act.Event] = field(default_factory=list)
    requeue_after: float | None = None  # seconds until a time-based condition (timeout, window, delay) is due
    newly_upgraded: list[NodeResult] = field(default_factory=list)  # the nodes this decision passed
    tainted: int = 0  # nodes carrying the plan's in-flight taint once the actions ran
    freeze: str = "Off"  # the change freeze in force once the actions ran


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@last_by_identity
def spec_digest(spec: UpgradePlanSpec) -> str:
    """What shapes the plan; approval, pause, the window and a rollback request do not re-plan."""
    # Defaults left out: a field added later (with its default) does not make every finished plan plan again.
    shaping = spec.model_dump(mode="json", exclude={"approved", "paused", "window", "rollback"}, exclude_defaults=True)
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


def with_left_out(planned: Counts, plan: ComputedPlan | None) -> Counts:
    """The counts of the planned nodes, completed with the agent nodes the plan left out."""
    not_ready = len(not_ready_when_planned(plan)) if plan else 0
    excluded = len(plan.excluded) - not_ready if plan else 0
    return planned.model_copy(update={"excluded": excluded, "not_ready": not_ready,
                                      "total": planned.planned + excluded + not_ready})


def degraded_by_nodes(counts: Counts) -> tuple[bool, str, str]:
    """The Degraded condition as the planned nodes set it: (status, reason, message)."""
    if counts.failed:
        return True, "NodesFailed", f"{counts.failed} node(s) failed their health gate" + (
            f"; {counts.rolled_back} node(s) rolled back" if counts.rolled_back else "")
    if counts.rolled_back:
        return True, "NodesRolledBack", f"{counts.rolled_back} node(s) rolled back to the previous version"
    return False, "AllNodesHealthy", ""


def progress(counts: Counts) -> str:
    """'7/7', or '7/7 (+2 left out)' when agent nodes were excluded or NotReady: never a silent full score."""
    left_out = counts.excluded + counts.not_ready
    return f"{counts.upgraded}/{counts.planned}" + (f" (+{left_out} left out)" if left_out else "")


class Context:
    """One decision. Mutates its working copies only; `decide()` returns the result."""

    def __init__(self, spec: UpgradePlanSpec, status: UpgradePlanStatus, obs: Observation, generation: int,
                 retry: str | None = None, rollback: RollbackRequest | None = None):
        self.spec, self.obs, self.generation, self.retry = spec, obs, generation, retry
        self.rollback = rollback  # a rollback asked for on demand (handled or not)
        self.status = self.initial = status
        self.now = iso(obs.now)
        self.digest = spec_digest(spec)
        # The rollout runs (the DaemonSet was taken and the plan has not ended): the steps before it are done.
        self.running = bool(status.started_at) and status.phase not in TERMINAL_PHASES
        self.actions: list[act.Action] = []
        self.events: list[act.Event] = []
        self.requeue: float | None = None
        self.nodes = NodeResults(status.nodes)  # this decision's working copy
        self.left_behind: list[str] = []  # nodes outside the plan still on the previous agent, at its end
        self.in_flight: set[str] | None = None  # set by a rollback: its nodes being replaced (else: Upgrading)

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(act.Event("Warning" if warning else "Normal", reason, message))

    def wake_in(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)

    def node_update(self, name: str, state: NodeState, message: str = "", **times: str) -> None:
        old = self.nodes.get(name)
        if old and old.state is state and old.message == message:
            return
        fields = {"started_at": old.started_at if old else None, "finished_at": old.finished_at if old else None}
        fields.update(times)
        self.nodes.put(NodeResult(name=name, state=state, message=message, **fields))
        self.status = self.status.model_copy(update={"last_progress_at": self.now})

    def finish(self, phase: Phase, reason: str, message: str, blocked: bool = False) -> Decision:
        results, counts = self._results()
        conditions = cond.lifecycle_conditions(self.status.conditions, phase, reason, message, self.now,
                                               self.generation, blocked)
        conditions = cond.set_condition(conditions, cond.DEGRADED, *degraded_by_nodes(counts), self.now,
                                        self.generation)
        if self.left_behind:
            conditions = cond.set_condition(
                conditions, cond.DEGRADED, True, "NodesLeftOnPreviousVersion",
                f"{len(self.left_behind)} node(s) left out of the plan still run the previous agent: "
                f"{', '.join(self.left_behind[:20])}{' ...' if len(self.left_behind) > 20 else ''}; the DaemonSet "
                f"stays OnDelete so that none is replaced ungated (a new plan upgrades them)", self.now,
                self.generation)
        if phase in TERMINAL_PHASES and not self.status.completed_at:
            self.status = self.status.model_copy(update={"completed_at": self.now})
        status = self.status.model_copy(update={
            "observed_generation": self.generation, "phase": phase, "conditions": conditions,
            "nodes": results, "counts": counts, "progress": progress(counts)})
        if phase is not self.initial.phase:
            self.event(f"Phase{phase.value}", message or phase.value, warning=phase in {Phase.failed,
                                                                                       Phase.rolled_back})
        return Decision(status, self.actions, self.events, self.requeue, self.nodes.newly_upgraded())

    def _results(self) -> tuple[list[NodeResult], Counts]:
        """Node results in plan order, and their counts. Most passes change no node: those keep the last ones."""
        plan = self.status.plan
        if not self.nodes.changed and self.nodes.listed is self.initial.nodes and plan is not None \
                and plan is self.initial.plan and "planned" in self.initial.counts.model_fields_set:
            return self.initial.nodes, self.initial.counts
        results, counts = self.nodes.listing(layout_of(plan))
        return results, with_left_out(counts, plan)

    def last_reason(self) -> str:
        ready = next((c for c in self.status.conditions if c.type == cond.READY), None)
        return ready.reason if ready else "Unknown"

    def last_message(self) -> str:
        ready = next((c for c in self.status.conditions if c.type == cond.READY), None)
        return ready.message if ready else ""
