"""The UpgradePlan API: pydantic models are the one source of truth; crds/ is generated from them.

Field descriptions become `kubectl explain` text. Cross-field rules that the API server must enforce at
admission are declared with `x-kubernetes-validations` (CEL) in `json_schema_extra`.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

GROUP = "cniupgrade.io"
VERSION = "v1alpha1"
KIND = "UpgradePlan"
PLURAL = "upgradeplans"
SINGULAR = "upgradeplan"
SHORT_NAMES = ["up", "upgplan"]
# Set to a new value (say a timestamp) to retry a Failed or RolledBack plan without editing its spec.
RETRY_ANNOTATION = f"{GROUP}/retry"
ROLLBACK_ANNOTATION = f"{GROUP}/rollback"  # its value (say who and why) is kept in status.rollback

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
PERCENT = r"^(100|[1-9][0-9]?)%$"


# An omitted object defaults to {} at admission, so the API server fills in its fields' defaults too.
DEFAULT_EMPTY = {"default": {}}


def cel(rule: str, message: str, field_path: str | None = None) -> dict:
    validation = {"rule": rule, "message": message}
    if field_path:
        validation["fieldPath"] = field_path
    return validation


class ApiModel(BaseModel):
    """Fields are camelCase on the wire, unknown fields are refused, and models are immutable values."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True,
                              alias_generator=lambda name: "".join(
                                  w if i == 0 else w.capitalize() for i, w in enumerate(name.split("_"))))


class Weekday(str, Enum):
    mon = "Mon"
    tue = "Tue"
    wed = "Wed"
    thu = "Thu"
    fri = "Fri"
    sat = "Sat"
    sun = "Sun"


class NodeOrder(str, Enum):
    by_name = "ByName"
    by_zone = "ByZone"


class RolloutMode(str, Enum):
    window = "Window"
    batches = "Batches"


class DaemonSetRef(ApiModel):
    name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN,
                               description="Name of the CNI agent DaemonSet to roll node by node.")]
    images: Annotated[dict[str, str] | None, Field(
        default=None, max_length=16,
        description="Target image per container (or init container) name; containers not named keep their "
                    "image. Without it, every container's image is re-tagged with spec.targetVersion.")]


class Canary(ApiModel):
    count: Annotated[int, Field(default=1, ge=0, le=100,
                                description="How many nodes, first in the rollout order, form the canary batch. "
                                            "0 disables the canary.")]
    node_selector: Annotated[dict[str, str] | None, Field(
        default=None, description="Pick the canary nodes by label instead of by count (all matching nodes).")]


class ProbePod(ApiModel):
    enabled: Annotated[bool, Field(default=False, description="After a node's agent is Ready, run a probe pod "
                                   "pinned to that node; it must get an IP and run before the node counts as "
                                   "upgraded (the CNI works there). The probe pod is removed afterwards.")]
    image: Annotated[str, Field(default="registry.k8s.io/pause:3.10", min_length=1,
                                description="Image of the probe pod.")]
    timeout_seconds: Annotated[int, Field(default=120, ge=5, le=3600,
                                          description="How long the probe pod may take to run.")]


def _check_max_unavailable(value: int | str) -> int | str:
    """The same rule as the CRD's CEL validation, so previews and the operator agree with admission."""
    if isinstance(value, int) and value < 1:
        raise ValueError("must be a count of at least 1 or a percentage from 1% to 100%")
    if isinstance(value, str) and not re.match(PERCENT, value):
        raise ValueError("must be a count of at least 1 or a percentage from 1% to 100%")
    return value


class NotReadyAction(str, Enum):
    fail = "Fail"
    degrade = "Degrade"


class NotReadyNodes(ApiModel):
    wait_seconds: Annotated[int, Field(default=300, ge=0, le=86400, description=(
        "After the last batch, how long the plan waits for nodes that were NotReady when it was planned (their "
        "agent still old); one that turns Ready in time is upgraded in a batch of its own, under the gates."))]
    then: Annotated[NotReadyAction, Field(default=NotReadyAction.degrade, description=(
        "Still NotReady after the wait: Fail (the plan fails naming them) or Degrade (Succeeded with Degraded=True "
        "naming them). Either way the DaemonSet stays OnDelete while any of them runs the previous agent."))]


