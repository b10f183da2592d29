"""The image patch: the workload templates get the images spec.daemonSet.images names, and the plugin's own
images re-tagged to the target version. The agent is held at OnDelete and its pods replaced node by node."""
from __future__ import annotations

from typing import Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.seams.mechanism import register
from cniupgrade.seams.plugin import Plugin


class ImagePatch:
    name = "images"

    def target_images(self, plugin: Plugin, spec: UpgradePlanSpec, current: Mapping[str, str],
                      rendered: Mapping[str, str] | None = None) -> dict[str, str]:
        named = spec.daemon_set.images if spec.daemon_set and spec.daemon_set.images else {}
        return {container: named.get(container) or plugin.retag(spec, image) for container, image in current.items()}


register(ImagePatch())
