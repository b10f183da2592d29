"""Whether spiderpool-controller can answer its webhooks. They are failurePolicy Fail with no selector: while no
controller replica is Ready, every CREATE and UPDATE of SpiderIPPools and SpiderSubnets (metadata patches too) is
refused, so the migrations that change them run only while the controller Deployment reports a Ready replica."""
from __future__ import annotations

from typing import Mapping

from cniupgrade.plugins.spiderpool import facts


def controller_unready(deployment: Mapping | None, namespace: str) -> str | None:
    """Why the controller cannot serve its webhooks now (None: it can), from the Deployment's status."""
    where = f"Deployment {namespace}/{facts.CONTROLLER_DEPLOYMENT}"
    if deployment is None:
        return f"{where} not found"
    status = deployment.get("status") or {}
    ready, wanted = status.get("readyReplicas") or 0, (deployment.get("spec") or {}).get("replicas", 1)
    if ready < 1:
        return f"{where} has {ready}/{wanted} Ready replicas"
    return None


def webhook_refusal(reason: str) -> str:
    return (f"{facts.CONTROLLER_DEPLOYMENT} is not Ready ({reason}): its webhooks (failurePolicy Fail) would refuse "
            f"every change to SpiderIPPools and SpiderSubnets. Bring the controller back, then the migration runs "
            f"again")
