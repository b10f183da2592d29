"""spec.chart's pre-flight (reads only): the release is found and settled, the user's values carried over, the
target chart rendered with them; what it renders is compared with the release's manifest. helm runs as the
plan's ServiceAccount."""
from __future__ import annotations

import json
from typing import Mapping

from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from cniupgrade.api.models import UpgradePlanSpec, ValuesSourceKind
from cniupgrade.api.status import ChartRelease
from cniupgrade.kube.client import acting_client, service_account_user
from cniupgrade.kube.chart_source import (archive_ref, fetched_chart, merged, read_values, release_values, sha256,
                                          values_digest)
from cniupgrade.kube.cluster import KubeCluster
from cniupgrade.kube.helm_cli import HelmCli, HelmError, Revision
from cniupgrade.kube.hold_renderer import post_renderer
from cniupgrade.preflight.framework import Finding, Severity
from cniupgrade.rollout.observation import DaemonSetView, RenderedChart
from cniupgrade.seams.cluster import ClusterReads
from cniupgrade.seams.objects import images_of
from cniupgrade.seams.plugin import ChartDefaults, Plugin

RELEASE, VALUES, RENDER = "chart.release", "chart.values", "chart.render"
MANAGED, RIGHTS, DIGEST = "chart.managed-by", "chart.permissions", "chart.digest"
# What `helm upgrade` does to each object it renders, and to the release's own storage (Secrets).
UPGRADE_VERBS = ("get", "create", "patch")
STORAGE_VERBS = ("list", "get", "create", "update")
WORKLOAD_KINDS = ("DaemonSet", "Deployment")
# Another tool owns the release: upgrading it here would fight that tool (Flux: helm-controller; Argo CD).
MANAGERS = {"helm.toolkit.fluxcd.io/name": "Flux (HelmRelease)", "argocd.argoproj.io/instance": "Argo CD"}


def workload_images(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {f"{o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}":
            images_of(o["spec"]["template"]["spec"]) for o in objects if o.get("kind") in WORKLOAD_KINDS}


def chart_preflight(spec: UpgradePlanSpec, plugin: Plugin, plan_namespace: str, daemonset: DaemonSetView | None,
                    api: client.ApiClient, helm: HelmCli | None = None) -> tuple[list[Finding], RenderedChart | None]:
    defaults = plugin.chart_defaults(spec)
    if defaults is None:
        return [Finding(RELEASE, Severity.error, False, f"the {spec.plugin} plugin knows no chart to upgrade through",
                        "remove spec.chart: the plugin's images are patched instead")], None
    managers = [who for key, who in MANAGERS.items()
                if daemonset and (key in daemonset.labels or key in daemonset.annotations)]
    if managers:
        return [Finding(MANAGED, Severity.error, False, f"the release is managed by {', '.join(managers)}",
                        "upgrade the chart through that tool (or suspend it first), or remove spec.chart")], None
    chart = spec.chart
    release, name = chart.release_name or defaults.release, chart.name or defaults.chart
    version = chart.version or spec.target_version
    helm = helm or HelmCli(as_user=service_account_user(plan_namespace, spec.service_account_name))
    where = f"helm release {spec.namespace}/{release}"
    acting = acting_client(api, plan_namespace, spec.service_account_name)
    reads = KubeCluster(acting)
    try:
        history = helm.history(release, spec.namespace)
        if not history:
            return [Finding(RELEASE, Severity.error, False, f"{where} not found",
                            "check spec.chart.releaseName and spec.namespace")], None
        last = history[-1]
        if last.status != "deployed":
            return [Finding(RELEASE, Severity.error, False, f"{where} is {last.status} (revision {last.revision})",
                            f"settle it first (helm rollback {release} -n {spec.namespace})")], None
        current_values = helm.values(release, spec.namespace)
        target, secrets = planned_release(spec, plugin, defaults, reads, plan_namespace, current_values, last)
        with fetched_chart(target, reads, plan_namespace, helm) as archive:
            rendered = helm.template(release, spec.namespace, archive, None, merged(
                release_values(target, secrets, chart.values), defaults.hold_values),
                post_renderer=hold_renderer(target))
        current = helm.manifest(release, spec.namespace)
    except HelmError as exc:
        return [Finding(RENDER, Severity.error, False, str(exc)[:900],
                        "check spec.chart (source, name, version, digest, values) and the account's rights")], None
    target = target.model_copy(update={"manifest_digest": manifest_digest(rendered)})
    values = target.values
    images = workload_images(rendered)
    agent = f"DaemonSet {spec.namespace}/{plugin.daemonset_name(spec)}"
    if agent not in images:
        return [Finding(RENDER, Severity.error, False, f"chart {name}-{version} renders no {agent}")], None
    summary = changes(current, rendered)
    account = f"ServiceAccount {plan_namespace}/{spec.service_account_name}"
    missing = permission_gaps(acting, rendered, spec.namespace)
    if missing:
        return [Finding(RIGHTS, Severity.error, False, f"{account} may not: {'; '.join(missing[:10])}"
                                                      + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""),
                        f"grant {account} what the chart's objects need (helm writes them as that account); "
                        f"nothing was changed")], None
    found = [Finding(RELEASE, Severity.error, True, f"{where} is deployed at {last.chart} (revision "
                                                      f"{last.revision})"),
             Finding(VALUES, Severity.info, True, values_diff(current_values, values)),
             Finding(RENDER, Severity.info, True, f"chart {name}-{version} renders {len(rendered)} object(s): "
                                                  f"{summary}; images: {image_changes(current, rendered)}")]
    if target.digest:
        found.append(Finding(DIGEST, Severity.error, True, f"the chart archive is the pinned {target.digest}"))
    return found, RenderedChart(target, images, agent)


