"""The order of UK8S cni-vpc's tags, as the vendor released them (see shared/reference/uk8s-cni-vpc.md).

Two schemes: date tags YY.MM.patch (20.07.1 ... 22.05.1) came before 1.0.0, so every date tag is older than
every semantic one, whatever their numbers say. `-lts` tags (1.0.3-lts, 1.0.4-lts) are the LTS line: they
continue the release whose number they carry (1.0.3-lts follows 1.0.2 and precedes 1.1.0), and an LTS-only
cluster moves along them alone. `dev-<sha>` builds, and anything else, are not ordered (None).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

LTS_SUFFIX = "-lts"
_TAG = re.compile(r"^(\d+)\.(\d+)\.(\d+)(-lts)?$")
FIRST_DATE_YEAR = 20  # date tags start at 20.07.1; no semantic major is that high
DATE_ERA, SEMANTIC_ERA = 0, 1


@dataclass(frozen=True, order=True)
class Uk8sVersion:
    """A sortable cni-vpc tag: the era first, then the numbers, then LTS after a plain tag of the same number."""
    era: int
    numbers: tuple[int, int, int]
    lts: bool

    def __str__(self) -> str:
        return ".".join(map(str, self.numbers)) + (LTS_SUFFIX if self.lts else "")


def uk8s_version(tag: str | None) -> Uk8sVersion | None:
    """The tag's place in the vendor's order; None when it has none (dev-<sha>, empty, or not a release tag)."""
    match = _TAG.match((tag or "").strip())
    if not match:
        return None
    numbers = (int(match[1]), int(match[2]), int(match[3]))
    dated = numbers[0] >= FIRST_DATE_YEAR
    if dated and not 1 <= numbers[1] <= 12:
        return None  # YY.MM.patch with no such month
    if dated and match[4]:
        return None  # the LTS line began with 1.0.3-lts: no dated LTS tag exists
    return Uk8sVersion(DATE_ERA if dated else SEMANTIC_ERA, numbers, bool(match[4]))


def is_lts(tag: str | None) -> bool:
    version = uk8s_version(tag)
    return version is not None and version.lts


def at_least(tag: str | None, floor: str) -> bool | None:
    """Whether `tag` is `floor` or later; None when the tag is not ordered."""
    version = uk8s_version(tag)
    return None if version is None else version >= uk8s_version(floor)


def lts_move_refusal(installed: str | None, target: str) -> str | None:
    """Why installed -> target leaves the LTS line, which an LTS-only cluster (its Kubernetes minor no longer
    maintained) must keep to: only to an -lts tag, and only forward. None: the move follows it."""
    if not is_lts(target):
        return f"{target} is not an -lts version"
    was = uk8s_version(installed)
    if was is not None and uk8s_version(target) < was:
        return f"{target} is older than the installed {installed}: the LTS line only moves forward"
    return None
