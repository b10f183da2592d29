"""The admin's policy, pure: the namespace boundary, the image policy, the CRD source vetting, what plans may skip."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.crd_source import crd_refusal as refusal_of
from cniupgrade.kube.preflight import images_snapshot
from cniupgrade.policy import SecurityPolicy, split_list
from cniupgrade.seams.plugin import plugin_for
from cniupgrade.preflight.security_checks import (ImagesSnapshot, ScopeSnapshot, cluster_scope, image_policy,
                                                  namespace_boundary, normalized_repository, repository_allowed)
from cniupgrade.rollout.observation import DeploymentView
from tests.unit.builders import observe

POLICY = SecurityPolicy(trusted_namespaces=frozenset({"cniupgrade-system"}))


def test_a_plan_acts_in_its_own_namespace_and_only_a_trusted_one_reaches_another():
    assert namespace_boundary("team-a", "team-a", POLICY).passed
    assert namespace_boundary("cniupgrade-system", "kube-system", POLICY).passed
    refused = namespace_boundary("team-a", "cni", POLICY)
    assert not refused.passed and refused.severity.value == "Error"
    assert "outside the plan's namespace team-a" in refused.message and "cniupgrade-system" in refused.message
    assert refused.objects == ("Namespace/cni",)


def test_the_policy_reads_the_configmaps_lists_from_the_environment():
    policy = SecurityPolicy.from_env({"CNIUPGRADE_TRUSTED_NAMESPACES": "ops, platform,",
                                      "CNIUPGRADE_ALLOWED_IMAGE_REPOSITORIES": "registry.example.com/mirror",
                                      "CNIUPGRADE_REQUIRE_IMAGE_DIGEST": "true"})
    assert policy.trusted_namespaces == {"ops", "platform"}
    assert policy.allowed_image_repositories == ("registry.example.com/mirror",) and policy.require_digest
    assert SecurityPolicy.from_env({}).trusted_namespaces == {"cniupgrade-system", "kube-system"}
    assert SecurityPolicy.from_env({"CNIUPGRADE_TRUSTED_NAMESPACES": ""}).trusted_namespaces == frozenset()
    assert split_list(" a ,, b ") == ("a", "b")


@pytest.mark.parametrize("image, allowed", [
    ("ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.5", True),
    ("ghcr.io/spidernet-io/spiderpool/spiderpool-agent@sha256:" + "a" * 64, True),
    ("ghcr.io/spidernet-io/spiderpool-evil/agent:v1", False),  # a prefix of the name is not a parent
    ("ghcr.io/spidernet-io/spiderpool", True),
    ("attacker.example/miner:latest", False),
    ("miner", False),  # docker.io/library/miner
])
def test_a_repository_is_allowed_only_at_or_below_an_allowed_one(image, allowed):
    assert repository_allowed(image, ("ghcr.io/spidernet-io/spiderpool",)) is allowed


def test_docker_hub_short_names_are_read_as_the_registry_reads_them():
    assert normalized_repository("nginx:1.27") == "docker.io/library/nginx"
    assert normalized_repository("user/app") == "docker.io/user/app"
    assert normalized_repository("registry:5000/cni/agent:v2") == "registry:5000/cni/agent"
    assert repository_allowed("nginx:1", ("docker.io/library",))
    assert not repository_allowed("nginx:1", ("docker.io/user",))


def test_an_image_outside_the_allowed_repositories_fails_the_check_and_names_it():
    snap = ImagesSnapshot({"DaemonSet cni/agent container a": "attacker.example/miner:latest",
                           "DaemonSet cni/agent container b": "registry.example.com/mirror/agent:v2"},
                          (), SecurityPolicy(allowed_image_repositories=("registry.example.com/mirror",)), False)
    finding = image_policy(snap)
    assert not finding.passed and finding.objects == ("DaemonSet cni/agent container a: attacker.example/miner:latest",)
    assert "registry.example.com/mirror" in finding.message


def test_the_default_probe_image_is_allowed_and_another_must_be_listed():
    nothing_listed = SecurityPolicy()
    assert image_policy(ImagesSnapshot({}, (), nothing_listed, False, probe_image="registry.k8s.io/pause:3.10")).passed
    refused = image_policy(ImagesSnapshot({}, (), nothing_listed, False, probe_image="attacker.example/p:1"))
    assert refused.objects == ("probe pod: attacker.example/p:1",)


def test_a_digest_can_be_required():
    tagged = {"DaemonSet cni/agent container a": "registry.example.com/cni/agent:v2"}
    policy = SecurityPolicy(allowed_image_repositories=("registry.example.com",), require_digest=True)
    assert not image_policy(ImagesSnapshot(tagged, (), policy, digest_required=True)).passed
    pinned = {"DaemonSet cni/agent container a": "registry.example.com/cni/agent@sha256:" + "b" * 64}
    assert image_policy(ImagesSnapshot(pinned, (), policy, digest_required=True)).passed


def spiderpool_spec(**kw) -> UpgradePlanSpec:
    return UpgradePlanSpec.model_validate({"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": "cni", **kw})


def spiderpool_observation():
    images = {"spiderpool-agent": "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.3.5",
              "multus": "ghcr.io/k8snetworkplumbingwg/multus-cni:v3.9"}
    controller = DeploymentView("spiderpool-controller", {
        "spiderpool-controller": "ghcr.io/spidernet-io/spiderpool/spiderpool-controller:v0.3.5"}, True, "")
    obs = observe(images=images)
    return obs.__class__(**{**obs.__dict__, "control_plane": (controller,)})


def test_a_re_tagged_vendor_upgrade_passes_and_only_changed_images_are_checked():
    snap = images_snapshot(spiderpool_spec(), spiderpool_observation(), SecurityPolicy())
    assert snap.images == {
        "DaemonSet cni/agent container spiderpool-agent": "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.5",
        "Deployment cni/spiderpool-controller container spiderpool-controller":
            "ghcr.io/spidernet-io/spiderpool/spiderpool-controller:v0.9.5"}
    assert image_policy(snap).passed


def test_an_explicit_image_for_the_agent_or_the_control_plane_is_checked_too():
    plan = spiderpool_spec(daemonSet={"name": "agent", "images": {"spiderpool-controller": "attacker.example/c:1"}})
    finding = image_policy(images_snapshot(plan, spiderpool_observation(), SecurityPolicy()))
    assert finding.objects == ("Deployment cni/spiderpool-controller container spiderpool-controller: "
                               "attacker.example/c:1",)


def test_digests_are_required_of_the_generic_profile_only():
    policy = SecurityPolicy(require_digest=True)
    assert images_snapshot(spiderpool_spec(), spiderpool_observation(), policy).digest_required is False
    generic = UpgradePlanSpec.model_validate({"plugin": "generic", "targetVersion": "v2", "namespace": "cni",
                                              "daemonSet": {"name": "agent"}})
    assert images_snapshot(generic, observe(), policy).digest_required is True


def test_security_checks_cannot_be_skipped():
    with pytest.raises(ValidationError, match="cannot be skipped"):
        spiderpool_spec(preflight={"skip": ["security.image-policy"]})
    assert spiderpool_spec(preflight={"skip": ["spiderpool.duplicate-ips"]})


def test_spec_namespace_defaults_to_the_plans_own():
    assert UpgradePlanSpec.of_plan({"plugin": "spiderpool", "targetVersion": "0.9.5"}, "team-a").namespace == "team-a"
    assert UpgradePlanSpec.of_plan({"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": "kube-system"},
                                   "team-a").namespace == "kube-system"


def crd(group: str = "spiderpool.spidernet.io", conversion: dict | None = None) -> dict:
    spec = {"group": group, **({"conversion": conversion} if conversion else {})}
    return {"kind": "CustomResourceDefinition", "metadata": {"name": f"spiderippools.{group}"}, "spec": spec}


def webhook(**client_config) -> dict:
    return {"strategy": "Webhook", "webhook": {"clientConfig": client_config, "conversionReviewVersions": ["v1"]}}


def test_only_the_plugins_own_crds_with_a_conversion_webhook_in_its_namespace_are_applied():
    def refusal(doc):
        return refusal_of(doc, "spiderpool.spidernet.io", "kube-system")
    assert refusal(crd()) is None
    assert refusal(crd(conversion=webhook(service={"namespace": "kube-system", "name": "spiderpool"}))) is None
    assert "only spiderpool.spidernet.io CRDs" in refusal(crd("example.com"))
    other_group = {**crd(), "spec": {"group": "evil.example.com"}}  # named like one of ours, serving another group
    assert refusal(other_group)
    assert "https://evil.example/convert" in refusal(crd(conversion=webhook(url="https://evil.example/convert")))
    assert "Service team-a/hook" in refusal(crd(conversion=webhook(service={"namespace": "team-a", "name": "hook"})))
    assert refusal({"kind": "ClusterRoleBinding", "metadata": {"name": "x"}})


def scope(cluster_wide=("migration spiderpool.apply-crds: Spiderpool's CustomResourceDefinitions",), **kw):
    return ScopeSnapshot(**{"plan_namespace": "team-a", "policy": POLICY, "service_account": None,
                            "cluster_wide": cluster_wide, **kw})


def test_cluster_wide_changes_need_a_trusted_namespace_or_the_plans_own_account():
    assert cluster_scope(scope(cluster_wide=())).passed
    refused = cluster_scope(scope())
    assert not refused.passed and refused.objects == scope().cluster_wide
    assert "spec.serviceAccountName" in refused.remediation
    assert cluster_scope(scope(service_account="upgrader")).passed
    assert cluster_scope(scope(plan_namespace="cniupgrade-system")).passed


def test_each_plugin_says_which_of_its_changes_reach_beyond_its_namespace():
    migrations = ["spiderpool.delete-init-pod", "spiderpool.apply-crds", "spiderpool.apply-crds",
                  "spiderpool.controller-max-surge-0"]
    assert plugin_for(spiderpool_spec()).cluster_wide_changes(spiderpool_spec(), migrations) == (
        "migration spiderpool.apply-crds: Spiderpool's CustomResourceDefinitions",)
    uk8s = UpgradePlanSpec.model_validate({"plugin": "uk8s-cni-vpc", "targetVersion": "1.3.0"})
    assert plugin_for(uk8s).cluster_wide_changes(uk8s, []) == ()
    restarting = uk8s.model_copy(update={"uk8s": uk8s.uk8s.model_copy(update={"restart_old_pods": True})})
    assert "every namespace" in plugin_for(restarting).cluster_wide_changes(restarting, [])[0]
