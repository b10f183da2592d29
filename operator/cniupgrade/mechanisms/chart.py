"""The helm chart: the release is upgraded to the target chart (the user's values carried over) with the agent
DaemonSet held at OnDelete by the plugin's hold values; the agent is then rolled node by node, and the release
upgraded once more without the hold, which changes only the update strategy (no agent restarts again)."""
from __future__ import annotations

from typing import Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.seams.mechanism import CHART, register
from cniupgrade.seams.plugin import Plugin


class ChartUpgrade:
    name = CHART

    def target_images(self, plugin: Plugin, spec: UpgradePlanSpec, current: Mapping[str, str],
                      rendered: Mapping[str, str] | None = None) -> dict[str, str]:
        """What the target chart renders (new containers included), not a re-tag."""
        return dict(rendered) if rendered is not None else dict(current)


register(ChartUpgrade())
