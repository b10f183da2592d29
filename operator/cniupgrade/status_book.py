"""Which status the next decision starts from, and when a decided status is worth a write.

The loop decides faster than status writes are useful: per-node progress is written at most every
WRITE_INTERVAL, while phase changes and failures (Warning events) are written at once. A large plan's status
is large (~80 bytes per node; each write is validated, stored and sent to every watcher whole), so past
NODES_PER_INTERVAL nodes the interval grows with it: a 1000-node plan's progress is written every 4 s.
Between writes the decided status lives here. Losing it (a crash) is safe: every node's state is re-derived
from its pods.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from cniupgrade.api import status as status_api

WRITE_INTERVAL = 1.0
NODES_PER_INTERVAL = 250


def resource_version(text: str) -> int | None:
    """resourceVersions of one resource compare as integers (KEP-5504, GA in Kubernetes 1.35; etcd revisions
    before that). None for one that is not a canonical positive integer: it then only compares equal."""
    return int(text) if text.isdigit() and not text.startswith("0") else None


@dataclass
class StatusBook:
    decided: status_api.UpgradePlanStatus | None = None  # our latest decision, written or not
    written: status_api.UpgradePlanStatus | None = None  # the status our last write stored
    latest: str | None = None  # the resourceVersion our last write produced
    settled: str | None = None  # the last version whose status was read (or written by us): not parsed again
    last_write: float = 0.0

    def base(self, body: dict, parse: Callable[[dict], status_api.UpgradePlanStatus]) -> status_api.UpgradePlanStatus:
        """The status to decide from: ours, unless someone else wrote one after our last write.

        The watch can deliver an older version after our write returned (say the user's spec patch, or kopf's
        finalizer, landed just before it): its status is older than ours and must not replace it. A version is
        parsed once (a 1000-node status takes ~4 ms; the loop decides many times a second)."""
        version = body["metadata"]["resourceVersion"]
        if self.decided is not None and (version == self.settled or self._older_than_our_write(version)):
            return self.decided
        stored = parse(body)
        self.settled = version
        if self.decided is not None and stored == self.written:
            return self.decided  # e.g. a spec or annotation change
        self.decided = self.written = stored
        return stored

    def _older_than_our_write(self, version: str) -> bool:
        if self.latest is None:
            return False
        ours, theirs = resource_version(self.latest), resource_version(version)
        return ours is not None and theirs is not None and theirs < ours

    def record(self, status: status_api.UpgradePlanStatus) -> None:
        self.decided = status

    def due(self, urgent: bool, now: float | None = None) -> float | None:
        """None: nothing to write. 0: write now. Otherwise seconds until the write is due."""
        if self.decided is None or self.decided == self.written:
            return None
        if urgent:
            return 0.0
        # by the plan's size, not by the nodes started so far (which kept a large plan at 1 s early on)
        size = max(self.decided.counts.total, len(self.decided.nodes))
        interval = WRITE_INTERVAL * max(1.0, size / NODES_PER_INTERVAL)
        return max(0.0, self.last_write + interval - (time.monotonic() if now is None else now))

    def wrote(self, new_version: str, now: float | None = None) -> None:
        self.written = self.decided
        self.latest = self.settled = new_version
        self.last_write = time.monotonic() if now is None else now
