"""The in-flight taint on nodes (rollout/in_flight_taint.py decides where): read, changed, written with the
node's resourceVersion, so a concurrent change of the node's taints (kubectl cordon, another plan) is not lost."""
from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.kube.client import pages
from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY, Taint

CONFLICT, NOT_FOUND, INVALID = 409, 404, 422
ATTEMPTS = 5


def changed_taints(taints: list[dict], value: str, on: bool, effect: str) -> list[dict] | None:
    """The node's taints with this plan's taint put on (unless one of its key is there: another plan protects the
    node) or taken off; None when nothing is to change."""
    mine = [t for t in taints if t.get("key") == IN_FLIGHT_TAINT_KEY]
    if on and mine or not on and not any(t.get("value") == value for t in mine):
        return None
    return ([*taints, {"key": IN_FLIGHT_TAINT_KEY, "value": value, "effect": effect}] if on else
            [t for t in taints if not (t.get("key") == IN_FLIGHT_TAINT_KEY and t.get("value") == value)])


def as_json(taints: tuple[Taint, ...]) -> list[dict]:
    """Taints as the API server writes them (an empty value left out)."""
    return [{"key": t.key, "effect": t.effect, **({"value": t.value} if t.value else {})} for t in taints]


def set_in_flight_taint(core: client.CoreV1Api, node: str, value: str, on: bool, effect: str = "NoSchedule",
                        seen: tuple[Taint, ...] | None = None) -> bool:
    """Put the taint on or take this plan's off; True if the node was changed. A node that is gone needs nothing.
    With the taints the node watch `seen`, one JSON patch that applies only if they are still the node's; when
    they are not (or carry a field the watch does not keep, like timeAdded), the node is read and updated with
    its resourceVersion."""
    if seen is not None:
        taints = as_json(seen)
        changed = changed_taints(taints, value, on, effect)
        if changed is None:
            return False
        try:
            core.patch_node(node, [{"op": "test", "path": "/spec/taints", "value": taints or None},
                                   {"op": "add", "path": "/spec/taints", "value": changed} if changed else
                                   {"op": "remove", "path": "/spec/taints"}])
            return True
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            if exc.status != INVALID:  # a failed test: the taints changed since the watch showed them
                raise
    for _ in range(ATTEMPTS):
        try:
            raw = json.loads(core.read_node(node, _preload_content=False).data)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            raise
        changed = changed_taints((raw.get("spec") or {}).get("taints") or [], value, on, effect)
        if changed is None:
            return False
        try:
            core.patch_node(node, {"metadata": {"resourceVersion": raw["metadata"]["resourceVersion"]},
                                   "spec": {"taints": changed or None}})
            return True
        except ApiException as exc:
            if exc.status != CONFLICT:
                raise
    raise ApiException(status=CONFLICT, reason=f"node {node} kept changing under the in-flight taint's update")


def remove_plan_taints(core: client.CoreV1Api, value: str) -> list[str]:
    """Every node's in-flight taint of this plan taken off (a deleted plan's finalizer); the nodes changed. Read a
    page at a time: 5000 whole nodes at once briefly took 90 MiB."""
    tainted = [n["metadata"]["name"] for page in pages(core.list_node) for n in page
               if any(t.get("key") == IN_FLIGHT_TAINT_KEY and t.get("value") == value
                      for t in (n.get("spec") or {}).get("taints") or [])]
    return [name for name in tainted if set_in_flight_taint(core, name, value, on=False)]
