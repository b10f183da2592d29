"""Image references, as the plugins read and re-tag them."""
from __future__ import annotations

from typing import Mapping


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


def image_name(image: str) -> str:
    """The last part of the repository: 'ghcr.io/org/agent:v1' -> 'agent'."""
    return split_image(image)[0].rsplit("/", 1)[-1]


def first_tag(images: Mapping[str, str]) -> str | None:
    """The tag of the first container that has one."""
    for image in images.values():
        tag = split_image(image)[1]
        if tag:
            return tag
    return None
