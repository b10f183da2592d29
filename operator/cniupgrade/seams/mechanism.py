"""The mechanism seam: how the new version is put in place, apart from which plugin it is.

Every mechanism yields the same ordered steps (checks, approval, migrations, pre-pull, control plane, nodes,
restore, after-success); it fills in how the control plane's and the agent DaemonSet's templates change. Today
there is one, the image patch; the vendor's helm chart is the next.
"""
from __future__ import annotations

from typing import Mapping, Protocol

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.seams.plugin import Plugin


class Mechanism(Protocol):
    name: str

    def target_images(self, plugin: Plugin, spec: UpgradePlanSpec, current: Mapping[str, str],
                      rendered: Mapping[str, str] | None = None) -> dict[str, str]:
        """Container name -> image of a workload template (the agent's, or a control-plane Deployment's) at the
        target version, from its current images (and, for the chart, the images the target chart renders)."""


class UnknownMechanism(ValueError):
    pass


_REGISTRY: dict[str, Mechanism] = {}
DEFAULT, CHART = "images", "chart"


def register(mechanism: Mechanism) -> Mechanism:
    _REGISTRY[mechanism.name] = mechanism
    return mechanism


def mechanism_for(spec: UpgradePlanSpec) -> Mechanism:
    """The mechanism a plan uses: the plugin's helm chart with spec.chart, else the image patch."""
    name = CHART if spec.chart else DEFAULT
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMechanism(f"no mechanism {name!r} is registered (import cniupgrade.mechanisms)") from None
