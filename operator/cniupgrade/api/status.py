"""The UpgradePlan's status: phases, node results, check results, conditions, as the operator writes them.

Upgraded nodes travel as one string each (status.upgradedNodes); in memory they are results in nodes.
"""
from __future__ import annotations

import datetime as dt
import os
from enum import Enum
from typing import Annotated

from pydantic import Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer, model_validator

from cniupgrade.api.models import ApiModel, ValuesSource


class Phase(str, Enum):
    pending = "Pending"
    preflight = "Preflight"
    awaiting_approval = "AwaitingApproval"
    waiting = "Waiting"
    migrating = "Migrating"
    pre_pulling = "PrePulling"
    control_plane = "ControlPlane"
    canary = "Canary"
    rolling = "Rolling"
    paused = "Paused"
    succeeded = "Succeeded"
    failed = "Failed"
    rolling_back = "RollingBack"
    rolled_back = "RolledBack"


TERMINAL_PHASES = frozenset({Phase.succeeded, Phase.failed, Phase.rolled_back})


class NodeState(str, Enum):
    pending = "Pending"
    upgrading = "Upgrading"
    upgraded = "Upgraded"
    failed = "Failed"
    rolled_back = "RolledBack"
    removed = "Removed"  # the node left the cluster before its upgrade was done


class Condition(ApiModel):
    type: str
    status: Annotated[str, Field(json_schema_extra={"enum": ["True", "False", "Unknown"]})]
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class CheckResult(ApiModel):
    id: str
    severity: Annotated[str, Field(json_schema_extra={"enum": ["Error", "Warning", "Info"]})]
    result: Annotated[str, Field(json_schema_extra={"enum": ["Passed", "Failed", "Skipped"]})]
    message: str = ""
    remediation: str = ""
    objects: list[str] = Field(default_factory=list, description="Affected objects (at most 20 named).")
    migration: str = Field(default="", description="The migration that fixes it (see spec.migrations).")
    after_upgrade: str = Field(default="", description=(
        "What to do once the upgrade has succeeded; posted then as a FollowUp Event."))


DEFAULT_COMPACT_ABOVE = 2000
# planned nodes: above, upgraded ones travel as position ranges and the plan's names in an UpgradePlanRoster
COMPACT_ABOVE = int(os.environ.get("CNIUPGRADE_COMPACT_ABOVE", DEFAULT_COMPACT_ABOVE))


class ExclusionSummary(ApiModel):
    reason: str
    count: int = 0
    nodes: list[str] = Field(default_factory=list, description="The first few nodes left out for this reason.")


class RosterRef(ApiModel):
    """Where a large plan's node names are (api/roster.py): the UpgradePlanRoster objects <name>-0..<shards - 1>."""
    name: str
    shards: int
    digest: str = Field(description="sha256 of the batch sizes, node order and exclusions the shards hold.")
    batch_sizes: str = Field(description="Batch sizes in rollout order, run-length: '1,10x6499,3'.")


class ComputedPlan(ApiModel):
    batches: list[list[str]] = Field(default_factory=list, description=(
        "Node batches in rollout order (empty when the names are in status.plan.roster)."))
    canary_batches: int = Field(default=0, description="How many leading batches form the canary.")
    excluded: list[str] = Field(default_factory=list, description=(
        "Nodes left out, with why: 'node: reason' (not Ready, unschedulable, no agent pod, selector); in "
        "status.plan.roster instead for large plans."))
    max_unavailable: int = Field(default=1, description="The resolved batch size.")
    excluded_by_reason: list[ExclusionSummary] = Field(default_factory=list, description=(
        "With a roster: the exclusions counted by reason, the first few nodes named."))
    roster: RosterRef | None = Field(default=None, description=(
        f"In plans of more than {DEFAULT_COMPACT_ABOVE} nodes: the UpgradePlanRoster holding the batches' and the "
        "exclusions' names, which would make the status too large for etcd."))


class NodeResult(ApiModel):
    name: str
    state: NodeState
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    def compact(self) -> str:
        """An upgraded node as one string: '<name> <startedAt> <finishedAt>' ('-' for a missing time)."""
        return f"{self.name} {self.started_at or '-'} {self.finished_at or '-'}"

    @classmethod
    def from_compact(cls, compact: str) -> NodeResult:
        name, started, finished = (compact.split(" ") + ["-", "-"])[:3]
        started_at, finished_at = (None if t == "-" else t for t in (started, finished))
        message = upgraded_message(started_at, finished_at) if started_at and finished_at else ""
        return cls(name=name, state=NodeState.upgraded, message=message, started_at=started_at,
                   finished_at=finished_at)


def plan_order(plan: ComputedPlan | dict | None) -> list[str]:
    """Every planned node in rollout order (a plan as a model, or as it is on the wire)."""
    batches = (plan.get("batches") if isinstance(plan, dict) else plan.batches) if plan else None
    return [n for batch in batches or [] for n in batch]


