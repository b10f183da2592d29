"""Count API requests from the apiserver's audit log (one line per request)."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Iterator

READ_VERBS = frozenset({"get", "list", "watch"})


def entries_between(log: Path, start: float, end: float) -> Iterator[dict]:
    """The log's entries for requests received within [start, end] (epoch seconds)."""
    with open(log) as lines:
        for line in lines:
            entry = json.loads(line)
            received = dt.datetime.fromisoformat(entry["requestReceivedTimestamp"].replace("Z", "+00:00"))
            if start <= received.timestamp() <= end:
                yield entry


def requests_between(log: Path, user: str, start: float, end: float) -> Counter:
    """Requests by `user` received within [start, end], by kind: read, write."""
    counts: Counter = Counter()
    for entry in entries_between(log, start, end):
        if entry.get("user", {}).get("username") == user:
            counts["read" if entry["verb"] in READ_VERBS else "write"] += 1
            counts[f"{entry['verb']} {entry.get('objectRef', {}).get('resource', '?')}"] += 1
    return counts


def node_writes_between(log: Path, start: float, end: float) -> Counter:
    """Node updates and patches received within [start, end], by user (the audit policy's node_writes rule must
    be on)."""
    return Counter(entry.get("user", {}).get("username", "?") for entry in entries_between(log, start, end)
                   if entry["verb"] in ("update", "patch") and entry.get("objectRef", {}).get("resource") == "nodes")
