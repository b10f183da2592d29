"""A plan outside its namespace boundary is blocked before anything is read or changed, and says why."""
from __future__ import annotations

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.policy import SecurityPolicy
from cniupgrade.preflight.security_checks import namespace_boundary
from cniupgrade.rollout.decide import decide, spec_digest
from cniupgrade.rollout.observation import Observation
from tests.unit.builders import PLAN, T0, spec


def refused_observation() -> Observation:
    return Observation.refused(T0, PLAN, namespace_boundary("ops", "cni", SecurityPolicy()))


def condition(status, type_):
    return next(c for c in status.conditions if c.type == type_)


def test_an_out_of_bounds_plan_stops_in_preflight_with_the_check_and_no_action():
    decision = decide(spec(), UpgradePlanStatus(), refused_observation(), generation=1)
    assert decision.status.phase is Phase.preflight and not decision.actions
    (check,) = decision.status.checks
    assert check.id == "security.namespace-boundary" and check.result == "Failed" and check.severity == "Error"
    assert condition(decision.status, "Stalled").status == "True"
    assert condition(decision.status, "PreflightPassed").reason == "ChecksFailed"
    assert {e.reason for e in decision.events} >= {"CheckFailed", "PreflightBlocked"}
    assert decision.status.plan is None and not decision.status.target_images  # nothing of namespace cni is shown
    again = decide(spec(), decision.status, refused_observation(), generation=1)
    assert again.status.phase is Phase.preflight and not again.events  # reported once


def test_a_running_plan_whose_namespace_is_no_longer_trusted_stops_acting():
    running = UpgradePlanStatus(phase=Phase.rolling, started_at="2026-11-23T11:00:00Z",
                                spec_hash=spec_digest(spec()))
    decision = decide(spec(), running, refused_observation(), generation=1)
    assert decision.status.phase is Phase.preflight and not decision.actions


def test_a_finished_plan_stays_finished():
    done = UpgradePlanStatus(phase=Phase.succeeded, spec_hash=spec_digest(spec()))
    assert decide(spec(), done, refused_observation(), generation=1).status.phase is Phase.succeeded
