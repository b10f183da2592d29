"""Builders of specs and observations for decision tests."""
from __future__ import annotations

import datetime as dt
import json

from cniupgrade import builtins  # noqa: F401 - registers the built-in plugins and mechanisms
from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.rollout.agent_pods import AgentPod, AgentPods
from cniupgrade.rollout.observation import DaemonSetView, Observation, PrePullPod, ProbePod, images_digest
from cniupgrade.seams.mechanism import mechanism_for
from cniupgrade.seams.objects import NodeInfo
from cniupgrade.seams.plugin import plugin_for

PLAN = "ops/upgrade"
T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
OLD, NEW = "rev-old", "rev-new"
OLD_IMAGES = {"agent": "r/agent:v1"}
NEW_IMAGES = {"agent": "r/agent:v2"}
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}


def spec(**kw) -> UpgradePlanSpec:
    rollout = {"maxUnavailable": 2, "nodeTimeoutSeconds": 60, **kw.pop("rollout", {})}
    kw.setdefault("prePull", {"enabled": False})  # its own tests enable it
    return UpgradePlanSpec.model_validate({"plugin": "generic", "targetVersion": "v2", "namespace": "cni",
                                           "daemonSet": {"name": "agent"}, "rollout": rollout, **kw})


def target_images(plan: UpgradePlanSpec, current: dict[str, str]) -> dict[str, str]:
    """What the plan's mechanism makes of a workload's images."""
    return mechanism_for(plan).target_images(plugin_for(plan), plan, current)


def daemonset(owner: str | None = None, images=None) -> DaemonSetView:
    annotations = {}
    if owner:
        annotations = {"cniupgrade.io/owner": owner,
                       "cniupgrade.io/original-update-strategy": json.dumps(ROLLING),
                       "cniupgrade.io/previous-images": json.dumps(OLD_IMAGES)}
    strategy = {"type": "OnDelete"} if owner else ROLLING
    return DaemonSetView("agent", "cni", "ds-uid", strategy, images or (NEW_IMAGES if owner else OLD_IMAGES),
                         annotations)


def pod(node: str, revision: str = OLD, ready: bool = True, terminating: bool = False) -> AgentPod:
    return AgentPod(f"agent-{node}-{revision}", f"uid-{node}-{revision}", node, revision, ready, terminating)


def observe(node_count: int = 5, pods=None, owner: str | None = None, revision: str | None = None,
            now: dt.datetime = T0, images=None, probes=None, other_owner_alive=False) -> Observation:
    names = [f"n{i}" for i in range(node_count)]
    if pods is None:
        pods = [pod(n) for n in names]
    return Observation(now=now, plan_key=PLAN, daemonset=daemonset(owner, images),
                       current_revision=revision if revision is not None else (NEW if owner else OLD),
                       agents=AgentPods.of(pods), nodes={n: NodeInfo(n) for n in names}, probes=probes or {},
                       other_owner_alive=other_owner_alive)


def probe(node: str, running=True, has_ip=True, failed=False, created=T0) -> ProbePod:
    return ProbePod(f"probe-{node}", node, has_ip, running, failed, created)


def prepulled(node: str, pulled=True, failure="", created=T0, images=("r/agent:v2",)) -> PrePullPod:
    return PrePullPod(node, pulled, failure, created, images_digest(images))