class Rollout(ApiModel):
    canary: Annotated[Canary, Field(default_factory=Canary, description="The first, health-gated batch.",
                                    json_schema_extra=DEFAULT_EMPTY)]
    max_unavailable: Annotated[Union[int, str], AfterValidator(_check_max_unavailable), Field(
        default=1, description="Nodes upgraded at once after the canary: a count (at least 1) or a percentage of "
                               "the eligible nodes (rounded up, at least one node).",
        json_schema_extra={"x-kubernetes-int-or-string": True, "x-kubernetes-validations": [
            cel("type(self) == int ? self >= 1 : self.matches('" + PERCENT + "')",
                "must be a count of at least 1 or a percentage from 1% to 100%")]})]
    node_selector: Annotated[dict[str, str] | None, Field(
        default=None, description="Only nodes with these labels are upgraded; others keep the old agent.")]
    mode: Annotated[RolloutMode, Field(default=RolloutMode.window, description=(
        "How nodes after the canary are paced. Window: at most maxUnavailable nodes in flight, the next node in "
        "the rollout order starts as soon as one passes its health gate (like the DaemonSet controller). "
        "Batches: lock-step batches of maxUnavailable nodes; a batch starts once every node of the previous one "
        "passed, batchDelaySeconds later. The canary always finishes before any other node starts."))]
    order: Annotated[NodeOrder, Field(default=NodeOrder.by_name, description=(
        "Rollout order. ByName: by node name. ByZone: zone by zone (topology.kubernetes.io/zone), "
        "by name within a zone, so a batch spans as few zones as possible."))]
    skip_cordoned: Annotated[bool, Field(default=False, description=(
        "Leave cordoned nodes out (named in status.plan.excluded). By default they are upgraded like any other: "
        "their pods still run and still need the new CNI."))]
    taint_in_flight: Annotated[bool, Field(default=True, description=(
        "While a node is in flight (its old agent pod deleted, the new one not through the health gate) it carries "
        "the taint cniupgrade.io/upgrading:NoSchedule, so no new pod is scheduled onto it mid-swap. The agent "
        "must tolerate it (CNI agents usually tolerate everything); the probe pod does."))]
    node_timeout_seconds: Annotated[int, Field(default=300, ge=10, le=86400, description=(
        "How long one node may take, from its old agent pod's deletion to passing the health gate."))]
    batch_delay_seconds: Annotated[int, Field(default=0, ge=0, le=86400,
                                              description="Mode Batches: wait this long after a batch passes before the next.")]
    not_ready_nodes: Annotated[NotReadyNodes, Field(default_factory=NotReadyNodes, json_schema_extra=DEFAULT_EMPTY,
                                                    description="Nodes NotReady when planned.")]
    probe: Annotated[ProbePod, Field(default_factory=ProbePod, description="The per-node CNI smoke gate.",
                                     json_schema_extra=DEFAULT_EMPTY)]


class MaintenanceWindow(ApiModel):
    days: Annotated[list[Weekday], Field(min_length=1, max_length=7, description=(
        "Days on which a window opens (Mon..Sun)."), json_schema_extra={"x-kubernetes-list-type": "set"})]
    start: Annotated[str, Field(pattern=HH_MM, description="Opening time, HH:MM (24h), in timeZone.")]
    end: Annotated[str, Field(pattern=HH_MM, description=(
        "Closing time, HH:MM (24h). Earlier than start means the window runs past midnight."))]
    time_zone: Annotated[str, Field(default="UTC", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$",
                                    description="IANA time zone, e.g. Europe/Berlin.")]


def _check_skippable(check_id: str) -> str:
    """The same rule as the CRD's CEL validation: what keeps a plan within the admin's policy always runs."""
    if check_id.startswith("security."):
        raise ValueError("the security.* checks cannot be skipped")
    return check_id


