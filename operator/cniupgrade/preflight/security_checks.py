"""Checks that keep a plan inside what the cluster admin allows. They hold for every plugin and cannot be skipped.

The attack they stop: whoever may create an UpgradePlan names a privileged DaemonSet in another namespace, or an
image of their own, and the operator (which may patch DaemonSets everywhere) rolls it onto every node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cniupgrade.policy import ALLOWED_IMAGES_ENV, REQUIRE_DIGEST_ENV, TRUSTED_NAMESPACES_ENV, SecurityPolicy
from cniupgrade.preflight.framework import Finding, Severity

NAMESPACE_BOUNDARY = "security.namespace-boundary"
IMAGE_POLICY = "security.image-policy"
CLUSTER_SCOPE = "security.cluster-scope"
PREFIX = "security."
DOCKER_HUB = "docker.io"
OPERATOR_IMAGES = ("registry.k8s.io/pause",)  # the probe pod's default image


def namespace_boundary(plan_namespace: str, target_namespace: str, policy: SecurityPolicy) -> Finding:
    """A plan acts in its own namespace; only plans in a trusted namespace may manage another one."""
    if target_namespace == plan_namespace:
        return Finding(NAMESPACE_BOUNDARY, Severity.error, True, f"the plan acts in its own namespace {plan_namespace}")
    if policy.trusts(plan_namespace):
        return Finding(NAMESPACE_BOUNDARY, Severity.error, True,
                       f"namespace {plan_namespace} is trusted to manage namespace {target_namespace}")
    trusted = ", ".join(sorted(policy.trusted_namespaces)) or "none"
    return Finding(
        NAMESPACE_BOUNDARY, Severity.error, False,
        f"spec.namespace {target_namespace} is outside the plan's namespace {plan_namespace}, which is not trusted "
        f"to manage other namespaces (trusted: {trusted}); nothing was read or changed there",
        f"create the plan in namespace {target_namespace}, or in a trusted namespace; a cluster admin trusts a "
        f"namespace in deploy/policy.yaml ({TRUSTED_NAMESPACES_ENV})", objects=(f"Namespace/{target_namespace}",))


def normalized_repository(image: str) -> str:
    """The repository of an image as a registry sees it: 'nginx:1' -> 'docker.io/library/nginx'."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    first, _, rest = repository.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        repository = f"{DOCKER_HUB}/{'library/' if not rest else ''}{repository}"
    return repository


def repository_allowed(image: str, prefixes: tuple[str, ...]) -> bool:
    """Whether the image's repository is one of `prefixes` or below one ('ghcr.io/org' allows 'ghcr.io/org/x',
    not 'ghcr.io/org-evil/x')."""
    repository = normalized_repository(image)
    for prefix in prefixes:
        allowed = normalized_repository(prefix.rstrip("/")) if "/" in prefix.rstrip("/") else prefix.rstrip("/")
        if repository == allowed or repository.startswith(allowed + "/"):
            return True
    return False


@dataclass(frozen=True)
class ImagesSnapshot:
    images: Mapping[str, str]  # where it runs ('DaemonSet ns/name container c') -> the image it gets
    plugin_repositories: tuple[str, ...]  # the plugin vendor's own repositories
    policy: SecurityPolicy
    digest_required: bool  # the generic profile under a policy that requires digests
    probe_image: str | None = None  # with the probe enabled


def image_policy(snap: ImagesSnapshot) -> Finding:
    """Every image a plan puts on nodes comes from the plugin's own repositories or the admin's allow-list."""
    allowed = snap.plugin_repositories + snap.policy.allowed_image_repositories
    every = {**snap.images, **({"probe pod": snap.probe_image} if snap.probe_image else {})}
    refused = [f"{where}: {image}" for where, image in every.items()
               if not repository_allowed(image, allowed + OPERATOR_IMAGES)]
    undigested = [f"{where}: {image}" for where, image in snap.images.items()
                  if snap.digest_required and "@sha256:" not in image]
    if not refused and not undigested:
        return Finding(IMAGE_POLICY, Severity.error, True,
                       f"{len(every)} image(s) from allowed repositories" if every else "no image changes")
    shown = ", ".join(allowed) or "none"
    if refused:
        message = f"{len(refused)} image(s) outside the allowed repositories ({shown})"
    else:
        message = f"{len(undigested)} image(s) without a digest, which the policy requires ({REQUIRE_DIGEST_ENV})"
    return Finding(IMAGE_POLICY, Severity.error, False, message,
                   "name images of the plugin's own repositories (or pin them by @sha256: digest where required); "
                   f"a cluster admin allows more repositories in deploy/policy.yaml ({ALLOWED_IMAGES_ENV})",
                   objects=tuple(refused or undigested))


@dataclass(frozen=True)
class ScopeSnapshot:
    plan_namespace: str
    policy: SecurityPolicy
    service_account: str | None  # spec.serviceAccountName: the account's own rights bound every change
    cluster_wide: tuple[str, ...]  # what the plan would change outside the plugin's namespace


def cluster_scope(snap: ScopeSnapshot) -> Finding:
    """Changes beyond the plugin's namespace (cluster-scoped objects, other namespaces) are made only for a plan
    in a trusted namespace, or as the plan's own ServiceAccount (which then needs the rights)."""
    if not snap.cluster_wide:
        return Finding(CLUSTER_SCOPE, Severity.error, True, "every change stays in the plugin's namespace")
    if snap.policy.trusts(snap.plan_namespace):
        return Finding(CLUSTER_SCOPE, Severity.error, True,
                       f"namespace {snap.plan_namespace} is trusted with cluster-wide changes")
    if snap.service_account:
        return Finding(CLUSTER_SCOPE, Severity.error, True,
                       f"cluster-wide changes are made as ServiceAccount {snap.plan_namespace}/{snap.service_account}")
    return Finding(
        CLUSTER_SCOPE, Severity.error, False,
        f"the plan would change objects outside its namespace {snap.plan_namespace}, which is not trusted to",
        "set spec.serviceAccountName to an account with these rights (the changes are then made as that account), "
        f"create the plan in a trusted namespace ({TRUSTED_NAMESPACES_ENV}), or disable spec.migrations and "
        "apply them by hand", objects=snap.cluster_wide)

