"""Types and names shared by the rollout, the plugins and kube/: a node as decisions see it, and the
annotations and labels the operator puts on what it touches."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

ANNOTATION_PREFIX = "cniupgrade.io/"
OWNER_ANNOTATION = ANNOTATION_PREFIX + "owner"  # "<namespace>/<plan name>": who rolls this DaemonSet
ORIGINAL_STRATEGY_ANNOTATION = ANNOTATION_PREFIX + "original-update-strategy"
PREVIOUS_IMAGES_ANNOTATION = ANNOTATION_PREFIX + "previous-images"
# "<chart>-<version>": the plan upgraded the helm release to it, the agent held (the chart path).
RELEASE_ANNOTATION = ANNOTATION_PREFIX + "release-upgraded-to"
PROBE_LABEL = ANNOTATION_PREFIX + "probe-for"  # the plan's UID
PREPULL_LABEL = ANNOTATION_PREFIX + "prepull-for"  # the plan's UID
PREPULL_DIGEST_LABEL = ANNOTATION_PREFIX + "prepull-images"
MANAGED_BY = ANNOTATION_PREFIX + "plan"  # the plan's name, on the probe and pre-pull objects
IN_FLIGHT_TAINT_KEY = ANNOTATION_PREFIX + "upgrading"  # NoSchedule, on a node while its agent is replaced


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str
    value: str = ""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ready: bool = True
    schedulable: bool = True
    taints: tuple[Taint, ...] = ()


def images_of(pod_spec: Mapping) -> dict[str, str]:
    """Container and init-container name -> image (containers first)."""
    return {c["name"]: c["image"] for key in ("containers", "initContainers") for c in pod_spec.get(key) or []}