class FreezeMode(str, Enum):
    off = "Off"
    warn = "Warn"
    deny = "Deny"


class SelectorOperator(str, Enum):
    in_ = "In"
    not_in = "NotIn"
    exists = "Exists"
    does_not_exist = "DoesNotExist"


class SelectorRequirement(ApiModel):
    key: str
    operator: SelectorOperator
    values: list[str] = Field(default_factory=list)


class LabelSelector(ApiModel):
    """A Kubernetes label selector: every matchLabels pair and every requirement must hold."""
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[SelectorRequirement] = Field(default_factory=list)


class ChangeFreeze(ApiModel):
    mode: Annotated[FreezeMode, Field(default=FreezeMode.off, description=(
        "While the plan changes the network (from its first change to its end, paused included): Warn makes "
        "kubectl show a warning for each create or update of a Deployment, StatefulSet, DaemonSet or Service in "
        "the selected namespaces; Deny refuses them, naming the plan. Built-in ValidatingAdmissionPolicies, "
        "removed when the plan ends. The operator's own writes, the plan's ServiceAccount, the control plane's "
        "and kube-system's accounts, and the system namespaces are never frozen."))]
    namespace_selector: Annotated[LabelSelector | None, Field(default=None, description=(
        "Frozen namespaces (by their labels; kubernetes.io/metadata.name is the name). Default: all but "
        "kube-system, kube-public, kube-node-lease and the operator's."))]
    object_selector: Annotated[LabelSelector | None, Field(default=None, description=(
        "Only objects with these labels are frozen. Default: all."))]


class Preflight(ApiModel):
    skip: Annotated[list[Annotated[str, AfterValidator(_check_skippable), Field(
        max_length=128, json_schema_extra={"x-kubernetes-validations": [
            cel("!self.startsWith('security.')", "the security.* checks cannot be skipped")]})]], Field(
        default_factory=list, max_length=64, description=(
            "Check ids not to run, e.g. spiderpool.duplicate-ips. The security.* checks always run."),
        json_schema_extra={"x-kubernetes-list-type": "set"})]
    warnings_block: Annotated[bool, Field(default=False, description=(
        "Failed Warning checks block the upgrade too (Error checks always do)."))]


class PrePull(ApiModel):
    enabled: Annotated[bool, Field(default=True, description=(
        "Before any change, pull the target images on every node of the plan with a temporary hostNetwork "
        "DaemonSet; a node that cannot pull blocks the plan, named with its reason. Removed afterwards."))]
    timeout_seconds: Annotated[int, Field(default=600, ge=30, le=86400, description=(
        "How long the pulls may take before the nodes still pulling block the plan."))]


class Migrations(ApiModel):
    enabled: Annotated[bool, Field(default=True, description=(
        "Carry out the migrations the version notes require (after approval, before any workload changes). "
        "false: only report them; their checks then block with the command to run by hand."))]


class SpiderpoolOptions(ApiModel):
    release_name: Annotated[str, Field(default="spiderpool", max_length=53, pattern=DNS_LABEL, description=(
        "The helm release, read from its storage Secret (or ConfigMap) for the installed version and values."))]
    crd_source_config_map: Annotated[str | None, Field(default=None, max_length=253, pattern=DNS_SUBDOMAIN, description=(
        "A ConfigMap in the plan's namespace whose values are the target version's CRD manifests (from the "
        "chart's crds/ folder), applied when CRDs are missing or outdated."))]


class ChartArchive(ApiModel):
    config_map: Annotated[str | None, Field(default=None, max_length=253, pattern=DNS_SUBDOMAIN, description=(
        "A ConfigMap in the plan's namespace holding the chart archive (.tgz) in binaryData."))]
    secret: Annotated[str | None, Field(default=None, max_length=253, pattern=DNS_SUBDOMAIN, description=(
        "A Secret in the plan's namespace holding the chart archive (.tgz), instead of a ConfigMap."))]
    key: Annotated[str, Field(default="chart.tgz", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$",
                              description="The key of the archive.")]


