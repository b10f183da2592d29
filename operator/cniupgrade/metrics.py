"""Prometheus metrics of the plans, derived from their status after every reconcile.

Label sets are bounded: a plan (namespace, name), a phase from a fixed enum, a node state from a fixed enum,
a finding severity from a fixed enum. Node names are never labels.
"""
from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cniupgrade.api.status import Counts, NodeResult, Phase, UpgradePlanStatus, parse_time

REGISTRY = CollectorRegistry(auto_describe=True)
PLAN = ("namespace", "plan")
SEVERITIES = ("Error", "Warning", "Info")

plan_phase = Gauge("cniupgrade_plan_phase", "1 for the plan's current phase, 0 for the others.",
                   PLAN + ("phase",), registry=REGISTRY)
nodes = Gauge("cniupgrade_nodes", "Nodes of the plan by state (total, upgraded, failed, pending).",
              PLAN + ("state",), registry=REGISTRY)
last_progress = Gauge("cniupgrade_last_progress_timestamp_seconds",
                      "When a node of the plan last changed state (Unix time); 0 before the first.", PLAN,
                      registry=REGISTRY)
started = Gauge("cniupgrade_rollout_started_timestamp_seconds", "When the rollout took the DaemonSet (Unix time).",
                PLAN, registry=REGISTRY)
stalled = Gauge("cniupgrade_plan_stalled", "1 while the plan's Stalled condition is True (it needs someone).", PLAN,
                registry=REGISTRY)
findings = Gauge("cniupgrade_preflight_findings", "Failed pre-flight checks by severity.", PLAN + ("severity",),
                 registry=REGISTRY)
tainted_nodes = Gauge("cniupgrade_tainted_nodes",
                      "Nodes carrying the plan's in-flight taint (cniupgrade.io/upgrading) now.", PLAN,
                      registry=REGISTRY)
change_freeze = Gauge("cniupgrade_change_freeze",
                      "1 for the change freeze in force for the plan (mode Warn or Deny), 0 for the others.",
                      PLAN + ("mode",), registry=REGISTRY)
FREEZE_MODES = ("Warn", "Deny")
node_duration = Histogram("cniupgrade_node_upgrade_duration_seconds",
                          "From a node's old agent pod deletion to its health gate passing.", ("plugin",),
                          buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800), registry=REGISTRY)
reconcile_passes = Counter("cniupgrade_reconcile_passes_total",
                           "Reconcile passes (one per relevant watch event or due deadline, coalesced).", PLAN,
                           registry=REGISTRY)
pass_seconds = Histogram(
    "cniupgrade_reconcile_pass_seconds",
    "Reconcile passes by part: waited (a watched change seen -> its pass began), observe (caches and any pre-flight), "
    "decide, act (actions and the status write).", ("part",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)
reconcile_errors = Counter("cniupgrade_reconcile_errors_total", "Reconcile passes that failed and were retried.",
                           PLAN, registry=REGISTRY)


def _timestamp(text: str | None) -> float:
    return parse_time(text).timestamp() if text else 0.0


_last_set: dict[tuple[str, str], tuple] = {}  # plan -> the gauge values this process last set for it


def observe(namespace: str, name: str, plugin: str, status: UpgradePlanStatus,
            newly_upgraded: Iterable[NodeResult] = (), tainted: int = 0, freeze: str = "Off") -> None:
    """Set the plan's gauges from its new status; time the nodes the pass upgraded. Runs after every pass: a
    1000-node plan's pass must not walk its nodes (0.27 ms) or re-set unchanged gauges (1.5 ms each). The nodes
    are timed first, so a scrape that shows the plan Succeeded also shows every node's time."""
    for result in newly_upgraded:
        if result.started_at:
            node_duration.labels(plugin).observe(_timestamp(result.finished_at) - _timestamp(result.started_at))
    _set_gauges(namespace, name, status, tainted, freeze)


NODE_STATES = ("total", "planned", "upgraded", "failed", "rolledBack", "removed", "pending", "excluded", "notReady")


def node_counts(counts: Counts) -> dict[str, int]:
    """The state label of cniupgrade_nodes -> its value (status.counts, by its field names on the wire)."""
    wire = counts.model_dump(by_alias=True)
    return {state: wire[state] for state in NODE_STATES}


def _set_gauges(namespace: str, name: str, status: UpgradePlanStatus, tainted: int, freeze: str) -> None:
    failed = [c.severity for c in status.checks if c.result == "Failed"]
    is_stalled = any(c.type == "Stalled" and c.status == "True" for c in status.conditions)
    values = (status.phase, status.counts, status.last_progress_at, status.started_at, tuple(failed), is_stalled,
              tainted, freeze)
    if _last_set.get((namespace, name)) == values:
        return
    _last_set[(namespace, name)] = values
    for phase in Phase:
        plan_phase.labels(namespace, name, phase.value).set(1 if status.phase is phase else 0)
    counts = status.counts
    for state, value in node_counts(counts).items():
        nodes.labels(namespace, name, state).set(value)
    last_progress.labels(namespace, name).set(_timestamp(status.last_progress_at))
    stalled.labels(namespace, name).set(is_stalled)
    started.labels(namespace, name).set(_timestamp(status.started_at))
    tainted_nodes.labels(namespace, name).set(tainted)
    for mode in FREEZE_MODES:
        change_freeze.labels(namespace, name, mode).set(1 if freeze == mode else 0)
    for severity in SEVERITIES:
        findings.labels(namespace, name, severity).set(failed.count(severity))


def error(namespace: str, name: str) -> None:
    reconcile_errors.labels(namespace, name).inc()


def forget(namespace: str, name: str) -> None:
    """A deleted plan leaves no stale series behind."""
    _last_set.pop((namespace, name), None)
    for gauge, extra in ((plan_phase, [p.value for p in Phase]), (nodes, list(NODE_STATES)),
                         (findings, list(SEVERITIES)), (change_freeze, list(FREEZE_MODES))):
        for value in extra:
            try:
                gauge.remove(namespace, name, value)
            except KeyError:
                pass
    for metric in (last_progress, started, stalled, reconcile_errors, reconcile_passes, tainted_nodes):
        try:
            metric.remove(namespace, name)
        except KeyError:
            pass
