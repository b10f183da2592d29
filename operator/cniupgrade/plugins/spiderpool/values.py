"""The user's chart values carried over to the target chart: what `helm upgrade --reuse-values` gets wrong (renamed
keys keep their old names, which the new chart ignores; removed ones linger), for every change the upgrade
crosses (value_changes.CHANGES)."""
from __future__ import annotations

import copy

from cniupgrade.plugins.dotted import MISSING, lookup
from cniupgrade.plugins.spiderpool.value_changes import crossed, gone_at
from cniupgrade.preflight.framework import parse_version


def _pop(values: dict, dotted: str):
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return MISSING
    return node.pop(leaf, MISSING) if isinstance(node, dict) else MISSING


def _set(values: dict, dotted: str, value) -> None:
    """A value the user already set under the new name wins, leaf by leaf (a moved subtree merges)."""
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    if isinstance(value, dict) and isinstance(node.get(leaf), dict):
        for key, inner in value.items():
            _set(node[leaf], key, inner)
    else:
        node.setdefault(leaf, value)


def _prune_empty(values: dict, dotted: str) -> None:
    """A parent left empty by a move goes too (an empty map under an old name is noise in the diff)."""
    parts = dotted.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        parent = lookup(values, ".".join(parts[:depth]))
        if parent == {}:
            _pop(values, ".".join(parts[:depth]))




def carry_values(values: dict, installed: str | None, target: str) -> dict:
    """Renamed keys moved to their new names and removed keys dropped, for each change the upgrade crosses."""
    return _walk(values, installed, target)[0]


def changed_keys(values: dict, installed: str | None, target: str) -> list[tuple[str, str]]:
    """(key, what became of it) for each key of the user's values that a crossed change renamed, removed or
    reshaped; a key moved twice (feature.* -> ipam.* -> ipam.spiderSubnet.*) is named as each change found it."""
    return _walk(values, installed, target)[1]


def _walk(values: dict, installed: str | None, target: str) -> tuple[dict, list[tuple[str, str]]]:
    after = parse_version(target)
    carried, found = copy.deepcopy(values), []
    if after is None:
        return carried, found
    for change in crossed(parse_version(installed), after):
        found += [(key, how) for key, how in change.reshaped.items() if lookup(carried, key) is not None]
        for old, new in change.renamed.items():
            value = _pop(carried, old)
            if value is not MISSING:
                found.append((old, f"now {new} ({change.at})"))
                _set(carried, new, value)
                _prune_empty(carried, old)
        for removed in change.removed:
            if gone_at(change, removed, after) and _pop(carried, removed) is not MISSING:
                found.append((removed, f"removed at {change.at}"))
                _prune_empty(carried, removed)
    return carried, found