class ValuesSourceKind(str, Enum):
    config_map = "ConfigMap"
    secret = "Secret"


class ValuesSource(ApiModel):
    """Helm values kept in a ConfigMap or Secret of the plan's namespace (YAML under one key)."""
    kind: ValuesSourceKind
    name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN)]
    key: Annotated[str, Field(default="values.yaml", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    optional: Annotated[bool, Field(default=False, description="A missing object or key is skipped, not an error.")]


class Chart(ApiModel):
    """Upgrade through the vendor's helm chart instead of patching images: the release is upgraded to the
    target chart with the agent DaemonSet held at OnDelete, then rolled node by node, then released."""
    repository: Annotated[str | None, Field(default=None, max_length=512, pattern=r"^(https?|oci)://[^\s]+$",
                                            description=(
        "The chart repository: an HTTP(S) repository URL (e.g. https://spidernet-io.github.io/spiderpool) or an OCI "
        "registry path the chart name is appended to (e.g. oci://ghcr.io/spidernet-io/charts)."))]
    archive: Annotated[ChartArchive | None, Field(default=None, description=(
        "The chart archive itself, in a ConfigMap or Secret (air-gapped clusters), instead of a repository."))]
    name: Annotated[str | None, Field(default=None, max_length=63, pattern=DNS_LABEL, description=(
        "Chart name; default: the plugin's chart (spiderpool)."))]
    version: Annotated[str | None, Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$",
                                         description="Chart version; default: spec.targetVersion.")]
    digest: Annotated[str | None, Field(default=None, pattern=r"^sha256:[a-f0-9]{64}$", description=(
        "The chart archive's sha256 (sha256sum of the .tgz): a chart with other bytes is refused in pre-flight."))]
    plain_http: Annotated[bool, Field(default=False, description=(
        "The OCI registry is served over plain HTTP (an in-cluster mirror without TLS)."))]
    release_name: Annotated[str | None, Field(default=None, max_length=53, pattern=DNS_LABEL, description=(
        "The helm release; default: the plugin's (spiderpool: spec.spiderpool.releaseName). It lives in "
        "spec.namespace."))]
    values_from: Annotated[list[ValuesSource], Field(default_factory=list, max_length=16, description=(
        "Values from ConfigMaps and Secrets of the plan's namespace, merged in order over the release's carried-over "
        "values; spec.chart.values go on top. Secrets' values never appear in the plan's status."))]
    values: Annotated[dict | None, Field(default=None, description=(
        "Values set over the release's current user values (which are carried over, renamed keys migrated)."),
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})]


class Uk8sComponent(str, Enum):
    node = "node"
    ipamd = "ipamd"


class Uk8sOptions(ApiModel):
    component: Annotated[Uk8sComponent, Field(default=Uk8sComponent.node, description=(
        "Which part to upgrade: node (DaemonSet cni-vpc-node, the CNI binary on each node) or ipamd (DaemonSet "
        "cni-vpc-ipamd). UK8S upgrades them separately; use one plan for each."))]
    force: Annotated[bool, Field(default=False, description=(
        "Also upgrade nodes whose installed version cannot be read (UK8S's 'force upgrade'); otherwise they are "
        "left out of the plan and named."))]
    maintained_kubernetes_minors: Annotated[list[Annotated[str, Field(pattern=r"^1\.[0-9]+$")]], Field(
        default_factory=list, max_length=8, description=(
            "Kubernetes minor versions UK8S maintains (it maintains three even minors), e.g. [\"1.30\", \"1.32\", "
            "\"1.34\"]. A cluster on another version may only move to an -lts version. Empty: the rule cannot be "
            "checked and a warning says so."), json_schema_extra={"x-kubernetes-list-type": "set"})]
    restart_old_pods: Annotated[bool, Field(default=False, description=(
        "After the upgrade, rolling-restart the Deployments, StatefulSets and DaemonSets whose pods were created "
        "on a node before its upgrade (they keep the old network features until recreated)."))]
    crd_source_config_map: Annotated[str | None, Field(default=None, max_length=253, pattern=DNS_SUBDOMAIN, description=(
        "A ConfigMap in the plan's namespace whose values are cni-vpc's CRD manifests (the target's "
        "deploy/podnetworking.yaml), applied before the agent rolls when a 2.x target needs the PodNetworking CRD "
        "and it is missing. Only CRDs of vpc.uk8s.ucloud.cn are applied."))]


