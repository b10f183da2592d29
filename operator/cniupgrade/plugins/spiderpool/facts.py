"""Names, labels, ports and values keys of Spiderpool, read from its sources (see shared/reference)."""
from __future__ import annotations

GROUP = "spiderpool.spidernet.io"
RELEASE = "spiderpool"
AGENT_DAEMONSET = "spiderpool-agent"
CONTROLLER_DEPLOYMENT = "spiderpool-controller"
INIT_POD = "spiderpool-init"
# Where the chart's images come from: Spiderpool's own, and Multus (k8snetworkplumbingwg).
IMAGE_REPOSITORIES = ("ghcr.io/spidernet-io/spiderpool", "ghcr.io/k8snetworkplumbingwg")
# Migrations that change objects outside the plugin's namespace: what each one reaches.
CLUSTER_WIDE_MIGRATIONS = {
    "spiderpool.apply-crds": "Spiderpool's CustomResourceDefinitions",
    "spiderpool.endpoint-owner-type-pod": "SpiderEndpoints in every namespace",
    "spiderpool.add-auto-pool-labels": "SpiderIPPools (cluster-scoped)",
    "spiderpool.storage-version-v2beta1": "Spiderpool's CustomResourceDefinitions (versions, status.storedVersions) "
                                          "and every Spiderpool object, written again as v2beta1",
    "spiderpool.rewrite-1.0-fields": "SpiderIPPools, SpiderSubnets and SpiderCoordinators (cluster-scoped), "
                                     "SpiderMultusConfigs in every namespace",
    "spiderpool.create-default-objects": "the default SpiderCoordinator (cluster-scoped)",
}

CLUSTER_SCOPED = frozenset({"spiderippools", "spidersubnets", "spiderreservedips", "spidercoordinators"})
CRD_MULTUS_CONFIG = f"spidermultusconfigs.{GROUP}"
CRD_COORDINATOR = f"spidercoordinators.{GROUP}"

# Labels an auto pool carries since 0.3.6
AUTO_POOL_LABELS = (
    "ipam.spidernet.io/owner-application-gv",
    "ipam.spidernet.io/owner-application-kind",
    "ipam.spidernet.io/owner-application-namespace",
    "ipam.spidernet.io/owner-application-name",
    "ipam.spidernet.io/interface",
    "ipam.spidernet.io/ip-version",
    "ipam.spidernet.io/ippool-cidr",
)
OLD_AUTO_POOL_LABEL = "ipam.spidernet.io/owner-application"  # <kind>-<ns>-<name>, before 0.3.6
OWNER_UID_LABEL = "ipam.spidernet.io/owner-application-uid"
OWNER_SUBNET_LABEL = "ipam.spidernet.io/owner-spider-subnet"

# Host ports (the same in every tag 0.3.6..1.2.2) and the values keys that move them
AGENT_PORTS = {"spiderpoolAgent.httpPort": 5710, "spiderpoolAgent.prometheus.port": 5711,
               "spiderpoolAgent.debug.gopsPort": 5712}
CONTROLLER_PORTS = {"spiderpoolController.httpPort": 5720, "spiderpoolController.prometheus.port": 5721,
                    "spiderpoolController.webhookPort": 5722, "spiderpoolController.debug.gopsPort": 5724}
