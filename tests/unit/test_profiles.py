"""Plugins: DaemonSets, target images (through the image mechanism), installed versions."""
from __future__ import annotations

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.seams.plugin import plugin_for
from tests.unit.builders import target_images

AGENT = {"spiderpool-agent": "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.4",
         "multus-cni": "ghcr.io/k8snetworkplumbingwg/multus-cni:v3.9.3",
         "install-plugins": "ghcr.io/spidernet-io/spiderpool/spiderpool-plugins:v0.9.4"}


def spiderpool(**kw) -> UpgradePlanSpec:
    return UpgradePlanSpec.model_validate({"plugin": "spiderpool", "targetVersion": "0.9.5", **kw})


def test_spiderpool_knows_its_daemonset_and_retags_only_its_own_images():
    plan = spiderpool()
    profile = plugin_for(plan)
    assert profile.daemonset_name(plan) == "spiderpool-agent"
    assert target_images(plan, AGENT) == {
        "spiderpool-agent": "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.5",
        "multus-cni": "ghcr.io/k8snetworkplumbingwg/multus-cni:v3.9.3",
        "install-plugins": "ghcr.io/spidernet-io/spiderpool/spiderpool-plugins:v0.9.5"}
    assert profile.installed_version(AGENT) == "0.9.4"


def test_spiderpool_overrides_win():
    plan = spiderpool(daemonSet={"name": "sp-agent", "images": {"spiderpool-agent": "mirror/agent:v0.9.5"}})
    profile = plugin_for(plan)
    assert profile.daemonset_name(plan) == "sp-agent"
    assert target_images(plan, AGENT)["spiderpool-agent"] == "mirror/agent:v0.9.5"