def planned_release(spec: UpgradePlanSpec, plugin: Plugin, defaults: ChartDefaults, reads: ClusterReads,
                    plan_namespace: str, current_values: Mapping, last: Revision) -> tuple[ChartRelease, list[dict]]:
    """The release's target from its `last` revision, and the values read from Secrets (kept out of it).
    Precedence, lowest first: the release's values carried over, valuesFrom ConfigMaps, valuesFrom Secrets,
    spec.chart.values."""
    chart, version = spec.chart, spec.chart.version or spec.target_version
    found = read_values(chart.values_from, reads, plan_namespace)
    config_maps = [v for s, v in found if s.kind is ValuesSourceKind.config_map]
    secrets = [v for s, v in found if s.kind is ValuesSourceKind.secret]
    values = defaults.carry(current_values, last.chart.rsplit("-", 1)[-1], version)
    for layer in [*config_maps, chart.values or {}]:
        values = merged(values, layer)
    archive = chart.archive
    target = ChartRelease(
        release=chart.release_name or defaults.release, namespace=spec.namespace, chart=chart.name or defaults.chart,
        version=version, repository=chart.repository or "", plain_http=chart.plain_http, digest=chart.digest or "",
        archive=archive_ref(archive.config_map, archive.secret, archive.key) if archive else "", values=values,
        secret_values=[s for s, _ in found if s.kind is ValuesSourceKind.secret],
        secret_values_digest=values_digest(secrets) if secrets else "", hold_values=dict(defaults.hold_values),
        hold_daemon_set="" if defaults.hold_values else plugin.daemonset_name(spec), from_revision=last.revision)
    return target, secrets


def hold_renderer(chart: ChartRelease) -> list[str]:
    """The post-renderer that holds the agent, where the chart has no value for it."""
    return post_renderer(chart.hold_daemon_set) if chart.hold_daemon_set else []


def manifest_digest(rendered: list[dict]) -> str:
    return sha256(json.dumps(rendered, sort_keys=True).encode())


def image_changes(current: list[dict], rendered: list[dict]) -> str:
    before, after = workload_images(current), workload_images(rendered)
    lines = [f"{workload.split(' ', 1)[0]}/{workload.rsplit('/', 1)[-1]} {container} "
             f"{before.get(workload, {}).get(container, '(new)')} -> {image}"
             for workload, containers in sorted(after.items()) for container, image in sorted(containers.items())
             if before.get(workload, {}).get(container) != image]
    return "; ".join(lines) or "unchanged"


def changes(current: list[dict], rendered: list[dict]) -> str:
    key = lambda o: (o.get("kind"), o["metadata"].get("namespace"), o["metadata"]["name"])  # noqa: E731
    before, after = {key(o): o for o in current}, {key(o): o for o in rendered}
    added = sorted(f"{k[0]}/{k[2]}" for k in after.keys() - before.keys())
    removed = sorted(f"{k[0]}/{k[2]}" for k in before.keys() - after.keys())
    changed = sorted(f"{k[0]}/{k[2]}" for k in after.keys() & before.keys() if after[k] != before[k])
    return "; ".join(f"{what} {', '.join(names)}" for what, names in
                     (("added", added), ("removed", removed), ("changed", changed)) if names) or "no change"


def permission_gaps(acting: client.ApiClient, rendered: list[dict], namespace: str) -> list[str]:
    """What the account `acting` may not do that `helm upgrade` will do (SelfSubjectAccessReviews, asked as it):
    each rendered object's get/create/patch, and the release's Secrets. Checked up front so a chart plan stops
    in pre-flight, not half-way through an upgrade."""
    mapper = dynamic.DynamicClient(acting).resources
    wanted: dict[tuple[str, str, str | None], tuple[str, ...]] = {("", "secrets", namespace): STORAGE_VERBS}
    for obj in rendered:
        try:
            resource = mapper.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError:
            continue  # a kind the cluster does not serve: helm's own error names it (a CRD the chart needs)
        group = obj["apiVersion"].rpartition("/")[0]
        scope = obj["metadata"].get("namespace") or namespace if resource.namespaced else None
        wanted[(group, resource.name, scope)] = UPGRADE_VERBS
    reviews = client.AuthorizationV1Api(acting)
    missing = []
    for (group, plural, scope), verbs in wanted.items():
        denied = [verb for verb in verbs if not reviews.create_self_subject_access_review({"spec": {
            "resourceAttributes": {"group": group, "resource": plural, "verb": verb,
                                   **({"namespace": scope} if scope else {})}}}).status.allowed]
        if denied:
            missing.append(f"{'/'.join(denied)} {plural}{'.' + group if group else ''}"
                           + (f" in {scope}" if scope else ""))
    return missing


def flat(values: Mapping, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}: the dotted keys of a values tree (an empty map is a leaf)."""
    out: dict[str, object] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flat(value, path + "."))
        else:
            out[path] = value
    return out


def values_diff(before: Mapping, after: Mapping) -> str:
    """What the user's values become for the target chart, key by key."""
    old, new = flat(before), flat(after)
    lines = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in sorted(old.keys() & new.keys()) if old[k] != new[k]]
    lines += [f"{k}: {new[k]!r} (new)" for k in sorted(new.keys() - old.keys())]
    lines += [f"{k}: {old[k]!r} (dropped)" for k in sorted(old.keys() - new.keys())]
    return "values carried over" + (": " + "; ".join(lines) if lines else " as they are")
