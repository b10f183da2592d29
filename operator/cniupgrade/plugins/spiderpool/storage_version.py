"""Moving Spiderpool's stored objects from v1 to v2beta1, as pure decisions on a CRD (the migrator carries them out).

Spiderpool before 0.4.0 served and stored its kinds as `v1`; 0.4.0+ CRDs serve only `v2beta1`. The API server
refuses a CRD that drops a version still listed in status.storedVersions ("status.storedVersions[0]: Invalid value:
"v1": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a
storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions"), and once v1
is gone from spec.versions an object still stored as v1 cannot be read at all ("request to convert CR from an
invalid group/version"). The move is Kubernetes' documented storage-version migration: serve both versions with
v2beta1 as storage, write every object once, then drop v1 from status.storedVersions.
"""
from __future__ import annotations

from typing import Mapping

from cniupgrade.plugins.spiderpool import facts

OLD, NEW = "v1", "v2beta1"
# The kinds 0.3.x had (SpiderMultusConfig and SpiderCoordinator came later, already as v2beta1).
OLD_PLURALS = ("spiderippools", "spidersubnets", "spiderendpoints", "spiderreservedips")
OLD_CRDS = tuple(f"{plural}.{facts.GROUP}" for plural in OLD_PLURALS)
DOCS = ("https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/"
        "#upgrade-existing-objects-to-a-new-stored-version")


def stored_versions(crd: Mapping) -> list[str]:
    return list((crd.get("status") or {}).get("storedVersions") or [])


def stores_old(crd: Mapping) -> bool:
    """Objects may still be stored as v1: the API server keeps v1 in storedVersions until told otherwise."""
    return OLD in stored_versions(crd)


def storage_version(crd: Mapping) -> str | None:
    return next((v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")), None)


def serving_both(crd: Mapping) -> list[dict] | None:
    """spec.versions that serve v1 and v2beta1 with v2beta1 as storage; None when v2beta1 stores already.

    v2beta1 gets v1's definition (schema, subresources, columns): every stored object passes it unchanged, so no
    rewrite is refused; the target's own v2beta1 schema comes with its CRDs (spiderpool.apply-crds) afterwards."""
    versions = list(crd["spec"].get("versions") or [])
    if storage_version(crd) == NEW:
        return None
    old = next((v for v in versions if v["name"] == OLD), None)
    if old is None:
        raise ValueError(f"CRD {crd['metadata']['name']} stores {storage_version(crd)}, neither v1 nor v2beta1")
    new = next((v for v in versions if v["name"] == NEW), None) or {**old, "name": NEW}
    others = [v for v in versions if v["name"] not in (OLD, NEW)]
    return [{**new, "served": True, "storage": True}, {**old, "served": True, "storage": False},
            *({**v, "storage": False} for v in others)]


def stored_versions_after(crd: Mapping) -> list[str]:
    """status.storedVersions once every object was written at the v2beta1 storage version: without v1."""
    kept = [v for v in stored_versions(crd) if v != OLD]
    return kept if NEW in kept else [*kept, NEW]
