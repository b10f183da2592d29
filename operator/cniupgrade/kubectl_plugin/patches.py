"""The merge patches each command sends: the fields and annotations README.md documents, nothing else.

The retry and rollback annotations act once per value (status.lastHandledRetry, status.lastHandledRollback): each
request gets a fresh one, a UTC timestamp to the microsecond, unlike the value the plan holds."""
from __future__ import annotations

import datetime as dt

from cniupgrade.api.models import RETRY_ANNOTATION, ROLLBACK_ANNOTATION


def spec_patch(**fields: bool) -> dict:
    return {"spec": fields}


def approve() -> dict:
    return spec_patch(approved=True)


def unapprove() -> dict:
    return spec_patch(approved=False)


def pause() -> dict:
    return spec_patch(paused=True)


def resume() -> dict:
    return spec_patch(paused=False)


def timestamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fresh(value: str, current: str | None) -> str:
    """`value`, unless the plan already holds it (a request that would not act): then one made unique."""
    return value if value != current else f"{value}+1"


def retry(current: str | None, now: dt.datetime | None = None) -> dict:
    return {"metadata": {"annotations": {RETRY_ANNOTATION: fresh(timestamp(now), current)}}}


def rollback_value(reason: str, who: str, now: dt.datetime | None = None) -> str:
    """'alice: p99 latency up (2026-05-01T10:00:00.123456Z)': who and why, as README.md asks of the annotation, and
    when, which makes each request new."""
    return f"{who + ': ' if who else ''}{reason.strip() or 'rollback'} ({timestamp(now)})"


def rollback(reason: str, who: str, current: str | None, now: dt.datetime | None = None) -> dict:
    return {"metadata": {"annotations": {ROLLBACK_ANNOTATION: fresh(rollback_value(reason, who, now), current)}}}
