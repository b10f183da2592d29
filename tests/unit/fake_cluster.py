"""A plain fake of seams.cluster's reads and writes: objects by resource, paged lists, recorded calls."""
from __future__ import annotations

from typing import Iterator, Mapping

from cniupgrade.seams.cluster import Forbidden, Resource


class FakeCluster:
    def __init__(self, objects: Mapping[str, list[dict]] | None = None, page: int = 40,
                 forbidden: frozenset[str] = frozenset(), served_versions: frozenset[str] = frozenset({"v2beta1"}),
                 version: str = "v1.36.3"):
        """`objects`: plural -> objects (namespaced ones carry metadata.namespace)."""
        self.objects = {k: list(v) for k, v in (objects or {}).items()}
        self.page, self.forbidden, self.served_versions, self.version = page, forbidden, served_versions, version
        self.lists: list[tuple[str, str | None]] = []  # (plural, namespace) of every list
        self.writes: list[tuple] = []

    def _matching(self, resource: Resource, namespace: str | None, label_selector: str | None) -> list[dict]:
        wanted = dict(pair.split("=", 1) for pair in label_selector.split(",")) if label_selector else {}
        return [o for o in self.objects.get(resource.plural, [])
                if (namespace is None or o["metadata"].get("namespace") == namespace)
                and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict | None:
        return next((o for o in self._matching(resource, namespace, None) if o["metadata"]["name"] == name), None)

    def pages(self, resource: Resource, namespace: str | None = None,
              label_selector: str | None = None) -> Iterator[list[dict]]:
        if resource.plural in self.forbidden:
            raise Forbidden(f"{resource.plural} may not be listed")
        self.lists.append((resource.plural, namespace))
        found = self._matching(resource, namespace, label_selector)
        for start in range(0, max(len(found), 1), self.page):
            yield found[start:start + self.page]

    def interleave(self, streams: Mapping[str, Iterator[list[dict]]]) -> Iterator[tuple[str, list[dict]]]:
        for name, stream in streams.items():
            for page in stream:
                yield name, page

    def serves(self, resource: Resource) -> bool:
        return resource.version in self.served_versions

    def kubernetes_version(self) -> str:
        return self.version

    def patch(self, resource: Resource, name: str, namespace: str | None, body: dict,
              subresource: str | None = None) -> None:
        plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
        self.writes.append(("patch", plural, namespace, name, body))

    def delete(self, resource: Resource, name: str, namespace: str | None, uid: str | None = None) -> None:
        self.writes.append(("delete", resource.plural, namespace, name, uid))

    def apply(self, resource: Resource, manifest: dict) -> None:
        self.writes.append(("apply", resource.plural, manifest["metadata"]["name"]))
