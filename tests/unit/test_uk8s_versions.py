"""UK8S cni-vpc's release order, over every published tag: date tags before 1.0.0, the -lts line, dev unordered."""
from __future__ import annotations

import itertools

import pytest

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.uk8s.versions import is_lts, lts_move_refusal, uk8s_version
from cniupgrade.preflight.generic_checks import VersionsSnapshot, downgrade
from cniupgrade.seams.plugin import plugin_for, version_order

# Every published tag, oldest first, as the vendor released them (1.0.3-lts and 1.0.4-lts continue 1.0.2).
RELEASES = ["20.07.1", "20.09.1", "20.10.1", "21.03.1", "21.06.1", "21.09.1", "22.01.1", "22.05.1",
            "1.0.0", "1.0.1", "1.0.2", "1.0.3-lts", "1.0.4-lts", "1.1.0", "1.2.0", "1.2.1", "1.2.2", "1.2.3",
            "1.3.0", "1.3.1", "1.3.2", "1.3.3", "1.3.4", "1.3.5", "2.0.0", "2.0.1", "2.0.2", "2.0.3"]
LTS = [t for t in RELEASES if t.endswith("-lts")]
DEV = "dev-3f2a9c1"
UK8S = UpgradePlanSpec.model_validate({"plugin": "uk8s-cni-vpc", "targetVersion": "1.3.0"})


@pytest.mark.parametrize(("older", "newer"), list(itertools.combinations(RELEASES, 2)))
def test_every_tag_is_older_than_every_later_one(older, newer):
    assert uk8s_version(older) < uk8s_version(newer)


def test_sorting_the_tags_gives_the_release_order():
    assert sorted(reversed(RELEASES), key=uk8s_version) == RELEASES
    assert str(uk8s_version("1.0.4-lts")) == "1.0.4-lts" and uk8s_version(" 1.3.0 ") == uk8s_version("1.3.0")


@pytest.mark.parametrize("tag", [DEV, "dev-1234567", "", None, "v1.3.0", "1.3", "1.3.0-rc1", "22.13.1",
                                 "22.05.1-lts", "latest"])
def test_what_is_not_a_release_tag_has_no_place_in_the_order(tag):
    assert uk8s_version(tag) is None and not is_lts(tag)


@pytest.mark.parametrize(("installed", "target"), list(itertools.product(RELEASES + [DEV, None], LTS)))
def test_an_lts_only_cluster_moves_only_forward_along_the_lts_line(installed, target):
    refusal = lts_move_refusal(installed, target)
    ordered = uk8s_version(installed)
    if ordered is None or ordered <= uk8s_version(target):  # forward (or staying); unknown: cannot tell otherwise
        assert refusal is None
    else:
        assert "only moves forward" in refusal and installed in refusal


@pytest.mark.parametrize("target", [t for t in RELEASES if t not in LTS] + [DEV])
def test_an_lts_only_cluster_may_not_leave_the_lts_line(target):
    assert "is not an -lts version" in lts_move_refusal("1.0.3-lts", target)
    assert "is not an -lts version" in lts_move_refusal("22.05.1", target)


@pytest.mark.parametrize(("installed", "target"), list(itertools.combinations(RELEASES, 2)))
def test_the_common_downgrade_check_follows_the_vendors_order(installed, target):
    order = version_order(plugin_for(UK8S))
    assert downgrade(VersionsSnapshot(installed, target, False, order)).passed
    backwards = downgrade(VersionsSnapshot(target, installed, False, order))
    assert not backwards.passed and f"older than the installed {target}" in backwards.message


def test_the_date_era_upgrade_the_semantic_order_got_wrong():
    order = version_order(plugin_for(UK8S))
    assert downgrade(VersionsSnapshot("22.05.1", "1.3.0", False, order)).passed
    assert not downgrade(VersionsSnapshot("1.3.0", "22.05.1", False, order)).passed
    # Dev builds are unordered: the downgrade check cannot compare them (spec.uk8s.force covers them instead).
    assert downgrade(VersionsSnapshot(DEV, "1.3.0", False, order)).passed
    assert downgrade(VersionsSnapshot("1.3.0", DEV, False, order)).passed


def test_other_plugins_keep_the_semantic_order():
    spiderpool = UpgradePlanSpec.model_validate({"plugin": "spiderpool", "targetVersion": "1.0.0"})
    order = version_order(plugin_for(spiderpool))
    assert order("v1.2.3") < order("1.10.0")
    assert not downgrade(VersionsSnapshot("22.05.1", "1.3.0", False, order)).passed  # as versions: a downgrade
