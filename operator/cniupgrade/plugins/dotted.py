"""One way to read a dotted path ("ipam.spiderSubnet.enable") in nested maps: chart values, object fields."""
from __future__ import annotations

from typing import Any, Mapping

MISSING = object()  # absent, as opposed to set to None


def lookup(values: Any, dotted: str, default: Any = None) -> Any:
    node = values
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node
