"""Changes the decision asks for; the kube layer carries them out, each one idempotent."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from cniupgrade.seams.objects import Taint


@dataclass(frozen=True)
class TakeOwnership:
    """One patch: owner annotation, recorded original strategy and images, OnDelete, the target images."""
    owner: str
    original_strategy: Mapping
    previous_images: Mapping[str, str]
    target_images: Mapping[str, str]


@dataclass(frozen=True)
class SetImages:
    images: Mapping[str, str]


@dataclass(frozen=True)
class ReleaseDaemonSet:
    """Restore the original update strategy and drop our annotations (None: the strategy stays as the helm
    release renders it; only the annotations go)."""
    original_strategy: Mapping | None


@dataclass(frozen=True)
class DeletePod:
    name: str
    uid: str  # precondition: never delete a pod that replaced the one we decided on
    node: str


@dataclass(frozen=True)
class SetInFlightTaint:
    """The node's in-flight taint (rollout/in_flight_taint.py) on, or this plan's off. `seen`: the node's taints
    as the decision saw them (the change is written guarded by them, without reading the node again)."""
    node: str
    value: str
    on: bool
    seen: tuple[Taint, ...] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ApplyChangeFreeze:
    """The plan's freeze policy and binding, created or brought to this (rollout/change_freeze.py)."""
    name: str
    mode: str  # Warn | Deny
    namespace_selector: str  # JSON of a label selector ({}: every namespace but the system ones)
    object_selector: str  # JSON ({}: every object)
    message: str
    digest: str  # labels the binding: what it enforces


@dataclass(frozen=True)
class RemoveChangeFreeze:
    name: str


@dataclass(frozen=True)
class CreateProbe:
    node: str
    image: str


@dataclass(frozen=True)
class DeleteProbe:
    name: str


@dataclass(frozen=True)
class SetDeploymentImages:
    name: str
    images: Mapping[str, str]


@dataclass(frozen=True)
class StartPrePull:
    """The temporary DaemonSet that pulls `images` where the agent runs."""
    images: tuple[str, ...]


@dataclass(frozen=True)
class EndPrePull:
    pass


@dataclass(frozen=True)
class RunMigration:
    """A plugin migration by id; it reads the cluster itself and changes only what still needs it."""
    id: str


@dataclass(frozen=True)
class UpgradeRelease:
    """`helm upgrade` of status.chart's release to its target chart, with the agent held at OnDelete (`hold`) or,
    once every node passed, as the user's values say."""
    hold: bool


@dataclass(frozen=True)
class RestoreRevision:
    """Put the DaemonSet's template back to its ControllerRevision with this hash (as `kubectl rollout undo`
    does), still held at OnDelete: what a chart plan's rollback starts with."""
    revision_hash: str


@dataclass(frozen=True)
class RollbackRelease:
    """`helm rollback` of status.chart's release to the revision it had before the plan (once every node is back
    on the previous template, so helm's strategy restores no pod)."""
    revision: int


@dataclass(frozen=True)
class RunAfterSuccess:
    """The plugin's after-success action (e.g. UK8S: report the pods older than their node's upgrade)."""


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


Action = (TakeOwnership | SetImages | ReleaseDaemonSet | DeletePod | SetInFlightTaint | CreateProbe | DeleteProbe | RunMigration
          | StartPrePull | EndPrePull | SetDeploymentImages | UpgradeRelease | RestoreRevision | RollbackRelease
          | RunAfterSuccess | ApplyChangeFreeze | RemoveChangeFreeze)
