"""Who holds which IP, from SpiderIPPools, SpiderEndpoints and pods, in a temporary SQLite file: duplicates,
leaks and orphans are found by SQL on disk, so memory does not grow with the cluster (100k endpoints)."""
from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass

from cniupgrade.plugins.spiderpool.sample import Sample
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS

BATCH = 2000
# Spiderpool keeps the SpiderEndpoint of these on purpose while their pod is away (a fixed IP across restarts).
KEPT_WITHOUT_POD = ("StatefulSet", "VirtualMachineInstance")


@dataclass(frozen=True)
class Duplicates:
    ips: int  # how many IPs have more than one holder
    detail: tuple[tuple[str, tuple[str, ...]], ...]  # the first few: (ip, holders)
    pods: Sample  # every pod involved, counted once


SCHEMA = (
    "CREATE TABLE held (ip TEXT NOT NULL, holder TEXT NOT NULL)",  # any record: pool, endpoint, pod
    "CREATE TABLE allocated (pool TEXT NOT NULL, ip TEXT NOT NULL, pod TEXT NOT NULL)",  # pools' allocatedIPs
    "CREATE TABLE endpoint (pod TEXT PRIMARY KEY, owner_kind TEXT NOT NULL)",
    "CREATE TABLE pod (name TEXT PRIMARY KEY)",
)


SHARED_IPS = "SELECT ip FROM held GROUP BY ip HAVING COUNT(DISTINCT holder) > 1"


class IpLedger:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="cniupgrade-ips-")
        self._db = sqlite3.connect(os.path.join(self._dir.name, "ips.db"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        for statement in SCHEMA:
            self._db.execute(statement)
        self._pending: dict[str, list[tuple]] = {"held": [], "allocated": [], "endpoint": [], "pod": []}
        self._indexed = False

    def _add(self, table: str, row: tuple) -> None:
        pending = self._pending[table]
        pending.append(row)
        if len(pending) >= BATCH:
            self._flush(table)

    def _flush(self, table: str) -> None:
        rows = self._pending[table]
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self._db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
            rows.clear()

    def _ready(self) -> None:
        for table in self._pending:
            self._flush(table)
        if not self._indexed:
            self._db.execute("CREATE INDEX by_ip ON held (ip, holder)")
            self._db.execute("CREATE INDEX by_pod ON allocated (pod)")
            self._indexed = True

    # ---- fed by the scan --------------------------------------------------------------------------------
    def add(self, ip: str, holder: str) -> None:
        self._add("held", (ip, holder))

    def allocated(self, pool: str, ip: str, pod: str) -> None:
        self._add("allocated", (pool, ip, pod))
        self.add(ip, pod)

    def endpoint(self, pod: str, owner_kind: str) -> None:
        self._add("endpoint", (pod, owner_kind))

    def pod(self, name: str) -> None:
        self._add("pod", (name,))

    # ---- read by the checks ------------------------------------------------------------------------------
    def duplicates(self, detail: int = 10) -> Duplicates:
        self._ready()
        shared = SHARED_IPS
        (ips,) = self._db.execute(f"SELECT COUNT(*) FROM ({shared})").fetchone()
        shown = [(ip, tuple(sorted(set(holders.split("\n"))))) for ip, holders in self._db.execute(
            f"SELECT ip, group_concat(holder, char(10)) FROM held WHERE ip IN ({shared} ORDER BY ip LIMIT ?) "
            f"GROUP BY ip ORDER BY ip", (detail,))]
        return Duplicates(ips, tuple(shown), self._sample(
            f"SELECT DISTINCT holder FROM held WHERE ip IN ({shared})"))

    def restart_needs(self) -> dict[str, int]:
        """Pool -> the pods holding a duplicate IP that have an allocation in it: the IPs their restart takes
        from it while the old pod is still there."""
        self._ready()
        holders = f"SELECT DISTINCT holder FROM held WHERE ip IN ({SHARED_IPS})"
        return dict(self._db.execute(
            f"SELECT pool, COUNT(DISTINCT pod) FROM allocated WHERE pod IN ({holders}) GROUP BY pool"))

    def leaks(self) -> Sample:
        """IPs a pool counts as allocated to a pod that has neither a SpiderEndpoint nor a pod: never freed."""
        self._ready()
        return self._sample("SELECT pool || ' ' || ip || ' (' || pod || ')' FROM allocated "
                            "WHERE pod NOT IN (SELECT pod FROM endpoint) AND pod NOT IN (SELECT name FROM pod)")

    def orphan_endpoints(self) -> Sample:
        """SpiderEndpoints whose pod is gone (those Spiderpool keeps for a fixed IP left out)."""
        self._ready()
        kept = ", ".join(f"'{kind}'" for kind in KEPT_WITHOUT_POD)
        return self._sample(f"SELECT pod FROM endpoint WHERE owner_kind NOT IN ({kept}) "
                            "AND pod NOT IN (SELECT name FROM pod)")

    def _sample(self, query: str) -> Sample:
        (count,) = self._db.execute(f"SELECT COUNT(*) FROM ({query})").fetchone()
        names = [name for (name,) in self._db.execute(f"SELECT * FROM ({query}) ORDER BY 1 LIMIT ?",
                                                       (MAX_NAMED_OBJECTS,))]
        return Sample(count, names)

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
