"""A rollback asked for on demand: spec.rollback (GitOps) or the annotation cniupgrade.io/rollback (kubectl), read
from the plan as stored, with who set it and when from its managedFields."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cniupgrade.api.models import ROLLBACK_ANNOTATION

SPEC_SOURCE, ANNOTATION_SOURCE = "spec.rollback", f"annotation {ROLLBACK_ANNOTATION}"


@dataclass(frozen=True)
class RollbackRequest:
    key: str  # one request: handled once (status.lastHandledRollback)
    source: str
    reason: str = ""
    requested_by: str = ""
    requested_at: str | None = None


def rollback_requested(plan: Mapping) -> RollbackRequest | None:
    """The plan's request, if it has one: the spec field first, else the annotation (any value, kept as reason)."""
    meta = plan.get("metadata") or {}
    annotation = (meta.get("annotations") or {}).get(ROLLBACK_ANNOTATION)
    if (plan.get("spec") or {}).get("rollback") is True:
        by, at = _who_set(meta, ("f:spec", "f:rollback"))
        return RollbackRequest(SPEC_SOURCE, SPEC_SOURCE, annotation or "", by, at)
    if annotation is not None:
        by, at = _who_set(meta, ("f:metadata", "f:annotations", f"f:{ROLLBACK_ANNOTATION}"))
        return RollbackRequest(f"annotation:{annotation}", ANNOTATION_SOURCE, annotation, by, at)
    return None


def _who_set(meta: Mapping, path: tuple[str, ...]) -> tuple[str, str | None]:
    """The manager and time of the managedFields entry that owns `path` (the latest, if several do)."""
    owners = []
    for entry in meta.get("managedFields") or []:
        node = entry.get("fieldsV1") or {}
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            owners.append((entry.get("time") or "", entry.get("manager") or ""))
    if not owners:
        return "", None
    at, by = max(owners)
    return by, at or None
