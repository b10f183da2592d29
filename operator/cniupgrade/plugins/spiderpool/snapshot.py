"""What Spiderpool's pre-flight checks read: one snapshot of the cluster, taken by reader.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from packaging.version import Version

from cniupgrade.plugins.helm import HelmRelease
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.seams.objects import NodeInfo


@dataclass(frozen=True)
class SpiderpoolSnapshot:
    namespace: str
    target: Version
    release: HelmRelease | None = None
    crds: Mapping[str, Mapping] = field(default_factory=dict)  # CRD name -> CRD object
    scan: ClusterScan = field(default_factory=lambda: ClusterScan({}))  # pools, endpoints and pods, streamed
    nodes: tuple[NodeInfo, ...] = ()
    controller: Mapping | None = None  # the spiderpool-controller Deployment
    init_pod: Mapping | None = None  # a Pod (not a Job's pod) named spiderpool-init
    crd_source: str | None = None  # spec.spiderpool.crdSourceConfigMap: the operator can apply CRDs from it
    running_version: str | None = None  # the oldest version its images run (running_version())
    v1_stored: Mapping[str, int] = field(default_factory=dict)  # CRD -> its objects, of CRDs storing v1 (< 0.4.0)

    def value(self, key: str, default: Any = None) -> Any:
        return self.release.value(key, default) if self.release else default
