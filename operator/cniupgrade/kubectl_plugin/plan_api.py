"""The UpgradePlan reads and writes the plugin makes, each with a timeout, its errors as PluginErrors. Writes are
merge patches by the field manager kubectl-cniupgrade: the operator reads who asked for a rollback from the
plan's managedFields (rollout/rollback_request.py), and that name says it was this plugin."""
from __future__ import annotations

import math
import time
from typing import Iterator

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from cniupgrade.api import models
from cniupgrade.api.roster import RosterMissing
from cniupgrade.kubectl_plugin.connection import REQUEST_SECONDS
from cniupgrade.kube.rosters import RosterReader
from cniupgrade.kubectl_plugin.failures import EXIT_BAD_INPUT, EXIT_NO_CLUSTER, PluginError, from_api_exception

FIELD_MANAGER = "kubectl-cniupgrade"
WATCH_SECONDS = 60  # the server ends each watch after this long; the next starts from the last version seen
GONE = 410


class PlanApi:
    def __init__(self, api: client.ApiClient, namespace: str, name: str):
        self.api, self.namespace, self.name = api, namespace, name
        self.custom = client.CustomObjectsApi(api)
        self.rosters = RosterReader(api, namespace)

    def get(self) -> dict:
        try:
            return self.whole(self.custom.get_namespaced_custom_object(
                models.GROUP, models.VERSION, self.namespace, models.PLURAL, self.name,
                _request_timeout=REQUEST_SECONDS))
        except (ApiException, HTTPError, OSError) as exc:
            raise self.failure(exc) from exc

    def whole(self, plan: dict) -> dict:
        """The plan with its node names read back from its UpgradePlanRoster (plans of more than 2000 nodes)."""
        try:
            return {**plan, "status": self.rosters.whole_status(plan.get("status"))} if plan.get("status") else plan
        except RosterMissing as exc:
            raise PluginError(EXIT_NO_CLUSTER, str(exc)) from exc

    def patch(self, body: dict) -> dict:
        """A JSON merge patch (what the client sends for a dict body to a custom object)."""
        try:
            return self.custom.patch_namespaced_custom_object(
                models.GROUP, models.VERSION, self.namespace, models.PLURAL, self.name, body,
                field_manager=FIELD_MANAGER, _request_timeout=REQUEST_SECONDS)
        except (ApiException, HTTPError, OSError) as exc:
            raise self.failure(exc) from exc

    def changes(self, resource_version: str, deadline: float | None = None) -> Iterator[tuple[str, dict]]:
        """(event type, plan) for each change after `resource_version`, for as long as the caller reads or until
        the `deadline` (time.monotonic()). A watch the server ends (its timeout) goes on from the last version
        seen; one whose version expired (410 Gone) from the plan read afresh, which is yielded too. Ends after
        DELETED."""
        while deadline is None or time.monotonic() < deadline:
            seconds = WATCH_SECONDS if deadline is None else max(1, math.ceil(deadline - time.monotonic()))
            try:
                for kind, plan in self._watch(resource_version, min(seconds, WATCH_SECONDS)):
                    resource_version = plan["metadata"]["resourceVersion"]
                    yield kind, plan if kind == "DELETED" else self.whole(plan)
                    if kind == "DELETED":
                        return
            except ApiException as exc:
                if exc.status != GONE:
                    raise self.failure(exc) from exc
                plan = self.get()
                resource_version = plan["metadata"]["resourceVersion"]
                yield "MODIFIED", plan
            except (HTTPError, OSError) as exc:
                raise self.failure(exc) from exc

    def _watch(self, resource_version: str, seconds: int) -> Iterator[tuple[str, dict]]:
        stream = watch.Watch()
        try:
            for event in stream.stream(self.custom.list_namespaced_custom_object, models.GROUP, models.VERSION,
                                       self.namespace, models.PLURAL, field_selector=f"metadata.name={self.name}",
                                       resource_version=resource_version, timeout_seconds=seconds,
                                       _request_timeout=seconds + REQUEST_SECONDS):
                yield event["type"], event["object"]
        finally:
            stream.stop()

    def failure(self, exc: Exception) -> PluginError:
        if isinstance(exc, ApiException):
            error = from_api_exception(exc, self.name, self.namespace)
            if error.code == EXIT_BAD_INPUT and exc.status == 404 and self._namespace_missing():
                return PluginError(EXIT_BAD_INPUT, f'namespace "{self.namespace}" not found')
            return error
        return PluginError(EXIT_NO_CLUSTER, f"cannot reach the cluster at {self.api.configuration.host}: "
                                            f"{type(exc).__name__}")

    def _namespace_missing(self) -> bool:
        """Whether a plan not found is so because its namespace is not there (a refused read says nothing)."""
        try:
            client.CoreV1Api(self.api).read_namespace(self.namespace, _request_timeout=REQUEST_SECONDS)
        except ApiException as exc:
            return exc.status == 404
        except (HTTPError, OSError):
            return False
        return False
