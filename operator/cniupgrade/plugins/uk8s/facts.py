"""Names of UK8S cni-vpc, read from its sources and UCloud's docs (see shared/reference/uk8s-cni-vpc.md)."""
from __future__ import annotations

from cniupgrade.api.models import Uk8sComponent

DAEMONSETS = {Uk8sComponent.node: "cni-vpc-node", Uk8sComponent.ipamd: "cni-vpc-ipamd"}
IMAGE_NAMES = ("cni-vpc-node", "cni-vpc-ipamd")  # uhub.service.ucloud.cn/uk8s/<name>:<version>, tags without "v"
IMAGE_REPOSITORIES = ("uhub.service.ucloud.cn/uk8s",)  # released images (the repo's manifests carry dev builds)

GROUP = "vpc.uk8s.ucloud.cn"
# 2.0.0 (multi-subnet, `feat!`): the 2.x cnivpc reads a PodNetworking at every pod network setup.
MULTI_SUBNET_RELEASE = "2.0.0"
PODNETWORKING_CRD = f"podnetworkings.{GROUP}"
PODNETWORKING_VERSION = "v1beta1"
APPLY_PODNETWORKING_CRD = "uk8s.apply-podnetworking-crd"
# Migrations that change objects outside the plugin's namespace: what each one reaches.
CLUSTER_WIDE_MIGRATIONS = {APPLY_PODNETWORKING_CRD: "the PodNetworking CustomResourceDefinition (cluster-scoped)"}
