"""kstatus-compatible conditions (Ready, Reconciling, Stalled) plus our own, derived from the phase."""
from __future__ import annotations

from cniupgrade.api.status import TERMINAL_PHASES, Condition, Phase

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
PREFLIGHT_PASSED = "PreflightPassed"
DEGRADED = "Degraded"
IMAGES_PULLED = "ImagesPulled"

IN_PROGRESS = frozenset({Phase.pending, Phase.preflight, Phase.migrating, Phase.pre_pulling, Phase.control_plane,
                         Phase.canary, Phase.rolling, Phase.rolling_back})


def set_condition(conditions: list[Condition], type_: str, status: bool | None, reason: str, message: str,
                  now: str, generation: int | None) -> list[Condition]:
    """Return the list with `type_` set; lastTransitionTime changes only when the status does."""
    status_text = "Unknown" if status is None else ("True" if status else "False")
    existing = next((c for c in conditions if c.type == type_), None)
    transition = existing.last_transition_time if existing and existing.status == status_text else now
    updated = Condition(type=type_, status=status_text, reason=reason, message=message,
                        last_transition_time=transition, observed_generation=generation)
    return [c for c in conditions if c.type != type_] + [updated]


def lifecycle_conditions(conditions: list[Condition], phase: Phase, reason: str, message: str, now: str,
                         generation: int | None, blocked: bool = False) -> list[Condition]:
    """Ready/Reconciling/Stalled as kstatus and `kubectl wait --for=condition=Ready` read them.

    `blocked`: not finished, but nothing moves until someone acts (a failed pre-flight check)."""
    succeeded = phase is Phase.succeeded
    stalled = blocked or (phase in TERMINAL_PHASES and not succeeded)
    ready_message = message if message else ("upgrade complete" if succeeded else phase.value)
    conditions = set_condition(conditions, READY, succeeded, "Succeeded" if succeeded else reason, ready_message,
                               now, generation)
    reconciling = phase in IN_PROGRESS and not blocked
    conditions = set_condition(conditions, RECONCILING, reconciling, reason if reconciling else "Idle",
                               message if reconciling else "", now, generation)
    return set_condition(conditions, STALLED, stalled, reason if stalled else "NotStalled",
                         message if stalled else "", now, generation)
