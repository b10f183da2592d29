"""Pre-flight checks: ids, severities, findings that name objects, remediations, and version-ranged notes.

A check is a pure function of what was observed. A vendor note applies cumulatively: from the installed
version, every note whose range the upgrade crosses applies, in order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Generic, Iterable, TypeVar

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

MAX_NAMED_OBJECTS = 20
Snapshot = TypeVar("Snapshot")


class Severity(str, Enum):
    error = "Error"  # blocks the upgrade
    warning = "Warning"  # blocks only with spec.preflight.warningsBlock
    info = "Info"


def parse_version(text: str | None) -> Version | None:
    """'v1.2.3', '1.0.3-lts' and such; None when it is not a version (e.g. dev-<sha>)."""
    if not text:
        return None
    cleaned = text.strip().lstrip("vV").replace("-lts", "")
    try:
        return Version(cleaned)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class Crossing:
    """A note applies when the installed version is in one of the ranges and the target leaves that range."""
    ranges: tuple[str, ...]  # PEP 440 specifiers, e.g. ("<0.4.0",) or ("<=0.8.7", ">=0.9.0,<=0.9.4")

    def applies(self, installed: Version | None, target: Version) -> bool:
        if installed is None:
            return True  # unknown installed version: assume the note may apply and let the check look
        specs = [SpecifierSet(r) for r in self.ranges]
        return any(installed in spec and target not in spec for spec in specs)


@dataclass(frozen=True)
class Finding:
    check_id: str
    severity: Severity
    passed: bool
    message: str
    remediation: str = ""
    objects: tuple[str, ...] = ()
    migration: str | None = None  # the migration that fixes it, when there is one
    after_upgrade: str = ""  # what to do once the upgrade has succeeded (posted as a FollowUp Event then)
    # Failed, it holds the plan for spec.approved even without spec.requireApproval (say a breaking release): the
    # admin resolves it by approving, so it never blocks.
    needs_approval: bool = False

    @property
    def named_objects(self) -> str:
        shown = ", ".join(self.objects[:MAX_NAMED_OBJECTS])
        more = len(self.objects) - MAX_NAMED_OBJECTS
        return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Check(Generic[Snapshot]):
    id: str
    title: str
    run: Callable[[Snapshot], Finding]
    when: Crossing | None = None  # None: applies to every upgrade
    order: int = 0  # notes are reported in the vendor's order (oldest version first)

    def applies(self, installed: Version | None, target: Version | None) -> bool:
        return self.when is None or target is None or self.when.applies(installed, target)


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def blocking(self, warnings_block: bool) -> list[Finding]:
        blocking = {Severity.error} | ({Severity.warning} if warnings_block else set())
        return [f for f in self.findings if not f.passed and f.severity in blocking and not f.migration
                and not f.needs_approval]

    def migrations(self) -> list[Finding]:
        return [f for f in self.findings if not f.passed and f.migration]

    def approvals(self) -> list[Finding]:
        """Failed findings that make the plan wait for spec.approved."""
        return [f for f in self.findings if not f.passed and f.needs_approval]


def evaluate(checks: Iterable[Check], snapshot, installed: Version | None, target: Version | None,
             skip: Iterable[str] = ()) -> Verdict:
    skip = set(skip)
    verdict = Verdict()
    for check in sorted(checks, key=lambda c: c.order):
        if not check.applies(installed, target):
            continue
        if check.id in skip:
            verdict.skipped.append(check.id)
            continue
        verdict.findings.append(check.run(snapshot))
    return verdict
