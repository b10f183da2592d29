"""A DaemonSet's current ControllerRevision, found the way the DaemonSet controller finds it: by content.

The controller stores each template as the patch `{"spec": {"template": {..., "$patch": "replace"}}}` and takes
the revision whose patch equals the DaemonSet's (kubernetes pkg/controller/daemon/update.go, Match/getPatch). A
watched cache of the revisions answers from memory when the template changes; the caller lists them only when no
cached revision matches (the watch behind, or a controller-manager older than the API server serializing fewer
fields).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from cniupgrade.rollout.agent_pods import REVISION_LABEL


@dataclass(frozen=True)
class RevisionView:
    name: str
    owner_uids: frozenset[str]
    revision: int
    hash: str | None
    template: str | None  # canonical JSON of the stored template, "$patch" removed

    @classmethod
    def from_api(cls, obj: dict) -> RevisionView:
        meta = obj["metadata"]
        template = ((obj.get("data") or {}).get("spec") or {}).get("template")
        return cls(name=meta["name"], owner_uids=frozenset(o.get("uid") for o in meta.get("ownerReferences") or []),
                   revision=int(obj.get("revision") or 0), hash=(meta.get("labels") or {}).get(REVISION_LABEL),
                   template=canonical({k: v for k, v in template.items() if k != "$patch"})
                   if isinstance(template, dict) else None)


def canonical(template: dict) -> str:
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


def matching_revision(ds: dict, revisions: list[RevisionView]) -> str | None:
    """The hash of the owned revision holding exactly this DaemonSet's template, or None if none does."""
    uid, template = ds["metadata"]["uid"], canonical(ds["spec"]["template"])
    return next((r.hash for r in revisions if uid in r.owner_uids and r.template == template), None)


def newest_revision(ds: dict, revisions: list[RevisionView]) -> str | None:
    """The hash of the owned revision with the highest number: the current one once the controller has synced."""
    uid = ds["metadata"]["uid"]
    newest = max((r for r in revisions if uid in r.owner_uids), key=lambda r: r.revision, default=None)
    return newest.hash if newest else None
