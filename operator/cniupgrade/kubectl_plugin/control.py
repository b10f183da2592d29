"""approve, pause, resume, retry, rollback: each one merge patch (patches.py) of what README.md documents, after
the checks that keep a request from acting later than meant. Each prints one line, as kubectl does."""
from __future__ import annotations

import time
from typing import TextIO

from cniupgrade.api.models import RETRY_ANNOTATION, ROLLBACK_ANNOTATION
from cniupgrade.kubectl_plugin import patches
from cniupgrade.kubectl_plugin.ended import condition
from cniupgrade.kubectl_plugin.failures import EXIT_BLOCKED, EXIT_OK, PluginError
from cniupgrade.kubectl_plugin.identity import who_am_i
from cniupgrade.kubectl_plugin.plan_api import PlanApi

RETRYABLE = ("Failed", "RolledBack")  # the operator acts on a retry only there (rollout/steps/checks.py)
OUTDATED = "ApprovalOutdated"


def resource(plans: PlanApi) -> str:
    return f"upgradeplan.cniupgrade.io/{plans.name}"


def annotation(plan: dict, key: str) -> str | None:
    return ((plan.get("metadata") or {}).get("annotations") or {}).get(key)


def approve(plans: PlanApi, out: TextIO, wait_seconds: float) -> int:
    """spec.approved: true. An approval left from an earlier spec (reason ApprovalOutdated) counts for nothing
    until approved has been false: it is set false, the operator seen to take it, then true."""
    plan = plans.get()
    spec, status = plan.get("spec") or {}, plan.get("status") or {}
    renewed = bool(spec.get("approved")) and condition(status, "Ready").get("reason") == OUTDATED
    if renewed:
        unapproved = plans.patch(patches.unapprove())
        wait_until_taken(plans, unapproved, wait_seconds)
    plans.patch(patches.approve())
    note = " (its approval was for an earlier spec: set false, then true)" if renewed else ""
    if not spec.get("requireApproval") and status.get("phase") != "AwaitingApproval":
        note = " (the plan does not wait for approval: spec.requireApproval is false)"
    out.write(f"{resource(plans)} approved{note}\n")
    return EXIT_OK


def wait_until_taken(plans: PlanApi, patched: dict, wait_seconds: float) -> None:
    """Until the operator has decided the plan with approved: false (its Ready reason is no longer outdated)."""
    generation = (patched.get("metadata") or {}).get("generation") or 0

    def taken(plan: dict) -> bool:
        ready = condition(plan.get("status") or {}, "Ready")
        return ready.get("reason") != OUTDATED and (ready.get("observedGeneration") or 0) >= generation

    if taken(patched):
        return
    for _, plan in plans.changes(patched["metadata"]["resourceVersion"], time.monotonic() + wait_seconds):
        if taken(plan):
            return
    raise PluginError(EXIT_BLOCKED, f"the operator did not act on spec.approved: false within {wait_seconds:.0f}s "
                                    "(is it running?); approved is false now: run approve again")


def pause(plans: PlanApi, out: TextIO) -> int:
    plans.patch(patches.pause())
    out.write(f"{resource(plans)} paused (spec.paused: true): nodes in flight finish, no new node starts\n")
    return EXIT_OK


def resume(plans: PlanApi, out: TextIO) -> int:
    plans.patch(patches.resume())
    out.write(f"{resource(plans)} resumed (spec.paused: false)\n")
    return EXIT_OK


def retry(plans: PlanApi, out: TextIO) -> int:
    """Refused unless the plan is Failed or RolledBack: a value set earlier would retry a later failure by
    itself, with nobody asking."""
    plan = plans.get()
    phase = (plan.get("status") or {}).get("phase") or "Pending"
    if phase not in RETRYABLE:
        raise PluginError(EXIT_BLOCKED, f"{resource(plans)} is {phase}: only a Failed or RolledBack plan is retried")
    patched = plans.patch(patches.retry(annotation(plan, RETRY_ANNOTATION)))
    out.write(f"{resource(plans)} retry requested ({RETRY_ANNOTATION}={annotation(patched, RETRY_ANNOTATION)}): "
              "it plans again from the cluster as it is\n")
    return EXIT_OK


def rollback(plans: PlanApi, out: TextIO, reason: str) -> int:
    """In any phase, also after Succeeded. The value names who (as the API server says) and why."""
    plan = plans.get()
    body = patches.rollback(reason, who_am_i(plans.api), annotation(plan, ROLLBACK_ANNOTATION))
    patched = plans.patch(body)
    out.write(f'{resource(plans)} rollback requested ({ROLLBACK_ANNOTATION}="'
              f'{annotation(patched, ROLLBACK_ANNOTATION)}")\n')
    return EXIT_OK
