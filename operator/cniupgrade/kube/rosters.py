"""UpgradePlanRoster objects on the API server: written before the status that names them, read back whole when a
status is read, and the plan's others deleted once the status names a new one (api/roster.py says why)."""
from __future__ import annotations

import logging

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api import roster as roster_api
from cniupgrade.api.models import GROUP, VERSION
from cniupgrade.api.status import ComputedPlan

log = logging.getLogger(__name__)
CONFLICT = 409
NOT_FOUND = 404


class RosterReader:
    """Reads the shards a status names. A roster never changes, so one read per digest is kept."""

    def __init__(self, api: client.ApiClient, namespace: str):
        self.custom, self.namespace = client.CustomObjectsApi(api), namespace
        self._names: tuple[str, dict] | None = None  # (digest, the batches and exclusions it holds)

    def whole_status(self, status: dict | None) -> dict:
        """A status as the API server returns it, its plan's names read back from its roster (if it has one)."""
        plan = (status or {}).get("plan") or {}
        if not plan.get("roster"):
            return status or {}
        digest = plan["roster"].get("digest")
        if self._names is None or self._names[0] != digest:
            read = roster_api.whole(plan, self._shards(plan["roster"]))
            self._names = (digest, {"batches": read["batches"], "excluded": read["excluded"]})
        rest = {k: v for k, v in plan.items() if k not in ("roster", "excludedByReason")}
        return {**status, "plan": {**rest, **self._names[1]}}

    def _shards(self, ref: dict) -> list[dict]:
        shards = []
        for index in range(int(ref.get("shards") or 0)):
            name = roster_api.shard_name(ref["name"], index)
            try:
                shards.append(self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, roster_api.PLURAL, name)["spec"])
            except ApiException as exc:
                if exc.status == NOT_FOUND:
                    raise roster_api.RosterMissing(f"{roster_api.KIND} {self.namespace}/{name} is gone") from exc
                raise
        return shards


class RosterWriter:
    """The plan's rosters: written once each, before the status names them; the others deleted after."""

    def __init__(self, api: client.ApiClient, namespace: str, plan_name: str, plan_uid: str):
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.plan_name, self.plan_uid = namespace, plan_name, plan_uid
        self._written: str | None = None  # the digest of the roster known to be on the server
        self._kept: str | None = ""  # the digest the plan's other rosters were last deleted for

    def compact_plan(self, plan: ComputedPlan | None, plan_wire: dict | None) -> dict | None:
        """The plan as the status should carry it: whole, or compact with its roster written first."""
        if not roster_api.needed(plan):
            return plan_wire
        roster = roster_api.of(plan, self.plan_name)
        if roster.ref.digest != self._written:
            for shard in roster.shards:
                name = roster_api.shard_name(roster.name, shard.shard)
                try:
                    self.custom.create_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, roster_api.PLURAL,
                        roster_api.manifest(shard, name, self.plan_uid, self.namespace))
                except ApiException as exc:
                    if exc.status != CONFLICT:  # already there: named by its digest, it holds the same
                        raise
            self._written = roster.ref.digest
        return roster_api.compact(plan_wire or {}, roster)

    def drop_others(self, status_wire: dict) -> None:
        """After a status write: delete the plan's rosters the status no longer names (a crash between writing a
        new roster and the status leaves one behind: the next write removes it; deleting the plan removes all)."""
        ref = ((status_wire.get("plan") or {}).get("roster") or {})
        keep = (ref.get("digest") or "")[:10]
        if keep == self._kept:
            return
        listed = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, roster_api.PLURAL,
            label_selector=f"{roster_api.PLAN_UID_LABEL}={self.plan_uid}")
        for item in listed.get("items") or []:
            if item["metadata"].get("labels", {}).get(roster_api.DIGEST_LABEL) != keep:
                try:
                    self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, roster_api.PLURAL,
                                                                item["metadata"]["name"])
                except ApiException as exc:
                    if exc.status != NOT_FOUND:
                        raise
        self._kept = keep
