"""seams.cluster's reads and writes over the API: raw JSON through the client's generic call, any resource by
group, version and plural (as client-go's dynamic client does)."""
from __future__ import annotations

import json
import os
from typing import Iterator, Mapping

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.kube.client import PAGE, interleave
from cniupgrade.seams.cluster import Forbidden, Resource

FIELD_MANAGER = "cniupgrade"
# Objects per list page; tests set it small so that a few objects already span several pages.
PAGE_SIZE = int(os.environ.get("CNIUPGRADE_PAGE_SIZE", PAGE))


def path_of(resource: Resource, namespace: str | None = None, name: str | None = None) -> str:
    path = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    if namespace and resource.namespaced:
        path += f"/namespaces/{namespace}"
    path += f"/{resource.plural}"
    return f"{path}/{name}" if name else path


class KubeCluster:
    """Reads and writes as the identity of `api` (the operator's, or a plan's impersonated account)."""

    def __init__(self, api: client.ApiClient):
        self.api = api

    def _call(self, method: str, path: str, query: list | None = None, body=None,
              content_type: str | None = None) -> dict | None:
        headers = {"Accept": "application/json", **({"Content-Type": content_type} if content_type else {})}
        request = self.api.param_serialize(method=method, resource_path=path, query_params=query or [],
                                           header_params=headers, body=body, auth_settings=["BearerToken"])
        response = self.api.call_api(*request)
        response.read()
        if response.status == 403:
            raise Forbidden(response.data.decode(errors="replace") if response.data else "forbidden")
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return json.loads(response.data) if response.data else None

    # ---- reads ---------------------------------------------------------------------------------------
    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict | None:
        try:
            return self._call("GET", path_of(resource, namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def pages(self, resource: Resource, namespace: str | None = None,
              label_selector: str | None = None) -> Iterator[list[dict]]:
        token = None
        while True:
            query = [("limit", PAGE_SIZE)] + ([("labelSelector", label_selector)] if label_selector else []) + (
                [("continue", token)] if token else [])
            page = self._call("GET", path_of(resource, namespace), query) or {}
            yield page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def interleave(self, streams: Mapping[str, Iterator[list[dict]]]) -> Iterator[tuple[str, list[dict]]]:
        return interleave(streams)

    def serves(self, resource: Resource) -> bool:
        try:
            self._call("GET", path_of(resource), [("limit", 1)])
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def kubernetes_version(self) -> str:
        return client.VersionApi(self.api).get_code().git_version

    # ---- writes --------------------------------------------------------------------------------------
    def patch(self, resource: Resource, name: str, namespace: str | None, body: dict,
              subresource: str | None = None) -> None:
        path = path_of(resource, namespace, name) + (f"/{subresource}" if subresource else "")
        self._call("PATCH", path, body=body, content_type="application/merge-patch+json")

    def delete(self, resource: Resource, name: str, namespace: str | None, uid: str | None = None) -> None:
        body = {"preconditions": {"uid": uid}} if uid else None
        try:
            self._call("DELETE", path_of(resource, namespace, name), body=body)
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone already, or another object of that name by now
                raise

    def apply(self, resource: Resource, manifest: dict) -> None:
        meta = manifest["metadata"]
        self._call("PATCH", path_of(resource, meta.get("namespace"), meta["name"]),
                   [("fieldManager", FIELD_MANAGER), ("force", "true")], body=manifest,
                   content_type="application/apply-patch+yaml")
