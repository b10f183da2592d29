"""The check framework: version parsing, note ranges, skipping, blocking."""
from __future__ import annotations

from packaging.version import Version

from cniupgrade.preflight.framework import Check, Crossing, Finding, Severity, evaluate, parse_version


def finding(check_id, severity=Severity.error, passed=False, migration=None):
    return lambda snap: Finding(check_id, severity, passed, "m", migration=migration)


def test_versions_in_the_wild():
    assert parse_version("v1.2.3") == Version("1.2.3")
    assert parse_version("1.0.3-lts") == Version("1.0.3")
    assert parse_version("dev-abc123") is None and parse_version(None) is None


def test_a_note_applies_only_when_the_upgrade_crosses_its_range():
    below_0_4 = Crossing(("<0.4.0",))
    assert below_0_4.applies(Version("0.3.5"), Version("0.9.5"))
    assert not below_0_4.applies(Version("0.4.0"), Version("0.9.5"))
    assert not below_0_4.applies(Version("0.3.1"), Version("0.3.9"))  # stays below: the change is not crossed
    assert below_0_4.applies(None, Version("0.9.5"))  # unknown installed version: let the check look
    union = Crossing(("<=0.8.7", ">=0.9.0,<=0.9.4"))
    assert union.applies(Version("0.9.2"), Version("0.9.5")) and union.applies(Version("0.8.1"), Version("0.8.8"))
    assert not union.applies(Version("0.8.8"), Version("0.9.5"))


def test_order_skip_and_blocking():
    checks = [Check("b", "b", finding("b", Severity.warning), order=2),
              Check("a", "a", finding("a"), Crossing(("<1.0.0",)), order=1),
              Check("c", "c", finding("c", migration="fix-c"), order=3),
              Check("d", "d", finding("d"), order=4)]
    verdict = evaluate(checks, None, Version("0.5"), Version("1.1"), skip=["d"])
    assert [f.check_id for f in verdict.findings] == ["a", "b", "c"] and verdict.skipped == ["d"]
    assert [f.check_id for f in verdict.blocking(warnings_block=False)] == ["a"]  # c has a migration
    assert [f.check_id for f in verdict.blocking(warnings_block=True)] == ["a", "b"]
    assert [f.check_id for f in verdict.migrations()] == ["c"]
    assert [f.check_id for f in evaluate(checks, None, Version("1.0"), Version("1.1")).findings] == ["b", "c", "d"]


def test_named_objects_are_bounded():
    many = Finding("x", Severity.error, False, "m", objects=tuple(f"o{i}" for i in range(25)))
    assert many.named_objects.endswith("o19 and 5 more")


def test_a_downgrade_needs_to_be_asked_for():
    from cniupgrade.preflight.generic_checks import VersionsSnapshot, downgrade
    assert not downgrade(VersionsSnapshot("v1.4.2", "v1.3.9", False)).passed
    assert "allowDowngrade" in downgrade(VersionsSnapshot("1.4.2", "1.3.9", False)).remediation
    assert downgrade(VersionsSnapshot("1.4.2", "1.3.9", True)).passed
    assert downgrade(VersionsSnapshot("1.4.2", "1.4.2", False)).passed
    assert downgrade(VersionsSnapshot(None, "1.0.0", False)).passed  # unknown installed: nothing to compare
    assert downgrade(VersionsSnapshot("1.0.3-lts", "1.3.0", False)).passed
