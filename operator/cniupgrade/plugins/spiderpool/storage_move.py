"""Carry out the v1 -> v2beta1 storage-version move of Spiderpool's CRDs (the decisions: storage_version.py).

Each step re-reads the CRD and does only what is left, so a run killed anywhere is finished by the next one: the
storage version is switched once; writing an object already stored as v2beta1 changes nothing (the API server
skips a write whose stored bytes would not change); v1 leaves status.storedVersions only after every object
was written. Reads that decide go through `reads` (the operator), the changes through `writes` (the plan's
identity).
"""
from __future__ import annotations

import time
from typing import Callable

from cniupgrade.plugins.spiderpool.reader import spider
from cniupgrade.plugins.spiderpool.storage_version import (NEW, OLD_CRDS, OLD_PLURALS, serving_both, storage_version,
                                                           stored_versions_after, stores_old)
from cniupgrade.seams.cluster import CRDS, ClusterAccess, ClusterReads, Resource, items
from cniupgrade.seams.plugin import MigrationError

SERVED_WAIT_SECONDS = 30.0


class StorageVersionMove:
    def __init__(self, reads: ClusterReads, writes: ClusterAccess, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.reads, self.writes, self.sleep, self.clock = reads, writes, sleep, clock

    def run(self) -> str:
        moved = [f"{name} ({self._move(plural, crd)} object(s))" for plural, name in zip(OLD_PLURALS, OLD_CRDS)
                 if (crd := self.reads.get(CRDS, name)) is not None and stores_old(crd)]
        if not moved:
            return "no Spiderpool CRD lists v1 in status.storedVersions"
        return f"objects stored as v2beta1, v1 removed from status.storedVersions: {', '.join(moved)}"

    def _move(self, plural: str, crd: dict) -> int:
        name = crd["metadata"]["name"]
        try:
            versions = serving_both(crd)
        except ValueError as exc:
            raise MigrationError(str(exc)) from exc
        if versions is not None:
            # Spiderpool had no conversion webhook: v1 and v2beta1 objects are the same but for apiVersion.
            self.writes.patch(CRDS, name, None, {"metadata": {"resourceVersion": crd["metadata"]["resourceVersion"]},
                                                 "spec": {"versions": versions, "conversion": {"strategy": "None"}}})
        resource = spider(plural, NEW)
        # The API server serves a version only from storage built for a spec that serves it: once v2beta1 answers,
        # writes go to the v2beta1 storage (no spec before this one served v2beta1 with v1 storage).
        self._wait_served(resource, name)
        written = sum(self._write_once(resource, obj) for obj in items(self.reads, resource))
        crd = self.reads.get(CRDS, name)
        if crd is None or storage_version(crd) != NEW:
            raise MigrationError(f"CRD {name} changed during the move (gone, or its storage version is no longer "
                                 f"{NEW}): v1 stays in status.storedVersions")
        self.writes.patch(CRDS, name, None, {"metadata": {"resourceVersion": crd["metadata"]["resourceVersion"]},
                                             "status": {"storedVersions": stored_versions_after(crd)}},
                          subresource="status")
        return written

    def _wait_served(self, resource: Resource, crd_name: str) -> None:
        deadline = self.clock() + SERVED_WAIT_SECONDS
        while not self.reads.serves(resource):
            if self.clock() > deadline:
                raise MigrationError(f"CRD {crd_name}: {NEW} not served {SERVED_WAIT_SECONDS:.0f}s after the change")
            self.sleep(0.2)

    def _write_once(self, resource: Resource, obj: dict) -> int:
        """An empty patch: the API server writes the object again, at the storage version."""
        meta = obj["metadata"]
        try:
            self.writes.patch(resource, meta["name"], meta.get("namespace"), {})
        except Exception:
            if self.reads.get(resource, meta["name"], meta.get("namespace")) is None:
                return 0  # deleted since the list: nothing left to move
            raise
        return 1
