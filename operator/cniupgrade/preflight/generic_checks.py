"""Checks that hold for every plugin."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from cniupgrade.preflight.framework import Check, Finding, Severity, parse_version


@dataclass(frozen=True)
class VersionsSnapshot:
    installed: str | None
    target: str
    allow_downgrade: bool
    # The plugin's release order (seams.plugin.version_order): a tag's sortable place, None when it has none.
    version_key: Callable[[str | None], Any] = parse_version


def downgrade(snap: VersionsSnapshot) -> Finding:
    installed, target = snap.version_key(snap.installed), snap.version_key(snap.target)
    if installed is None or target is None or target >= installed:
        return Finding("generic.downgrade", Severity.error, True, "the target is not older than the installed version")
    if snap.allow_downgrade:
        return Finding("generic.downgrade", Severity.info, True,
                       f"downgrading {snap.installed} -> {snap.target}, allowed by spec.allowDowngrade")
    return Finding("generic.downgrade", Severity.error, False,
                   f"the target {snap.target} is older than the installed {snap.installed}",
                   "check spec.targetVersion; to roll back on purpose set spec.allowDowngrade: true")


CHECKS = (Check("generic.downgrade", "downgrade", downgrade, order=-1),)
