"""What differs per plugin: which DaemonSet, which target images, where the installed version comes from."""
from __future__ import annotations

from typing import Iterable, Mapping, Protocol

from cniupgrade.api.models import Plugin, UpgradePlanSpec
from cniupgrade.plugins import generic
from cniupgrade.plugins.spiderpool import facts as spiderpool_facts
from cniupgrade.plugins.uk8s import facts as uk8s_facts


class Profile(Protocol):
    def daemonset_name(self, spec: UpgradePlanSpec) -> str: ...
    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]: ...  # Deployments updated first
    def target_images(self, spec: UpgradePlanSpec, current: Mapping[str, str]) -> dict[str, str]: ...
    def installed_version(self, images: Mapping[str, str]) -> str | None: ...
    # The vendor's image repositories: a plan's images must come from these or the admin's allow-list.
    image_repositories: tuple[str, ...]
    # What the plan would change outside the plugin's namespace (given the migrations it would run).
    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]: ...


class GenericProfile:
    image_repositories: tuple[str, ...] = ()  # no vendor: only what the cluster admin allows
    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        if spec.daemon_set is None:
            raise ValueError("the generic profile needs spec.daemonSet")
        return spec.daemon_set.name

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return ()

    def target_images(self, spec: UpgradePlanSpec, current: Mapping[str, str]) -> dict[str, str]:
        return generic.target_images(spec, current)

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        return generic.installed_version(images)

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        return ()


class SpiderpoolProfile:
    """Spiderpool's own images are tagged v<appVersion>; Multus and others keep their image."""

    OWN_IMAGES = ("spiderpool-agent", "spiderpool-controller", "spiderpool-plugins")
    image_repositories = spiderpool_facts.IMAGE_REPOSITORIES

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        return spec.daemon_set.name if spec.daemon_set else spiderpool_facts.AGENT_DAEMONSET

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return (spiderpool_facts.CONTROLLER_DEPLOYMENT,)

    def _own(self, image: str) -> bool:
        return generic.split_image(image)[0].rsplit("/", 1)[-1] in self.OWN_IMAGES

    def target_images(self, spec: UpgradePlanSpec, current: Mapping[str, str]) -> dict[str, str]:
        named = spec.daemon_set.images if spec.daemon_set and spec.daemon_set.images else {}
        tag = "v" + spec.target_version.lstrip("v")
        return {name: named.get(name) or (generic.retag(image, tag) if self._own(image) else image)
                for name, image in current.items()}

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        own = {n: i for n, i in images.items() if self._own(i)}
        version = generic.installed_version(own)
        return version.lstrip("v") if version else None

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        reach = spiderpool_facts.CLUSTER_WIDE_MIGRATIONS
        return tuple(f"migration {m}: {reach[m]}" for m in dict.fromkeys(migrations) if m in reach)


class Uk8sProfile:
    """cni-vpc images are tagged with the bare version (1.3.0, 1.0.4-lts)."""

    image_repositories = uk8s_facts.IMAGE_REPOSITORIES

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        return spec.daemon_set.name if spec.daemon_set else uk8s_facts.DAEMONSETS[spec.uk8s.component]

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return ()

    def _own(self, image: str) -> bool:
        return generic.split_image(image)[0].rsplit("/", 1)[-1] in uk8s_facts.IMAGE_NAMES

    def target_images(self, spec: UpgradePlanSpec, current: Mapping[str, str]) -> dict[str, str]:
        named = spec.daemon_set.images if spec.daemon_set and spec.daemon_set.images else {}
        return {name: named.get(name) or (generic.retag(image, spec.target_version) if self._own(image) else image)
                for name, image in current.items()}

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        return generic.installed_version({n: i for n, i in images.items() if self._own(i)})

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        return (("spec.uk8s.restartOldPods: Deployments, StatefulSets and DaemonSets in every namespace",)
                if spec.uk8s.restart_old_pods else ())


PROFILES: dict[Plugin, Profile] = {
    Plugin.generic: GenericProfile(),
    Plugin.spiderpool: SpiderpoolProfile(),
    Plugin.uk8s_cni_vpc: Uk8sProfile(),
}


def profile_for(spec: UpgradePlanSpec) -> Profile:
    return PROFILES[spec.plugin]
