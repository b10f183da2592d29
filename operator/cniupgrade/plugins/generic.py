"""The generic profile: any DaemonSet-based CNI. With spec.daemonSet.images, exactly the named containers
change; without it, every container's image is re-tagged with the target version."""
from __future__ import annotations

from typing import Mapping

from cniupgrade.api.models import UpgradePlanSpec


def split_image(image: str) -> tuple[str, str | None]:
    """('registry:5000/repo/name', 'tag') — a digest or a missing tag gives None."""
    repository = image.split("@", 1)[0]
    slash = repository.rfind("/")
    colon = repository.rfind(":")
    if colon > slash:
        return repository[:colon], repository[colon + 1:]
    return repository, None


def retag(image: str, tag: str) -> str:
    return f"{split_image(image)[0]}:{tag}"


def target_images(spec: UpgradePlanSpec, current: Mapping[str, str]) -> dict[str, str]:
    named = spec.daemon_set.images if spec.daemon_set else None
    if named:
        return {name: named.get(name, image) for name, image in current.items()}
    return {name: retag(image, spec.target_version) for name, image in current.items()}


def installed_version(images: Mapping[str, str]) -> str | None:
    """The tag of the first container that has one."""
    for image in images.values():
        tag = split_image(image)[1]
        if tag:
            return tag
    return None
