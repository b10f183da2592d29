"""The in-flight taint on nodes (rollout/in_flight_taint.py decides where): read, changed, written with the
node's resourceVersion, so a concurrent change of the node's taints (kubectl cordon, another plan) is not lost."""
from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY

CONFLICT, NOT_FOUND = 409, 404
ATTEMPTS = 5


def set_in_flight_taint(core: client.CoreV1Api, node: str, value: str, on: bool, effect: str = "NoSchedule") -> bool:
    """Put the taint on (unless the node has one of its key already: another plan protects it) or take this
    plan's off; True if the node was changed. A node that is gone needs nothing."""
    for _ in range(ATTEMPTS):
        try:
            raw = json.loads(core.read_node(node, _preload_content=False).data)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return False
            raise
        taints = (raw.get("spec") or {}).get("taints") or []
        mine = [t for t in taints if t.get("key") == IN_FLIGHT_TAINT_KEY]
        if on and mine or not on and not any(t.get("value") == value for t in mine):
            return False
        changed = ([*taints, {"key": IN_FLIGHT_TAINT_KEY, "value": value, "effect": effect}] if on else
                   [t for t in taints if not (t.get("key") == IN_FLIGHT_TAINT_KEY and t.get("value") == value)])
        try:
            core.patch_node(node, {"metadata": {"resourceVersion": raw["metadata"]["resourceVersion"]},
                                   "spec": {"taints": changed or None}})
            return True
        except ApiException as exc:
            if exc.status != CONFLICT:
                raise
    raise ApiException(status=CONFLICT, reason=f"node {node} kept changing under the in-flight taint's update")


def remove_plan_taints(core: client.CoreV1Api, value: str) -> list[str]:
    """Every node's in-flight taint of this plan taken off (a deleted plan's finalizer); the nodes changed."""
    nodes = json.loads(core.list_node(_preload_content=False).data).get("items") or []
    return [n["metadata"]["name"] for n in nodes
            if any(t.get("key") == IN_FLIGHT_TAINT_KEY and t.get("value") == value
                   for t in (n.get("spec") or {}).get("taints") or [])
            and set_in_flight_taint(core, n["metadata"]["name"], value, on=False)]