class UpgradePlanSpec(ApiModel):
    """What to upgrade, to which version, and how carefully."""

    plugin: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL, description=(
        "The CNI plugin profile: one of the registered plugins (spiderpool, uk8s-cni-vpc, generic)."))]
    target_version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$",
                                         description="The version to upgrade to, e.g. 1.2.2 or v1.5.0.")]
    namespace: Annotated[str | None, Field(default=None, max_length=63, pattern=DNS_LABEL, description=(
        "Namespace where the plugin runs; defaults to the plan's own namespace. Another namespace only from a "
        "namespace the cluster admin trusts (deploy/policy.yaml), refused at admission otherwise."))]
    service_account_name: Annotated[str | None, Field(default=None, max_length=253, pattern=DNS_SUBDOMAIN, description=(
        "A ServiceAccount of the plan's namespace: every change the plan makes to workloads (DaemonSets, "
        "Deployments, pods, migrations) is made as this account (impersonated), so the plan can do no more than it "
        "may. Without it the operator acts with its own rights, within the namespace boundary."))]
    daemon_set: Annotated[DaemonSetRef | None, Field(default=None, description=(
        "The agent DaemonSet rolled node by node. Required for the generic profile; the other profiles know "
        "their DaemonSets and take this as an override."))]
    rollout: Annotated[Rollout, Field(default_factory=Rollout, description="Canary, batches and health gates.",
                                      json_schema_extra=DEFAULT_EMPTY)]
    window: Annotated[MaintenanceWindow | None, Field(
        default=None, description="Start batches only inside this window; a running batch finishes.")]
    paused: Annotated[bool, Field(default=False, description=(
        "Hold before the next batch; nodes already being upgraded finish. Set false to resume."))]
    require_approval: Annotated[bool, Field(default=False, description=(
        "Compute the plan and the checks, publish them in status, and change nothing until spec.approved."))]
    approved: Annotated[bool, Field(default=False, description="Approves the plan shown in status.")]
    allow_downgrade: Annotated[bool, Field(default=False, description=(
        "Allow a target older than the installed version (refused otherwise, by check generic.downgrade)."))]
    rollback_on_failure: Annotated[bool, Field(default=False, description=(
        "When a node fails its health gate, put every node the plan changed back on the previous version."))]
    rollback: Annotated[bool, Field(default=False, description=(
        "Roll the plan back, in any phase (also after Succeeded): every node it changed goes back to the previous "
        "version, the first alone, then at most maxUnavailable at a time, each until Ready; through a chart the "
        "release returns to its revision before the plan. The annotation cniupgrade.io/rollback does the same."))]
    chart: Annotated[Chart | None, Field(default=None, description=(
        "Upgrade through the plugin's helm chart (the release ends on the target chart, as installed); needs "
        "spec.serviceAccountName, as which helm runs. Without it, images are patched."))]
    preflight: Annotated[Preflight, Field(default_factory=Preflight, json_schema_extra=DEFAULT_EMPTY,
                                          description="Which checks run and what blocks.")]
    pre_pull: Annotated[PrePull, Field(default_factory=PrePull, json_schema_extra=DEFAULT_EMPTY,
                                       description="Image pre-pull before the rollout.")]
    migrations: Annotated[Migrations, Field(default_factory=Migrations, json_schema_extra=DEFAULT_EMPTY,
                                            description="Whether the operator applies the notes' migrations.")]
    change_freeze: Annotated[ChangeFreeze, Field(default_factory=ChangeFreeze, json_schema_extra=DEFAULT_EMPTY,
                                                 description="Hold others' workload changes while the network "
                                                             "changes (the UK8S note: release nothing meanwhile).")]
    uk8s: Annotated[Uk8sOptions, Field(default_factory=Uk8sOptions, json_schema_extra=DEFAULT_EMPTY,
                                       description="Options of the uk8s-cni-vpc profile.")]
    spiderpool: Annotated[SpiderpoolOptions, Field(default_factory=SpiderpoolOptions, json_schema_extra=DEFAULT_EMPTY,
                                                   description="Options of the spiderpool profile.")]

    @classmethod
    def of_plan(cls, raw: dict | None, plan_namespace: str) -> UpgradePlanSpec:
        """The spec of a plan that lives in `plan_namespace`: spec.namespace defaults to it."""
        spec = cls.model_validate(raw or {})
        return spec if spec.namespace else spec.model_copy(update={"namespace": plan_namespace})


