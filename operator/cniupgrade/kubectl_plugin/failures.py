"""What can go wrong, as the exit code and the one-line error the user sees (the codes of `cniupgrade plan`)."""
from __future__ import annotations

import json

from kubernetes.client.rest import ApiException

from cniupgrade.cli import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_NO_CLUSTER, EXIT_OK

__all__ = ["PluginError", "from_api_exception", "EXIT_OK", "EXIT_BAD_INPUT", "EXIT_BLOCKED", "EXIT_NO_CLUSTER"]


class PluginError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code

    @property
    def line(self) -> str:
        text = str(self)
        return f"error: {text.splitlines()[0] if text else text}"


def server_message(exc: ApiException) -> str:
    """The API server's own message (its Status object), else the HTTP reason."""
    try:
        return json.loads(exc.body or "{}").get("message") or exc.reason or ""
    except (TypeError, ValueError):
        return exc.reason or ""


def names_an_object(exc: ApiException) -> bool:
    """A 404 for a named object (details.name), not one for a resource the server does not serve at all."""
    try:
        return bool((json.loads(exc.body or "{}").get("details") or {}).get("name"))
    except (TypeError, ValueError):
        return False


def from_api_exception(exc: ApiException, plan: str, namespace: str) -> PluginError:
    """404: the plan is not there (bad input, 2), or the cluster does not serve UpgradePlans (3). 400/422: the
    server refused what we sent (2). 401/403 and anything else: this cluster cannot be asked (3)."""
    message = server_message(exc)
    if exc.status == 404:
        if names_an_object(exc):
            return PluginError(EXIT_BAD_INPUT, f'upgradeplan "{plan}" not found in namespace "{namespace}"')
        return PluginError(EXIT_NO_CLUSTER, "the cluster does not serve upgradeplans.cniupgrade.io (is the "
                                            f"operator's CRD installed?): {message}")
    if exc.status in (400, 422):
        return PluginError(EXIT_BAD_INPUT, f"the API server refused the change: {message}")
    if exc.status == 401:
        return PluginError(EXIT_NO_CLUSTER, f"the API server did not accept the credentials: {message}")
    if exc.status == 403:
        return PluginError(EXIT_NO_CLUSTER, f"forbidden: {message}")
    return PluginError(EXIT_NO_CLUSTER, f"the API server answered {exc.status} {exc.reason}: {message}")
