"""What the chart's spiderpool-init Job creates on `helm install` (0.6.0+): the default SpiderCoordinator and the
default SpiderMultusConfig. The Job is a post-install hook, so a cluster installed before 0.6.0 never gets them
on upgrade; the operator creates them as the Job would have (read from cmd/spiderpool-init and the chart's
values in the Spiderpool sources).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from packaging.version import Version

from cniupgrade.plugins.dotted import lookup
from cniupgrade.plugins.spiderpool import facts

Values = Callable[[str, Any], Any]  # dotted values key, default -> the release's value
AUTO_SINCE = Version("0.8.0")  # mode and podCIDRType "auto" (spiderpool#2326); before: underlay / cluster
DETECTION_DROPPED_AT = Version("1.0.0")  # detectGateway/detectIPConflict became chart values (ipam.enable*Detection)
HIJACK_CIDR = ["169.254.0.0/16"]  # the chart's default coordinator.hijackCIDR (NodeLocal DNS)


def coordinator_name(values: Values) -> str | None:
    """The default SpiderCoordinator's name, or None when the values turn the coordinator off."""
    if values("coordinator.enabled", True) is False:
        return None
    return values("coordinator.name", "default") or "default"


def default_coordinator(values: Values, target: Version) -> dict | None:
    """The SpiderCoordinator the init Job creates for these values at the target version."""
    name = coordinator_name(values)
    if name is None:
        return None
    auto = target >= AUTO_SINCE
    spec = {"mode": values("coordinator.mode", "auto" if auto else "underlay"),
            "podCIDRType": values("coordinator.podCIDRType", "auto" if auto else "cluster"),
            "tunePodRoutes": values("coordinator.tunePodRoutes", True),
            "hijackCIDR": values("coordinator.hijackCIDR", HIJACK_CIDR),
            "podDefaultRouteNIC": "", "podMACPrefix": ""}
    if target < DETECTION_DROPPED_AT:
        spec["detectGateway"] = values("coordinator.detectGateway", False)
        spec["detectIPConflict"] = values("coordinator.detectIPConflict", False)
    return {"apiVersion": f"{facts.GROUP}/v2beta1", "kind": "SpiderCoordinator", "metadata": {"name": name},
            "spec": spec}


def multus_config_name(values: Values) -> str | None:
    """The default CNI's SpiderMultusConfig name when the values say it (multus.multusCNI.defaultCniCRName).
    Empty, the init Job names it after the first CNI config file of /etc/cni/net.d, which the API cannot read."""
    if values("multus.enableMultusConfig", True) is False:
        return None
    return values("multus.multusCNI.defaultCniCRName", "") or None


def default_multus_config(name: str, namespace: str) -> dict:
    """What the init Job creates for a default CNI it does not know as macvlan/ipvlan/sriov: cniType custom,
    without the coordinator. Calico's legacy network name is kept in an annotation, as the Job does."""
    annotations = {}
    if name == "k8s-pod-network":
        name, annotations = "calico", {"multus.spidernet.io/cr-name": "k8s-pod-network"}
    return {"apiVersion": f"{facts.GROUP}/v2beta1", "kind": "SpiderMultusConfig",
            "metadata": {"name": name, "namespace": namespace, **({"annotations": annotations} if annotations else {})},
            "spec": {"cniType": "custom", "enableCoordinator": False}}


def release_values(values: Mapping) -> Values:
    return lambda dotted, default=None: lookup(values, dotted, default)
