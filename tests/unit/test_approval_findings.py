"""A failed check may ask for approval (Finding.needs_approval, e.g. a breaking release): the plan then waits
for spec.approved even without spec.requireApproval, and the check never blocks it otherwise."""
from __future__ import annotations

from dataclasses import replace

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.preflight.framework import Finding, Severity, Verdict
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from tests.unit.builders import observe, spec

BREAKING = Finding("vendor.breaking", Severity.warning, False, "2.0.0 is a breaking release", "approve it",
                   needs_approval=True)
MISSING_CRD = Finding("vendor.crd", Severity.error, False, "a CRD is missing", migration="vendor.apply-crd")


def with_checks(*findings: Finding):
    return replace(observe(), preflight=Verdict(list(findings)))


def ready(status: UpgradePlanStatus):
    return next(c for c in status.conditions if c.type == "Ready")


def test_a_check_asking_for_approval_holds_the_plan_without_require_approval():
    waiting = decide(spec(preflight={"warningsBlock": True}), UpgradePlanStatus(), with_checks(BREAKING), 1)
    assert waiting.status.phase is Phase.awaiting_approval and not waiting.actions
    assert "vendor.breaking ask(s) for approval" in ready(waiting.status).message
    assert {c.id: c.result for c in waiting.status.checks} == {"vendor.breaking": "Failed"}
    passed = next(c for c in waiting.status.conditions if c.type == "PreflightPassed")
    assert passed.status == "True"  # not blocking, even with warningsBlock: approval resolves it


def test_once_approved_its_migrations_run_before_anything_else_changes():
    waiting = decide(spec(), UpgradePlanStatus(), with_checks(BREAKING, MISSING_CRD), 1)
    assert waiting.status.phase is Phase.awaiting_approval and not waiting.actions
    approved = decide(spec(approved=True), waiting.status, with_checks(BREAKING, MISSING_CRD), 2)
    assert approved.status.phase is Phase.migrating
    assert [a for a in approved.actions if isinstance(a, act.RunMigration)] == [act.RunMigration("vendor.apply-crd")]
    assert not [a for a in approved.actions if isinstance(a, act.TakeOwnership)]
    migrated = decide(spec(approved=True), approved.status, with_checks(BREAKING), 3)  # the CRD is there now
    assert [a for a in migrated.actions if isinstance(a, act.TakeOwnership)]


def test_a_passed_check_or_none_at_all_asks_nothing():
    fine = replace(BREAKING, passed=True)
    assert [a for a in decide(spec(), UpgradePlanStatus(), with_checks(fine), 1).actions
            if isinstance(a, act.TakeOwnership)]
