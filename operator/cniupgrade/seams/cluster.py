"""How plugins read and change the cluster: a small interface that kube/ implements (kube/cluster.py) and tests
fake with plain objects. Objects are raw JSON (dicts); resources are named as the API names them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Protocol


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True


PODS = Resource("", "v1", "pods")
SECRETS = Resource("", "v1", "secrets")
CONFIGMAPS = Resource("", "v1", "configmaps")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False)
DAEMONSETS = Resource("apps", "v1", "daemonsets")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
STATEFULSETS = Resource("apps", "v1", "statefulsets")
REPLICASETS = Resource("apps", "v1", "replicasets")
JOBS = Resource("batch", "v1", "jobs")
CRONJOBS = Resource("batch", "v1", "cronjobs")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)


class StepStuck(RuntimeError):
    """A step that fails until someone acts (said in status and an Event, not only logged); `reason` names it."""
    reason = "StepFailed"


class Forbidden(Exception):
    """The identity reading or writing may not (HTTP 403); `body` is the API server's answer."""
    status, reason = 403, "Forbidden"

    def __init__(self, body: str):
        super().__init__(body)
        self.body = body


class ClusterReads(Protocol):
    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict | None:
        """The object, or None when it does not exist."""

    def pages(self, resource: Resource, namespace: str | None = None,
              label_selector: str | None = None) -> Iterator[list[dict]]:
        """Every object, a page at a time (cluster-wide when `namespace` is None)."""

    def interleave(self, streams: Mapping[str, Iterator[list[dict]]]) -> Iterator[tuple[str, list[dict]]]:
        """(stream name, page) from several paged lists fetched at once, as pages arrive."""

    def serves(self, resource: Resource) -> bool:
        """Whether the API server serves the resource (its CRD is installed, in that version)."""

    def kubernetes_version(self) -> str:
        """The API server's git version, e.g. v1.36.3."""


class ClusterWrites(Protocol):
    def patch(self, resource: Resource, name: str, namespace: str | None, body: dict,
              subresource: str | None = None) -> None:
        """A JSON merge patch; a metadata.resourceVersion in `body` makes a concurrent change fail instead.
        `subresource` (e.g. "status") patches that instead: a CRD's status.storedVersions is written only there."""

    def delete(self, resource: Resource, name: str, namespace: str | None, uid: str | None = None) -> None:
        """Delete, with the UID as precondition when given; gone already is fine."""

    def apply(self, resource: Resource, manifest: dict) -> None:
        """Server-side apply of a whole manifest, owning every field it sets."""


def items(reads: ClusterReads, resource: Resource, namespace: str | None = None,
          label_selector: str | None = None) -> Iterator[dict]:
    """Every object of a paged list, one at a time."""
    for page in reads.pages(resource, namespace, label_selector):
        yield from page


class ClusterAccess(ClusterReads, ClusterWrites, Protocol):
    """Reads and writes as one identity: the plan's (its impersonated ServiceAccount, or the operator)."""
