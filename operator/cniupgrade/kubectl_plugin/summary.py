"""What `status` prints, from the plan as the API server returns it (camelCase JSON): pure text, no API calls.

Three forms: the status block; one line per change (--watch to a log); a screen redrawn in place (--watch on a
terminal), the block with a grid of the planned nodes as demo/live.py draws it."""
from __future__ import annotations

from cniupgrade.api.status import upgraded_names
from cniupgrade.kubectl_plugin.ended import TERMINAL, condition
COUNT_FIELDS = ("total", "planned", "upgraded", "failed", "rolledBack", "removed", "pending", "excluded", "notReady")
SYMBOLS = {"Pending": ".", "Upgrading": "~", "Upgraded": "#", "Failed": "X", "RolledBack": "<", "Removed": "-"}
LEGEND = "  . pending   ~ upgrading   # upgraded   X failed   < rolled back   - removed"
NAMED = 10  # names listed per line before '+N more'
LABEL_WIDTH = 14


def names(items: list[str], none: str = "-", limit: int = NAMED) -> str:
    if not items:
        return none
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def results(status: dict, state: str) -> list[dict]:
    return [r for r in status.get("nodes") or [] if r.get("state") == state]


def batch_text(status: dict) -> str:
    """'canary 1/5', 'batch 3/5' (as the operator's Events count them), or '-' before the first."""
    plan, current = status.get("plan") or {}, status.get("currentBatch")
    batches = plan.get("batches") or []
    if current is None or not batches:
        return "-"
    label = "canary" if current < (plan.get("canaryBatches") or 0) else "batch"
    return f"{label} {current + 1}/{len(batches)}"


def current_batch_nodes(status: dict) -> list[str]:
    current, batches = status.get("currentBatch"), (status.get("plan") or {}).get("batches") or []
    return batches[current] if current is not None and 0 <= current < len(batches) else []


def plan_shape(status: dict) -> str:
    """'5 batches (1 canary), at most 3 node(s) each', once the plan is computed."""
    plan = status.get("plan") or {}
    if not plan.get("batches"):
        return ""
    return (f"{len(plan['batches'])} batches ({plan.get('canaryBatches') or 0} canary), at most "
            f"{plan.get('maxUnavailable') or 1} node(s) each")


def counts_text(status: dict) -> str:
    counts = status.get("counts") or {}
    return "  ".join(f"{key} {counts.get(key, 0)}" for key in COUNT_FIELDS)


def spec_flags(spec: dict, status: dict) -> str:
    flags = [flag for flag, on in (("paused", spec.get("paused")), ("rollback asked", spec.get("rollback")),
                                   ("spec changed: planned when this rollout ends",
                                    status.get("deferredSpecHash") and status.get("phase") not in TERMINAL)) if on]
    if spec.get("requireApproval"):
        flags.append("approved" if spec.get("approved") else "requires approval, not approved")
    return ", ".join(flags)


def describe(plan: dict) -> str:
    """The status block: phase, progress, batch, nodes in flight and failed, counts, the conditions that say why."""
    meta, spec, status = plan.get("metadata") or {}, plan.get("spec") or {}, plan.get("status") or {}
    ready, degraded, rollback = condition(status, "Ready"), condition(status, "Degraded"), status.get("rollback")
    failed = results(status, "Failed")
    batch = batch_text(status) + (f" ({names(current_batch_nodes(status))})" if current_batch_nodes(status) else "")
    times = ", ".join(f"{label} {status[key]}" for key, label in (("startedAt", "started"),
                                                                  ("completedAt", "completed")) if status.get(key))
    rows = [("phase", status.get("phase") or "Pending (not seen by the operator yet)"),
            ("progress", f"{status.get('progress') or '-'} upgraded"),
            ("batch", batch if status.get("phase") not in TERMINAL else ""),
            ("plan", plan_shape(status)),
            ("in flight", names([r["name"] for r in results(status, "Upgrading")])),
            ("failed", names([r["name"] for r in failed])),
            *((f"  {r['name']}", r.get("message", "")) for r in failed[:NAMED]),
            ("rolled back", names([r["name"] for r in results(status, "RolledBack")], "")),
            ("removed", names([r["name"] for r in results(status, "Removed")], "")),
            ("counts", counts_text(status)),
            ("ready", ready and f"{ready.get('status')} {ready.get('reason')}: {ready.get('message', '')}"),
            ("degraded", degraded.get("status") == "True" and f"{degraded.get('reason')}: {degraded.get('message')}"),
            ("spec", spec_flags(spec, status)),
            ("restart held", status.get("restartHeld")),
            ("rollback", rollback and (
                f"asked through {rollback.get('source')} by {rollback.get('requestedBy') or '?'} at "
                f"{rollback.get('requestedAt') or '?'} in phase {rollback.get('phase') or '?'}"
                + (f": {rollback['reason']}" if rollback.get("reason") else ""))),
            ("times", times)]
    head = (f"UpgradePlan {meta.get('namespace')}/{meta.get('name')}: {spec.get('plugin', '?')} "
            f"{status.get('fromVersion') or '?'} -> {spec.get('targetVersion', '?')}")
    return "\n".join([head, *(f"  {label + ':':<{LABEL_WIDTH}}{value}" for label, value in rows if value)])


def change_line(plan: dict) -> str:
    """One line for a log (--watch, not a terminal), without its time: printed when it differs from the last."""
    status = plan.get("status") or {}
    ready = condition(status, "Ready")
    in_flight = [r["name"] for r in results(status, "Upgrading")]
    failed = [r["name"] for r in results(status, "Failed")]
    return (f"phase={status.get('phase') or 'Pending'} upgraded={status.get('progress') or '-'} "
            f"batch={batch_text(status).removeprefix('batch ').replace(' ', ':')} "
            f"in-flight={','.join(in_flight) or '-'} failed={','.join(failed) or '-'} "
            f"{ready.get('reason', '')}: {ready.get('message', '')}").rstrip(": ")


def node_states(status: dict) -> dict[str, str]:
    """Every planned node's state, Pending unless the status names it."""
    states = {n: "Pending" for batch in (status.get("plan") or {}).get("batches") or [] for n in batch}
    states.update({r["name"]: r["state"] for r in status.get("nodes") or []})
    states.update(dict.fromkeys(upgraded_names(status), "Upgraded"))
    return states


def screen(plan: dict, width: int = 8) -> str:
    """The terminal's frame: the status block, then the planned nodes in rollout order."""
    states = node_states(plan.get("status") or {})
    order = list(states)
    grid = ["  " + "  ".join(f"{SYMBOLS.get(states[n], '?')} {n}" for n in order[row:row + width])
            for row in range(0, len(order), width)]
    return "\n".join([describe(plan), "", *grid, *(["", LEGEND] if grid else [])])
