"""Spiderpool's chart values keys that changed between releases (see shared/reference/spiderpool-chart.md): the
`helm upgrade --reuse-values` trap. An upgrade crosses every change whose release is above the installed version
and at or below the target, in order."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from packaging.version import Version


@dataclass(frozen=True)
class ValuesChange:
    at: Version  # the first chart release with the change
    renamed: Mapping[str, str] = field(default_factory=dict)  # old dotted key (leaf or subtree) -> new
    removed: Mapping[str, Version | None] = field(default_factory=dict)  # key -> the release it came back in
    reshaped: Mapping[str, str] = field(default_factory=dict)  # key -> how to write it now (no mechanical move)


CHANGES = (
    # 0.6.0 moved every feature.* key to ipam.*. The chart diff 0.3.5 -> 0.9.5 shows two more moves whose chart
    # of 0.9.2 already has the new names; they are attributed to 0.6.0 too.
    ValuesChange(Version("0.6.0"), renamed={
        "global.ipamBinHostPath": "global.cniBinHostPath",
        "spiderpoolAgent.prometheus.grafanaDashboard": "grafanaDashboard",
        "spiderpoolController.prometheus.grafanaDashboard": "grafanaDashboard",
        "feature": "ipam",  # the whole subtree, key by key
    }, removed={"ipam.networkMode": None}),  # feature.networkMode, as the move above has just named it
    # The GC rework that fixed duplicate IPs (0.9.5; 0.8.8 on the 0.8 line, whose values then have the new keys
    # already: the move finds nothing to do there).
    ValuesChange(Version("0.9.5"), renamed={
        "ipam.gc.GcDeletingTimeOutPod.delay": "ipam.gc.gcDeletingTimeOutPodDelay",
    }, reshaped={
        "ipam.gc.GcDeletingTimeOutPod.enabled": "now ipam.gc.statelessPod.zombieOnReadyNode / zombieOnNotReadyNode",
    }),
    ValuesChange(Version("1.0.0"), renamed={
        "ipam.enableSpiderSubnet": "ipam.spiderSubnet.enable",
        "ipam.subnetDefaultFlexibleIPNumber": "ipam.spiderSubnet.autoPool.defaultRedundantIPNumber",
    }, removed={
        "ipam.enableCleanOutdatedEndpoint": Version("1.0.4"),  # 0.9.13 only; back from 1.0.4
        "ipam.gc.statelessPod.enableGcRunningPodOnEmptyPodStatusIPs": Version("1.0.3"),  # back from 1.0.3
        "sriov.enableAdmissionController": None,
        "sriov.image.sriovCni": None,
        "sriov.image.ibSriovCni": None,
    }, reshaped={
        "rdma.rdmaSharedDevicePlugin.deviceConfig": "now a list: rdma.rdmaSharedDevicePlugin.configList",
    }),
)


def crossed(installed: Version | None, target: Version) -> list[ValuesChange]:
    """The changes an upgrade from `installed` (None: unknown, so every one up to the target) to `target` crosses."""
    return [c for c in CHANGES if (installed is None or installed < c.at) and c.at <= target]


def gone_at(change: ValuesChange, key: str, target: Version) -> bool:
    """Whether a key the change removed is still absent from the target's chart."""
    back = change.removed[key]
    return back is None or target < back
