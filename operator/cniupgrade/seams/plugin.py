"""The plugin seam: one object per CNI plugin, registered under the name plans give in spec.plugin.

A plugin knows its own objects and its vendor's notes: which DaemonSet is its agent and which Deployments are
its control plane, how its images are tagged and from where, what it reads to find the installed version, its
pre-flight checks, its migrations, and what it does once an upgrade succeeded. Core code asks the registry and
never names a plugin; a plugin reads and changes the cluster only through seams.cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import UpgradePlanStatus
from cniupgrade.preflight.framework import Verdict, parse_version
from cniupgrade.seams.cluster import ClusterAccess, ClusterReads
from cniupgrade.seams.objects import NodeInfo


@dataclass(frozen=True)
class PluginReport:
    """What a plugin's pre-flight found: the installed version (when its own record says), its checks' verdict,
    and nodes it leaves out, with why."""
    installed_version: str | None = None
    verdict: Verdict | None = None
    excluded_nodes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AfterSuccess:
    """What a plugin's after-success action did: the status to record, and an Event saying it (none without a
    reason). `retry_in`: the action is not done (status still says it is due): run it again in that many
    seconds."""
    status: UpgradePlanStatus
    reason: str | None
    message: str
    warning: bool = False
    retry_in: float | None = None


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class ChartDefaults:
    """A plugin's helm chart: its name, its release's name, the values that render the agent DaemonSet with
    updateStrategy OnDelete (the chart path holds the agent with them while the release is upgraded), and how the
    user's values carry over from one version to another (renamed keys)."""
    chart: str
    release: str
    hold_values: Mapping  # empty: the chart has no such value, and a post-renderer holds the agent instead
    carry: Callable[[dict, str | None, str], dict] = lambda values, installed, target: values


class Plugin(Protocol):
    name: str
    image_repositories: tuple[str, ...]  # the vendor's repositories (the image policy allows these)

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        """The agent DaemonSet rolled node by node (ValueError when the spec does not say and there is no default)."""

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        """Deployments updated before the agent, in order."""

    def retag(self, spec: UpgradePlanSpec, image: str) -> str:
        """`image` at the target version: re-tagged if it is the plugin's own, else unchanged."""

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        """The version a set of container images runs, read from the plugin's own images' tags."""

    # Optional: `version_key(tag)`, the tag's place in the vendor's release order (None: not ordered), for a vendor
    # whose tags do not sort as versions do. Core code asks through version_order(); without it, semantic order.

    def preflight(self, spec: UpgradePlanSpec, reads: ClusterReads, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PluginReport:
        """The plugin's checks against the cluster (reads only)."""

    def migrate(self, migration_id: str, spec: UpgradePlanSpec, plan_namespace: str, reads: ClusterReads,
                acting: ClusterAccess) -> str:
        """Carry out one of its migrations (idempotent): `reads` as the operator decide what to change, `acting`
        (the plan's identity) changes it. Returns what it did; raises MigrationError."""

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        """What the plan would change outside the plugin's namespace, given the migrations it would run."""

    def chart_defaults(self, spec: UpgradePlanSpec) -> ChartDefaults | None:
        """How the plugin's helm chart is installed and held (None: the plugin knows no chart)."""

    def after_success_due(self, spec: UpgradePlanSpec, status: UpgradePlanStatus) -> bool:
        """Whether the succeeded plan still has an after-success action to run (decided purely from status)."""

    def after_success(self, spec: UpgradePlanSpec, status: UpgradePlanStatus, reads: ClusterReads,
                      acting: ClusterAccess) -> AfterSuccess:
        """Run it (changes as `acting`); the status it returns records that it ran."""


class UnknownPlugin(ValueError):
    pass


_REGISTRY: dict[str, Plugin] = {}


def register(plugin: Plugin) -> Plugin:
    if _REGISTRY.get(plugin.name, plugin) is not plugin:
        raise ValueError(f"a plugin named {plugin.name} is registered already")
    _REGISTRY[plugin.name] = plugin
    return plugin


def plugin_named(name: str) -> Plugin:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownPlugin(f"unknown plugin {name!r}; known: {', '.join(plugin_names())}") from None


def plugin_for(spec: UpgradePlanSpec) -> Plugin:
    return plugin_named(spec.plugin)


def plugin_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def version_order(plugin: Plugin) -> Callable[[str | None], Any]:
    """How the plugin orders its tags: its own version_key, else as versions (parse_version)."""
    return getattr(plugin, "version_key", parse_version)


class NoChart:
    """For plugins that know no helm chart of their own (spec.chart is refused in pre-flight)."""

    def chart_defaults(self, spec: UpgradePlanSpec) -> ChartDefaults | None:
        return None


class NoAfterSuccess:
    """For plugins with nothing to do once an upgrade succeeded."""

    def after_success_due(self, spec: UpgradePlanSpec, status: UpgradePlanStatus) -> bool:
        return False

    def after_success(self, spec: UpgradePlanSpec, status: UpgradePlanStatus, reads: ClusterReads,
                      acting: ClusterAccess) -> AfterSuccess:
        raise NotImplementedError("no after-success action")
