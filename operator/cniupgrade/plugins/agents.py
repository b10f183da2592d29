"""Each node's agent version, read from the agent pod running there (what UK8S and Spiderpool notes apply to)."""
from __future__ import annotations

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.seams.cluster import DAEMONSETS, PODS, ClusterReads, items
from cniupgrade.seams.plugin import Plugin


def agent_versions(reads: ClusterReads, plugin: Plugin, spec: UpgradePlanSpec) -> dict[str, str | None]:
    """Node -> the version the plugin's own images carry in the agent pod there."""
    ds = reads.get(DAEMONSETS, plugin.daemonset_name(spec), spec.namespace)
    if ds is None:
        return {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(ds["spec"]["selector"].get("matchLabels", {}).items()))
    versions: dict[str, str | None] = {}
    for pod in items(reads, PODS, spec.namespace, selector):
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            versions[node] = plugin.installed_version({c["name"]: c["image"] for c in pod["spec"]["containers"]})
    return versions