def ranges(sorted_positions: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    parts: list[str] = []
    start = previous = None
    for p in [*sorted_positions, None]:
        if p is not None and previous is not None and p == previous + 1:
            previous = p
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = p
    return ",".join(parts)


def positions(text: str) -> list[int]:
    """'0-2,5,7-8' -> [0, 1, 2, 5, 7, 8]."""
    found: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        found.extend(range(int(first), int(last or first) + 1))
    return found


def upgraded_names(wire: dict) -> list[str]:
    """The upgraded nodes a status names as the API server returns it (camelCase): upgradedNodes and
    upgradedRanges, for readers that do not load the model (kubectl cniupgrade, tests)."""
    order = plan_order(wire.get("plan"))
    return [*(entry.split(" ", 1)[0] for entry in wire.get("upgradedNodes") or []),
            *(order[i] for i in positions(wire.get("upgradedRanges") or ""))]


def parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def upgraded_message(started_at: str, finished_at: str) -> str:
    """An upgraded node's message, from its recorded times: the same when decided and when read back compact."""
    took = parse_time(finished_at) - parse_time(started_at)
    return f"upgraded in {took.total_seconds():.0f}s"


class ChartRelease(ApiModel):
    """The chart path's target, fixed when the plan was computed: what the release is upgraded to, with which
    values (the user's, carried over), and the values that hold the agent at OnDelete meanwhile."""
    release: str
    namespace: str
    chart: str
    version: str
    repository: str = ""
    plain_http: bool = False
    archive: str = Field(default="", description=(
        "<ConfigMap|Secret>/<name>/<key> of the chart archive, in the plan's namespace."))
    digest: str = Field(default="", description="The archive's sha256 pin (spec.chart.digest), checked on each use.")
    values: dict = Field(default_factory=dict, description=(
        "The values the release is upgraded with, but for those read from Secrets (secretValues)."),
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    secret_values: list[ValuesSource] = Field(default_factory=list, description=(
        "Values read from these Secrets again at the upgrade (never copied here), then spec.chart.values on top."))
    secret_values_digest: str = Field(default="", description=(
        "sha256 of the Secrets' values when planned: changed Secrets stop the upgrade."))
    hold_values: dict = Field(default_factory=dict, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    hold_daemon_set: str = Field(default="", description=(
        "Held by a post-renderer instead (a chart with no value for the agent's update strategy): this DaemonSet is "
        "rendered with updateStrategy OnDelete while held."))
    from_revision: int = Field(default=0, description="The release's revision before the plan: a rollback's target.")
    manifest_digest: str = Field(default="", description=(
        "sha256 of what the target chart renders with these values: approval covers it."))


class RollbackRecord(ApiModel):
    """Who asked for a rollback on demand, how and when (read from the plan's managedFields)."""
    source: str = Field(description="spec.rollback or the annotation cniupgrade.io/rollback.")
    requested_by: str = Field(default="", description=(
        "The field manager that set it (e.g. kubectl-annotate, argocd-controller); the user is in the audit log."))
    requested_at: str | None = None
    reason: str = Field(default="", description="The annotation's value.")
    phase: str = Field(default="", description="The phase the plan was in when asked.")


class Counts(ApiModel):
    """Every agent node, once: total = planned + excluded + notReady; planned = upgraded + failed + rolledBack +
    removed + pending."""
    total: int = Field(default=0, description=(
        "The DaemonSet's nodes when planned: those with an agent pod and those it should run one on."))
    planned: int = Field(default=0, description="Nodes in the plan's batches.")
    upgraded: int = 0
    failed: int = 0
    rolled_back: int = 0
    removed: int = Field(default=0, description="Planned nodes that left the cluster before they were done.")
    pending: int = Field(default=0, description="Planned nodes not done yet (in flight or not started).")
    excluded: int = Field(default=0, description="Left out, each named with why in status.plan.excluded.")
    not_ready: int = Field(default=0, description=(
        "NotReady when planned: waited for (spec.rollout.notReadyNodes), then skipped by policy; named in "
        "status.plan.excluded."))


class UpgradePlanStatus(ApiModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    conditions: list[Condition] = Field(default_factory=list)
    from_version: str | None = Field(default=None, description="Version detected before the upgrade.")
    target_images: dict[str, str] = Field(default_factory=dict, description="Container name to target image.")
    previous_images: dict[str, str] = Field(default_factory=dict, description="Container name to previous image.")
    previous_revision: str | None = Field(default=None, description=(
        "The hash of the DaemonSet's ControllerRevision before the plan took it: a chart plan's rollback restores "
        "its template."))
    original_update_strategy: dict | None = Field(
        default=None, description="The DaemonSet's update strategy before the upgrade, restored at the end.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    checks: list[CheckResult] = Field(default_factory=list, description="Pre-flight results, in the vendor's order.")
    chart: ChartRelease | None = Field(default=None, description="spec.chart: the release's target.")
    plan: ComputedPlan | None = None
    nodes: list[NodeResult] = Field(default_factory=list, description=(
        "Nodes in flight, failed or rolled back (pending ones are not listed, upgraded ones are in upgradedNodes)."))
    upgraded_nodes: list[str] = Field(default_factory=list, description=(
        "Upgraded nodes, one string each: '<name> <startedAt> <finishedAt>'. One value per node, not five: the API "
        "server's cost of every status write grows with the values the object holds (at 1000 nodes: 98 ms as "
        "objects, 28 ms as strings). In memory they are results in nodes; this field is their form on the wire."))
    upgraded_ranges: str = Field(default="", description=(
        f"In plans of more than {DEFAULT_COMPACT_ABOVE} nodes, the upgraded ones instead: their positions in plan order "
        "(status.plan.batches, flattened) as ranges, '0-4999,5001-64999', without per-node times."))
    counts: Counts = Field(default_factory=Counts)
    progress: str = Field(default="", description=(
        "upgraded/planned, for kubectl get, and how many agent nodes the plan left out (excluded or NotReady)."))
    current_batch: int | None = Field(default=None, description="0 is the canary, 1.. the later batches.")
    started_at: str | None = None
    last_progress_at: str | None = None
    completed_at: str | None = None
    last_batch_finished_at: str | None = None
    old_pods: list[str] | None = Field(default=None, description=(
        "After the upgrade (uk8s-cni-vpc): pods created on a node before its upgrade, which keep the old network "
        "features until recreated (at most 50 named)."))
    old_pods_count: int | None = None
    restarted_workloads: list[str] = Field(default_factory=list, description="Workloads restarted for them.")
    restart_held: str | None = Field(default=None, description=(
        "With spec.uk8s.restartOldPods: why the restart waits (ipamd's pools hold fewer free IPs than the "
        "restarted workloads' surge needs); re-checked every few seconds until it can go."))
    spec_hash: str | None = Field(default=None, description="Digest of the spec the plan was computed for; "
                                  "a changed spec on a finished or waiting plan plans again.")
    deferred_spec_hash: str | None = Field(default=None, description=(
        "The specHash of a change made while the rollout ran (said once in a SpecChangeDeferred Event): the plan "
        "plans for it when the rollout ends."))
    approved_spec_hash: str | None = Field(default=None, description=(
        "With requireApproval: the specHash spec.approved was given for. A spec changed after its approval (a new "
        "targetVersion with approved: true left in git) waits for approved to be set false, then true again."))
    last_handled_retry: str | None = Field(default=None, description=(
        "The value of the cniupgrade.io/retry annotation last acted on: a Failed or RolledBack plan whose "
        "annotation differs plans again from the cluster as it is."))
    rollback: RollbackRecord | None = Field(default=None, description="A rollback on demand, once asked for.")
    last_handled_rollback: str | None = Field(default=None, description=(
        "The rollback request last acted on (spec.rollback, or the annotation's value): kept across a retry, so "
        "a retried plan is not rolled back again by the same request."))

    @model_validator(mode="before")
    @classmethod
    def _expand_upgraded(cls, data):
        """upgradedNodes and upgradedRanges become results in nodes, in plan order as the loop keeps them (so a
        status read back equals the one written). A status written before upgradedNodes existed listed them in
        nodes."""
        if not isinstance(data, dict):
            return data
        key = "upgradedNodes" if "upgradedNodes" in data else "upgraded_nodes"
        ranges_key = "upgradedRanges" if "upgradedRanges" in data else "upgraded_ranges"
        if not data.get(key) and not data.get(ranges_key):
            return data
        data = dict(data)
        order = plan_order(data.get("plan"))
        merged = [*(data.get("nodes") or []), *(NodeResult.from_compact(c) for c in data.pop(key, None) or []),
                  *(NodeResult(name=order[i], state=NodeState.upgraded)
                    for i in positions(data.pop(ranges_key, None) or ""))]
        position = {name: i for i, name in enumerate(order)}
        merged.sort(key=lambda r: position.get(r["name"] if isinstance(r, dict) else r.name, len(position)))
        data["nodes"] = merged
        return data

    @model_serializer(mode="wrap")
    def _compact_upgraded(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict:
        data = handler(self)
        if "nodes" in data and any(r.state is NodeState.upgraded for r in self.nodes):
            data["nodes"] = [d for r, d in zip(self.nodes, data["nodes"]) if r.state is not NodeState.upgraded]
            upgraded = [r for r in self.nodes if r.state is NodeState.upgraded]
            order = plan_order(self.plan)
            position = {name: i for i, name in enumerate(order)} if len(order) > COMPACT_ABOVE else {}
            data["upgradedNodes" if info.by_alias else "upgraded_nodes"] = [
                r.compact() for r in upgraded if r.name not in position]
            data["upgradedRanges" if info.by_alias else "upgraded_ranges"] = ranges(
                sorted(position[r.name] for r in upgraded if r.name in position))
        return data
