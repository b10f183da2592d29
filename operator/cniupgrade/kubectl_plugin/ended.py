"""Whether a plan has ended: what `status --watch` waits for."""
from __future__ import annotations

from cniupgrade.api.models import RETRY_ANNOTATION
from cniupgrade.api.status import TERMINAL_PHASES
from cniupgrade.rollout.rollback_request import rollback_requested

TERMINAL = frozenset(p.value for p in TERMINAL_PHASES)


def condition(status: dict, type_: str) -> dict:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})


def finished(plan: dict) -> bool:
    """In a terminal phase that the operator decided for the plan as it is now: not for an older spec (a new
    target), and with no retry or rollback asked for that it has not acted on yet."""
    meta, status = plan.get("metadata") or {}, plan.get("status") or {}
    if status.get("phase") not in TERMINAL:
        return False
    observed = condition(status, "Ready").get("observedGeneration")
    if observed is not None and observed < (meta.get("generation") or 0):
        return False
    retry = (meta.get("annotations") or {}).get(RETRY_ANNOTATION)
    if retry and retry != status.get("lastHandledRetry") and status.get("phase") != "Succeeded":
        return False
    rollback = rollback_requested(plan)
    return rollback is None or rollback.key == status.get("lastHandledRollback")
