"""The generic profile's image rules."""
from __future__ import annotations

from cniupgrade.api.models import DaemonSetRef, UpgradePlanSpec
from cniupgrade.plugins.images import retag, split_image
from cniupgrade.seams.plugin import plugin_named
from tests.unit.builders import target_images

installed_version = plugin_named("generic").installed_version


def spec(**kw) -> UpgradePlanSpec:
    return UpgradePlanSpec(plugin="generic", target_version="v2.0.0", daemon_set=DaemonSetRef(name="a", **kw))


def test_split_and_retag_handle_registry_ports_and_digests():
    assert split_image("registry:5000/cni/agent:v1") == ("registry:5000/cni/agent", "v1")
    assert split_image("registry:5000/cni/agent") == ("registry:5000/cni/agent", None)
    assert split_image("cni/agent@sha256:abc") == ("cni/agent", None)
    assert retag("registry:5000/cni/agent@sha256:abc", "v2") == "registry:5000/cni/agent:v2"


def test_without_images_every_container_is_retagged():
    current = {"agent": "r/agent:v1", "install": "r/install:v1"}
    assert target_images(spec(), current) == {"agent": "r/agent:v2.0.0", "install": "r/install:v2.0.0"}


def test_named_images_change_only_those_containers():
    current = {"agent": "r/agent:v1", "sidecar": "other/sidecar:3.1"}
    assert target_images(spec(images={"agent": "mirror/agent:v2"}), current) == {
        "agent": "mirror/agent:v2", "sidecar": "other/sidecar:3.1"}


def test_installed_version_is_the_first_tag():
    assert installed_version({"agent": "r/agent@sha256:x", "b": "r/b:v1.4.2"}) == "v1.4.2"
    assert installed_version({"agent": "r/agent"}) is None
