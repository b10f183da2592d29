"""Names of UK8S cni-vpc, read from its sources and UCloud's docs (see shared/reference/uk8s-cni-vpc.md)."""
from __future__ import annotations

from cniupgrade.api.models import Uk8sComponent

DAEMONSETS = {Uk8sComponent.node: "cni-vpc-node", Uk8sComponent.ipamd: "cni-vpc-ipamd"}
IMAGE_NAMES = ("cni-vpc-node", "cni-vpc-ipamd")  # uhub.service.ucloud.cn/uk8s/<name>:<version>, tags without "v"
IMAGE_REPOSITORIES = ("uhub.service.ucloud.cn/uk8s",)  # released images (the repo's manifests carry dev builds)
LTS_SUFFIX = "-lts"
