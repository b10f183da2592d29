"""What the cluster admin allows plans to do: which namespaces may manage another namespace, which image
repositories a plan may roll out. Set once per operator (flags, or the environment from deploy/policy.yaml's
ConfigMap, which the admission policy reads too)."""
from __future__ import annotations

import os
from dataclasses import dataclass

TRUSTED_NAMESPACES_ENV = "CNIUPGRADE_TRUSTED_NAMESPACES"
ALLOWED_IMAGES_ENV = "CNIUPGRADE_ALLOWED_IMAGE_REPOSITORIES"
REQUIRE_DIGEST_ENV = "CNIUPGRADE_REQUIRE_IMAGE_DIGEST"
# The operator's own namespace, and kube-system: where plugins usually run, and where whoever may create objects
# already controls the cluster. A plan there may make its plugin's cluster-wide migrations.
DEFAULT_TRUSTED_NAMESPACES = ("cniupgrade-system", "kube-system")


def split_list(text: str | None) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): the ConfigMap's comma-separated lists, as the admission policy splits them."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


@dataclass(frozen=True)
class SecurityPolicy:
    trusted_namespaces: frozenset[str] = frozenset(DEFAULT_TRUSTED_NAMESPACES)
    # Image repository prefixes allowed for every plugin, beyond each plugin's own (e.g. a private mirror).
    allowed_image_repositories: tuple[str, ...] = ()
    # Images of the generic profile must name a digest (@sha256:...).
    require_digest: bool = False

    def trusts(self, namespace: str) -> bool:
        return namespace in self.trusted_namespaces

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SecurityPolicy:
        env = os.environ if env is None else env
        trusted = env.get(TRUSTED_NAMESPACES_ENV)
        return cls(trusted_namespaces=frozenset(split_list(trusted) if trusted is not None
                                                else DEFAULT_TRUSTED_NAMESPACES),
                   allowed_image_repositories=split_list(env.get(ALLOWED_IMAGES_ENV)),
                   require_digest=env.get(REQUIRE_DIGEST_ENV, "").strip().lower() in ("1", "true", "yes"))


_active = SecurityPolicy.from_env()


def active() -> SecurityPolicy:
    """The policy this process enforces (set at start-up by `cniupgrade run` and `cniupgrade plan`)."""
    return _active


def activate(policy: SecurityPolicy) -> None:
    global _active
    _active = policy
