"""Spiderpool objects whose fields 1.0.0's CRDs rename or drop: which ones, and how they are carried over.

The 1.0.0 CRDs are structural: the API server prunes every field their schema lacks, on write and on read. So an
old field vanishes the moment the CRDs are replaced, and a new field written while the old CRDs are still in
place vanishes at once. The values are therefore carried in two steps:
  1. before the CRDs change: each object's old fields are recorded in an annotation on the object itself (its
     spec is left alone: the old controller and agents still read it until they are upgraded);
  2. once the CRDs serve the new names: renamed fields are written under their new name from that record.
Dropped fields are never removed by us (the new schema prunes them); the record keeps what was set.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from cniupgrade.plugins.dotted import MISSING, lookup
from cniupgrade.plugins.spiderpool.schema import schema_keeps

RECORD_ANNOTATION = "cniupgrade.io/spiderpool-fields-before-1.0.0"  # JSON: {old dotted path: value}

# plural -> {old path: new path}
RENAMED = {
    "spidermultusconfigs": {"spec.ibsriov.ibKubernetesEnabled": "spec.ibsriov.enableIbKubernetes",
                            "spec.sriov.enableRdma": "spec.sriov.rdmaIsolation"},
}
# plural -> {dropped path: where the setting lives from 1.0.0 on}
VLAN_MOVED = "the VLAN is set per network in the SpiderMultusConfig (<cniType>.vlanID); pools no longer record one"
DROPPED = {
    "spiderippools": {"spec.vlan": VLAN_MOVED},
    "spidersubnets": {"spec.vlan": VLAN_MOVED},
    "spidercoordinators": {
        "spec.detectGateway": "chart value ipam.enableGatewayDetection (cluster-wide)",
        "spec.detectIPConflict": "chart value ipam.enableIPConflictDetection (cluster-wide)",
        "spec.hostRPFilter": "nothing: 1.0.0 has no such setting",
    },
}
PLURALS = ("spiderippools", "spidersubnets", "spidercoordinators", "spidermultusconfigs")
CRD_OF = {plural: f"{plural}.spiderpool.spidernet.io" for plural in PLURALS}

def _get(obj: Mapping, dotted: str) -> Any:
    return lookup(obj, dotted, MISSING)


def _nested(dotted: str, value: Any) -> dict:
    *parents, leaf = dotted.split(".")
    patch: dict = {leaf: value}
    for key in reversed(parents):
        patch = {key: patch}
    return patch


def _merge(into: dict, patch: Mapping) -> dict:
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def old_paths(plural: str) -> tuple[str, ...]:
    return (*RENAMED.get(plural, {}), *DROPPED.get(plural, {}))


def old_fields(plural: str, obj: Mapping) -> dict[str, Any]:
    """The renamed or dropped fields the object sets, with their values."""
    return {path: value for path in old_paths(plural) if (value := _get(obj, path)) is not MISSING}


def recorded(obj: Mapping) -> dict[str, Any]:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(RECORD_ANNOTATION)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def unrecorded(plural: str, obj: Mapping) -> dict[str, Any]:
    """Old fields whose value the record does not hold yet (they would be lost with the old CRDs)."""
    record = recorded(obj)
    return {path: value for path, value in old_fields(plural, obj).items() if record.get(path, MISSING) != value}


def record_patch(plural: str, obj: Mapping) -> dict | None:
    """A merge patch adding the object's old fields to its record (resourceVersion-guarded), or None."""
    missing = unrecorded(plural, obj)
    if not missing:
        return None
    meta = obj["metadata"]
    record = {**recorded(obj), **missing}
    return {"metadata": {"resourceVersion": meta["resourceVersion"],
                         "annotations": {RECORD_ANNOTATION: json.dumps(record, sort_keys=True)}}}


def pending_renames(plural: str, obj: Mapping) -> dict[str, Any]:
    """new path -> recorded value, for renamed fields not yet set under their new name."""
    record = recorded(obj)
    return {new: record[old] for old, new in RENAMED.get(plural, {}).items()
            if old in record and _get(obj, new) is MISSING}


def rename_patch(plural: str, obj: Mapping) -> dict | None:
    """A merge patch writing the recorded values under their 1.0.0 names (a value already set there wins)."""
    pending = pending_renames(plural, obj)
    if not pending:
        return None
    patch: dict = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}}
    for new, value in pending.items():
        _merge(patch, _nested(new, value))
    return patch


def serves_new_names(crd: Mapping | None, plural: str = "spidermultusconfigs") -> bool:
    """The CRD keeps every 1.0.0 name a rename writes to (the renames can be carried out)."""
    return all(schema_keeps(crd, new) for new in RENAMED.get(plural, {}).values())


def pruned_by(crd: Mapping, plural: str) -> tuple[str, ...]:
    """The old fields a CRD manifest would prune from stored objects."""
    return tuple(path for path in old_paths(plural) if not schema_keeps(crd, path))


def where_it_goes(plural: str, path: str) -> str:
    if path in RENAMED.get(plural, {}):
        return f"renamed {RENAMED[plural][path]}"
    return DROPPED[plural][path]


def describe(plural: str, fields: Iterable[str]) -> str:
    return ", ".join(f"{path} -> {where_it_goes(plural, path)}" for path in fields)
