"""< 0.4.0: Spiderpool's CRDs stored objects as v1; the target's CRDs serve only v2beta1 (a pure check)."""
from __future__ import annotations

from packaging.version import Version

from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot
from cniupgrade.plugins.spiderpool.storage_version import DOCS
from cniupgrade.preflight.framework import Finding, Severity

CHECK_ID = "spiderpool.stored-versions"
MIGRATION = "spiderpool.storage-version-v2beta1"
FIRST_V2BETA1 = Version("0.4.0")  # from 0.4.0 on the CRDs serve only v2beta1
REFUSAL = ('status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage '
           'version, and must remain in spec.versions until a storage migration ...')


def v1_stored(snap: SpiderpoolSnapshot) -> Finding:
    if snap.target < FIRST_V2BETA1:
        return Finding(CHECK_ID, Severity.error, True, f"the target {snap.target} still serves v1")
    if not snap.v1_stored:
        return Finding(CHECK_ID, Severity.error, True, "no Spiderpool CRD lists v1 in status.storedVersions")
    total = sum(snap.v1_stored.values())
    return Finding(
        CHECK_ID, Severity.error, False,
        f"{len(snap.v1_stored)} Spiderpool CRD(s) list v1 in status.storedVersions ({total} object(s) may be stored "
        f"as v1), but {snap.target} serves only v2beta1: the API server refuses its CRDs (it says: {REFUSAL}), and "
        f"an object left stored as v1 could no longer be read once v1 is dropped",
        f"the operator moves them before the CRDs are applied: it serves v1 and v2beta1 with v2beta1 as the storage "
        f"version, writes every object once (an empty patch), then removes v1 from status.storedVersions. By hand, "
        f"the same storage-version migration: {DOCS}",
        tuple(f"{name}: {count} object(s)" for name, count in sorted(snap.v1_stored.items())),
        migration=MIGRATION)
