"""Count the operator's API requests from the apiserver's audit log (one line per request)."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

READ_VERBS = frozenset({"get", "list", "watch"})


def requests_between(log: Path, user: str, start: float, end: float) -> Counter:
    """Requests by `user` received within [start, end] (epoch seconds), by kind: read, write."""
    counts: Counter = Counter()
    with open(log) as lines:
        for line in lines:
            entry = json.loads(line)
            if entry.get("user", {}).get("username") != user:
                continue
            received = dt.datetime.fromisoformat(entry["requestReceivedTimestamp"].replace("Z", "+00:00"))
            if start <= received.timestamp() <= end:
                counts["read" if entry["verb"] in READ_VERBS else "write"] += 1
                counts[f"{entry['verb']} {entry.get('objectRef', {}).get('resource', '?')}"] += 1
    return counts


def node_writes_between(log: Path, start: float, end: float) -> Counter:
    """Node updates and patches received within [start, end] (epoch seconds), by user (the audit policy's
    node_writes rule must be on)."""
    counts: Counter = Counter()
    with open(log) as lines:
        for line in lines:
            entry = json.loads(line)
            if entry["verb"] not in ("update", "patch") or entry.get("objectRef", {}).get("resource") != "nodes":
                continue
            received = dt.datetime.fromisoformat(entry["requestReceivedTimestamp"].replace("Z", "+00:00"))
            if start <= received.timestamp() <= end:
                counts[entry.get("user", {}).get("username", "?")] += 1
    return counts
