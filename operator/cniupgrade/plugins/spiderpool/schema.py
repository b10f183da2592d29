"""What a CRD's structural schema keeps of an object: the API server prunes the rest on every write (and a
server-side apply of an undeclared field is refused outright)."""
from __future__ import annotations

from typing import Any, Mapping

META_FIELDS = ("apiVersion", "kind", "metadata")


def stored_schema(crd: Mapping | None) -> Mapping | None:
    """The openAPIV3Schema of the CRD's storage version (None: no schema, nothing is pruned)."""
    versions = ((crd or {}).get("spec") or {}).get("versions") or []
    version = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
    return ((version or {}).get("schema") or {}).get("openAPIV3Schema")


def schema_keeps(crd: Mapping | None, dotted: str) -> bool:
    """Whether the CRD keeps the field: declares it, or preserves unknown fields on the way to it."""
    if crd is None:
        return False
    node = stored_schema(crd)
    if node is None:
        return True
    for key in dotted.split("."):
        if node.get("x-kubernetes-preserve-unknown-fields"):
            return True
        node = (node.get("properties") or {}).get(key)
        if node is None:
            return False
    return True


def _fit(value: Any, node: Mapping | None) -> Any:
    if node is None or node.get("x-kubernetes-preserve-unknown-fields") or not isinstance(value, Mapping):
        return value
    properties = node.get("properties")
    if properties is None:
        return value
    return {k: _fit(v, properties[k]) for k, v in value.items() if k in properties}


def fit_to_schema(obj: Mapping, crd: Mapping | None) -> dict:
    """The object as the CRD would store it: fields its schema does not declare left out."""
    schema = stored_schema(crd)
    if schema is None:
        return dict(obj)
    return {**{k: obj[k] for k in META_FIELDS if k in obj},
            **_fit({k: v for k, v in obj.items() if k not in META_FIELDS}, schema)}