_ROLLOUT_RUNNING = ("has(oldSelf.status) && has(oldSelf.status.startedAt) && has(oldSelf.status.phase) && "
                    "!(oldSelf.status.phase in ['Succeeded', 'Failed', 'RolledBack'])")


def _fixed_while_running(field: str, why: str = "") -> dict:
    """The field may not change (nor appear or go) while the rollout runs: the plan was made for it."""
    name = f"__{field}__" if field == "namespace" else field  # a CEL reserved word is escaped so in rules
    return cel(f"!({_ROLLOUT_RUNNING}) || (has(self.spec.{name}) == has(oldSelf.spec.{name}) && "
               f"(!has(self.spec.{name}) || self.spec.{name} == oldSelf.spec.{name}))",
               f"spec.{field} is immutable while the rollout runs{why}", f".spec.{field}")


ROOT_RULES = [_fixed_while_running("targetVersion", "; wait for it to end or delete the plan"),
              *(_fixed_while_running(field) for field in ("daemonSet", "plugin", "namespace", "chart"))]

SPEC_RULES = [
    cel("!has(self.window) || self.window.start != self.window.end",
        "window.start and window.end must differ (an empty window would never open)", ".window.end"),
    cel("self.plugin != 'generic' || has(self.daemonSet)", "the generic profile needs spec.daemonSet"),
    cel("!has(self.chart) || has(self.chart.repository) != has(self.chart.archive)",
        "spec.chart needs exactly one of repository (an HTTP(S) chart repository or an oci:// registry) and archive "
        "(the chart archive in a ConfigMap or Secret beside the plan)", ".chart"),
    cel("!has(self.chart) || !has(self.chart.archive) || "
        "has(self.chart.archive.configMap) != has(self.chart.archive.secret)",
        "spec.chart.archive needs exactly one of configMap and secret", ".chart.archive"),
    cel("!has(self.chart) || !has(self.chart.plainHttp) || !self.chart.plainHttp || "
        "(has(self.chart.repository) && self.chart.repository.startsWith('oci://'))",
        "spec.chart.plainHttp applies to an oci:// repository only", ".chart.plainHttp"),
    cel("self.plugin != 'generic' || !has(self.chart) || (has(self.chart.name) && has(self.chart.releaseName))",
        "the generic profile's spec.chart needs name and releaseName (it knows no chart of its own)", ".chart"),
    cel("!has(self.chart) || has(self.serviceAccountName)",
        "spec.chart needs spec.serviceAccountName: helm writes whatever the chart holds (RBAC, webhooks, CRDs) and "
        "runs as that account, not as the operator", ".chart"),
    cel("!has(self.rollout) || !has(self.rollout.batchDelaySeconds) || self.rollout.batchDelaySeconds == 0 || "
        "(has(self.rollout.mode) && self.rollout.mode == 'Batches')",
        "rollout.batchDelaySeconds needs rollout.mode: Batches (in Window mode a node starts as soon as another "
        "passes)", ".rollout.batchDelaySeconds"),
]
