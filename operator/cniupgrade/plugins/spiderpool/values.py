"""The user's chart values carried over to the target chart: what `helm upgrade --reuse-values` gets wrong across
1.0.0 (renamed keys keep their old names, which the new chart ignores)."""
from __future__ import annotations

import copy

from packaging.version import Version

from cniupgrade.plugins.spiderpool import facts
from cniupgrade.preflight.framework import parse_version

ONE = Version("1.0.0")
MISSING = object()


def _pop(values: dict, dotted: str):
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return MISSING
    return node.pop(leaf, MISSING) if isinstance(node, dict) else MISSING


def _set(values: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node.setdefault(leaf, value)  # a value the user already set under the new name wins


def carry_values(values: dict, installed: str | None, target: str) -> dict:
    """Renamed keys moved to their new names and removed keys dropped, when the upgrade crosses 1.0.0."""
    before, after = parse_version(installed), parse_version(target)
    carried = copy.deepcopy(values)
    if after is None or after < ONE or (before is not None and before >= ONE):
        return carried
    for old, new in facts.RENAMED_AT_1_0_0.items():
        value = _pop(carried, old)
        if value is not MISSING:
            _set(carried, new, value)
    for removed in facts.REMOVED_AT_1_0_0:
        _pop(carried, removed)
    return carried
