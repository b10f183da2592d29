"""Carry out the decided actions. Each is idempotent: repeating it after a crash changes nothing more."""
from __future__ import annotations

import datetime as dt
import json
import logging
import functools
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Container, Mapping

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api import models
from cniupgrade.api import status as status_api
from cniupgrade.kube import event_queue, freeze
from cniupgrade.kube.chart import hold_renderer
from cniupgrade.kube.chart_source import fetched_chart, merged, release_values, secret_values
from cniupgrade.kube.client import acting_client, service_account_user
from cniupgrade.kube.cluster import KubeCluster
from cniupgrade.kube.helm_cli import HelmCli, HelmError
from cniupgrade.kube.helm_unlock import IN_PROGRESS, unlock_interrupted
from cniupgrade.kube.rosters import RosterWriter
from cniupgrade.kube.taints import remove_plan_taints, set_in_flight_taint
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.agent_pods import REVISION_LABEL
from cniupgrade.rollout.change_freeze import freeze_name
from cniupgrade.rollout.in_flight_taint import taint_value
from cniupgrade.rollout.observation import DaemonSetView, images_digest
from cniupgrade.rollout.steps.release import release_marker
from cniupgrade.seams.objects import (MANAGED_BY, ORIGINAL_STRATEGY_ANNOTATION, OWNER_ANNOTATION, PREPULL_DIGEST_LABEL,
                                      PREPULL_LABEL, PREVIOUS_IMAGES_ANNOTATION, PROBE_LABEL, RELEASE_ANNOTATION)
from cniupgrade.seams.cluster import CRDS, StepStuck
from cniupgrade.seams.plugin import AfterSuccess, MigrationError, plugin_for

log = logging.getLogger(__name__)
FIELD_MANAGER = "cniupgrade"
MAX_REMEMBERED_DELETIONS = 10_000
EVENT_TIMEOUT_SECONDS = 10  # an unreachable API server must not hold the event queue for long
HELM_UPGRADE_TIMEOUT = 600.0
# The pods the operator creates (probe, pre-pull) run unprivileged, as nobody, with nothing to write to.
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"privileged": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}}
SMALL_RESOURCES = {"requests": {"cpu": "1m", "memory": "4Mi"}, "limits": {"cpu": "50m", "memory": "32Mi"}}


def image_patch(images: Mapping[str, str], template_spec: dict) -> dict:
    """Strategic-merge fragments that set container images by name, for containers and init containers."""
    patch: dict = {}
    for key in ("containers", "initContainers"):
        names = {c["name"] for c in template_spec.get(key) or []}
        changed = [{"name": n, "image": img} for n, img in images.items() if n in names]
        if changed:
            patch[key] = changed
    return patch


class Executor:
    """Changes to workloads are made as the plan's identity (`acting`: the operator, or the plan's impersonated
    ServiceAccount); the plan's own status and Events as the operator."""

    def __init__(self, api: client.ApiClient, plan_namespace: str, plan_name: str, plan_uid: str,
                 acting: client.ApiClient | None = None):
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.events = self.own_core = client.CoreV1Api(api)
        self.acting = None
        self.act_as(acting or api)
        self.spec: models.UpgradePlanSpec | None = None
        self.decided: status_api.UpgradePlanStatus | None = None
        self.plan_namespace, self.plan_name, self.plan_uid = plan_namespace, plan_name, plan_uid
        self.rosters = RosterWriter(api, plan_namespace, plan_name, plan_uid)
        # UIDs of pods this process deleted: until the watch shows them terminating, a decision may ask again.
        self._deleted_uids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def act_for(self, spec: models.UpgradePlanSpec, decided: status_api.UpgradePlanStatus) -> None:
        """The plan this pass acts for: its spec (its identity follows: the operator, or spec.serviceAccountName
        impersonated) and the status just decided (an after-success action records into it)."""
        self.spec, self.decided = spec, decided
        self.act_as(acting_client(self.api, self.plan_namespace, spec.service_account_name))

    def act_as(self, acting: client.ApiClient) -> None:
        if acting is not self.acting:
            self.acting = acting
            self.core, self.apps = client.CoreV1Api(acting), client.AppsV1Api(acting)

    @property
    def deleted_uids(self) -> Container[str]:
        """UIDs of the agent pods this process deleted (the most recent MAX_REMEMBERED_DELETIONS)."""
        return self._deleted_uids

    # ---- actions -----------------------------------------------------------------------------------
    def run_at_once(self, actions: list[act.DeletePod | act.SetInFlightTaint], ds: DaemonSetView) -> None:
        """Pod deletions (as the DaemonSet controller makes them) or node taints of one pass, all at once; the
        first error is raised after all ran."""
        if len(actions) == 1:  # run() skips pods deleted already
            self.run(actions[0], ds, None)
            return
        futures = [(d, _deletion_pool().submit(self.run, d, ds, None)) for d in actions]
        errors = [f.exception() for _, f in futures if f.exception() is not None]
        if errors:
            raise errors[0]

    def run(self, action: act.Action, ds: DaemonSetView | None, raw_ds: dict | None) -> AfterSuccess | None:
        """Carry out one action (its function in HANDLERS); an after-success action returns what it recorded."""
        if isinstance(action, act.DeletePod) and action.uid in self._deleted_uids:
            return None  # deleted already; the decision was made before the watch showed it
        log.info("plan %s/%s: %s", self.plan_namespace, self.plan_name, action,
                 extra={"plan": self.owner_key, "action": type(action).__name__, "node": getattr(action, "node", None)})
        handler = HANDLERS.get(type(action))
        if handler is None:
            raise TypeError(f"unknown action {action!r}")
        return handler(self, action, ds, raw_ds)

    def _take_ownership(self, action: act.TakeOwnership, ds: DaemonSetView, raw_ds: dict) -> None:
        self._patch_ds(raw_ds, {
            "metadata": {"annotations": {
                OWNER_ANNOTATION: action.owner,
                ORIGINAL_STRATEGY_ANNOTATION: json.dumps(dict(action.original_strategy), sort_keys=True),
                PREVIOUS_IMAGES_ANNOTATION: json.dumps(dict(action.previous_images), sort_keys=True)}},
            "spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
                     "template": {"spec": image_patch(action.target_images, raw_ds["spec"]["template"]["spec"])}},
        })

    def _set_images(self, action: act.SetImages, ds: DaemonSetView, raw_ds: dict) -> None:
        self._patch_ds(raw_ds, {"spec": {"template": {"spec": image_patch(
            action.images, raw_ds["spec"]["template"]["spec"])}}})

    def _release(self, action: act.ReleaseDaemonSet, ds: DaemonSetView, raw_ds: dict) -> None:
        self.release(raw_ds, action.original_strategy)

    def _delete_agent_pod(self, action: act.DeletePod, ds: DaemonSetView, raw_ds: dict | None) -> None:
        self._delete_pod(action.name, ds.namespace, uid=action.uid)
        with self._lock:
            self._deleted_uids[action.uid] = None
            if len(self._deleted_uids) > MAX_REMEMBERED_DELETIONS:
                self._deleted_uids.popitem(last=False)

    def _set_in_flight_taint(self, action: act.SetInFlightTaint, ds: DaemonSetView | None, raw_ds: dict | None) -> None:
        # As the operator, like the plan's status: the taint protects the plan's own nodes while it acts on them.
        set_in_flight_taint(self.own_core, action.node, action.value, action.on, seen=action.seen)

    def _apply_change_freeze(self, action: act.ApplyChangeFreeze, ds: DaemonSetView | None,
                             raw_ds: dict | None) -> None:
        me = freeze.own_username(self.api)
        exempt = (me, *([service_account_user(self.plan_namespace, self.spec.service_account_name)]
                        if self.spec and self.spec.service_account_name else []))
        freeze.apply(self.api, *freeze.objects(action, self.owner_key, exempt, freeze.operator_namespace(me)))

    def _remove_change_freeze(self, action: act.RemoveChangeFreeze, ds: DaemonSetView | None,
                              raw_ds: dict | None) -> None:
        freeze.remove(self.api, action.name)

    def _create_probe_pod(self, action: act.CreateProbe, ds: DaemonSetView, raw_ds: dict | None) -> None:
        self._create_probe(ds.namespace, action.node, action.image)

    def _delete_probe_pod(self, action: act.DeleteProbe, ds: DaemonSetView, raw_ds: dict | None) -> None:
        self._delete_pod(action.name, ds.namespace, uid=None)

    def _set_deployment_images(self, action: act.SetDeploymentImages, ds: DaemonSetView, raw_ds: dict | None) -> None:
        raw = json.loads(self.apps.read_namespaced_deployment(action.name, ds.namespace, _preload_content=False).data)
        self.apps.patch_namespaced_deployment(action.name, ds.namespace, _with_version(
            {"spec": {"template": {"spec": image_patch(action.images, raw["spec"]["template"]["spec"])}}}, raw))

    def _start_pre_pull_action(self, action: act.StartPrePull, ds: DaemonSetView | None, raw_ds: dict) -> None:
        self._start_pre_pull(raw_ds, action.images)

    def _end_pre_pull_action(self, action: act.EndPrePull, ds: DaemonSetView, raw_ds: dict | None) -> None:
        self._end_pre_pull(ds.namespace)

    def _run_migration(self, action: act.RunMigration, ds: DaemonSetView | None, raw_ds: dict | None) -> None:
        """The plugin's migration: decided from the operator's reads, made as the plan's identity."""
        try:
            message = plugin_for(self.spec).migrate(action.id, self.spec, self.plan_namespace, KubeCluster(self.api),
                                                    KubeCluster(self.acting))
        except MigrationError as exc:
            self.post_event(act.Event("Warning", "MigrationFailed", f"{action.id}: {exc}"))
            raise
        self.post_event(act.Event("Normal", "MigrationApplied", f"{action.id}: {message}"))

    def _upgrade_release(self, action: act.UpgradeRelease, ds: DaemonSetView | None, raw_ds: dict | None) -> None:
        """helm upgrade as the plan's ServiceAccount (spec.chart needs one): the values the plan recorded, with the
        hold values while the nodes are rolled."""
        chart = self.decided.chart
        if action.hold:  # the decision may have read the DaemonSet before the watch brought our annotation
            live = json.loads(self.apps.read_namespaced_daemon_set(ds.name, ds.namespace, _preload_content=False).data)
            if (live["metadata"].get("annotations") or {}).get(RELEASE_ANNOTATION) == release_marker(chart):
                return
        helm, cluster = self._helm(), KubeCluster(self.acting)
        values = release_values(chart, secret_values(chart, cluster, self.plan_namespace),
                                self.spec.chart.values if self.spec.chart else None)
        values = merged(values, chart.hold_values) if action.hold else values
        with fetched_chart(chart, cluster, self.plan_namespace, helm) as archive:
            if action.hold:  # helm never upgrades crds/: applied first, as the vendor's own upgrade test does
                for crd in helm.crds(archive):
                    cluster.apply(CRDS, crd)
            held_by = hold_renderer(chart) if action.hold else []
            try:
                helm.upgrade(chart.release, chart.namespace, archive, None, values, post_renderer=held_by)
            except HelmError as exc:
                if IN_PROGRESS not in str(exc) or not unlock_interrupted(cluster, helm, chart):
                    raise
                self.post_event(act.Event("Warning", "ReleaseUnlocked", f"helm release {chart.namespace}/"
                                                                         f"{chart.release}: our interrupted upgrade "
                                                                         f"marked failed; again"))
                helm.upgrade(chart.release, chart.namespace, archive, None, values, post_renderer=held_by)
        if action.hold:  # what the next pass decides from: the release is at the target, the agent held
            self.apps.patch_namespaced_daemon_set(ds.name, ds.namespace, {"metadata": {"annotations": {
                RELEASE_ANNOTATION: release_marker(chart)}}})
        self.post_event(act.Event("Normal", "ReleaseUpgraded", f"helm release {chart.namespace}/{chart.release} at "
                                                               f"{chart.chart}-{chart.version}" +
                                  (" (agent held at OnDelete)" if action.hold else "")))

    def _helm(self) -> HelmCli:
        """helm acting as the plan's ServiceAccount (the chart path requires one)."""
        return HelmCli(as_user=service_account_user(self.plan_namespace, self.spec.service_account_name),
                       timeout=HELM_UPGRADE_TIMEOUT)

    def _restore_revision(self, action: act.RestoreRevision, ds: DaemonSetView, raw_ds: dict) -> None:
        """The template stored in the DaemonSet's ControllerRevision `revision_hash` (as `kubectl rollout undo`),
        replaced whole (a merge would keep what the newer template added)."""
        revisions = client.AppsV1Api(self.api).list_namespaced_controller_revision(
            ds.namespace, label_selector=f"{REVISION_LABEL}={action.revision_hash}").items
        uid = raw_ds["metadata"]["uid"]
        stored = next((r for r in revisions if any(o.uid == uid for o in r.metadata.owner_references or [])), None)
        if stored is None:
            raise RevisionMissing(f"DaemonSet {ds.namespace}/{ds.name} has no ControllerRevision "
                                  f"{action.revision_hash} (its revisionHistoryLimit dropped it): roll back by hand "
                                  f"(helm rollback)")
        template = {k: v for k, v in stored.data["spec"]["template"].items() if k != "$patch"}
        self.apps.patch_namespaced_daemon_set(ds.name, ds.namespace, [
            {"op": "test", "path": "/metadata/resourceVersion", "value": raw_ds["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/template", "value": template}])

    def _rollback_release(self, action: act.RollbackRelease, ds: DaemonSetView | None, raw_ds: dict | None) -> None:
        """helm rollback as the plan's ServiceAccount, once: a pass repeated after a crash finds it done."""
        chart, helm = self.decided.chart, self._helm()
        last = helm.history(chart.release, chart.namespace)[-1]
        if last.status == "deployed" and last.description == f"Rollback to {action.revision}":
            return
        helm.rollback(chart.release, chart.namespace, action.revision)
        self.post_event(act.Event("Warning", "ReleaseRolledBack", f"helm release {chart.namespace}/{chart.release} "
                                                                  f"back at revision {action.revision}"))

    def _run_after_success(self, action: act.RunAfterSuccess, ds: DaemonSetView | None,
                           raw_ds: dict | None) -> AfterSuccess:
        return plugin_for(self.spec).after_success(self.spec, self.decided, KubeCluster(self.api),
                                                   KubeCluster(self.acting))

    def clean_up(self, namespace: str, ds_name: str) -> list[str]:
        """Everything a deleted plan leaves: the DaemonSet released, the pre-pull and probe pods removed."""
        done = []
        try:
            raw_ds = json.loads(self.apps.read_namespaced_daemon_set(ds_name, namespace, _preload_content=False).data)
        except ApiException as exc:
            if exc.status != 404:
                raise
            raw_ds = None
        if raw_ds and self.release(raw_ds, DaemonSetView.from_api(raw_ds).recorded_original_strategy or {}):
            done.append(f"released DaemonSet {namespace}/{ds_name}: update strategy restored")
        self._end_pre_pull(namespace)
        probes = self.core.list_namespaced_pod(namespace, label_selector=f"{PROBE_LABEL}={self.plan_uid}").items
        for probe in probes:
            self._delete_pod(probe.metadata.name, namespace, uid=None)
        if probes:
            done.append(f"removed {len(probes)} probe pod(s)")
        try:
            if freeze.remove(self.api, freeze_name(self.owner_key)):
                done.append("change freeze lifted")
            untainted = remove_plan_taints(self.own_core, taint_value(self.owner_key))
            if untainted:
                done.append(f"in-flight taint taken off {len(untainted)} node(s): {', '.join(untainted[:20])}")
        except ApiException as exc:
            if exc.status != 403:
                raise
            # an operator installed without these rights never made either: the plan's deletion must not hang
            done.append(f"freeze and taints not checked: {exc.reason}")
        return done

    def release(self, raw_ds: dict | None, original_strategy: Mapping | None) -> bool:
        """Restore the strategy (None: leave it, as a helm release rendered it) and drop our annotations, if this
        plan holds the DaemonSet; True if it did."""
        if raw_ds is None or (raw_ds["metadata"].get("annotations") or {}).get(OWNER_ANNOTATION) != self.owner_key:
            return False  # not ours (any more): nothing to restore
        patch: dict = {"metadata": {"annotations": {OWNER_ANNOTATION: None, ORIGINAL_STRATEGY_ANNOTATION: None,
                                                    PREVIOUS_IMAGES_ANNOTATION: None, RELEASE_ANNOTATION: None}}}
        if original_strategy is not None:
            strategy = dict(original_strategy) or {"type": "RollingUpdate"}
            if strategy.get("type") != "RollingUpdate":
                strategy.setdefault("rollingUpdate", None)
            patch["spec"] = {"updateStrategy": strategy}
        self._patch_ds(raw_ds, patch)
        return True

    @property
    def owner_key(self) -> str:
        return f"{self.plan_namespace}/{self.plan_name}"

    def _patch_ds(self, raw_ds: dict, patch: dict) -> None:
        """The observed resourceVersion makes a concurrent edit fail with 409 instead of being overwritten.

        The DaemonSet controller's status writes change the resourceVersion too, many times a second while pods
        turn Ready: if the DaemonSet's spec (generation) and annotations are still those decided from, the patch
        is sent once more with the fresh resourceVersion instead of failing the pass (~60 ms at a rollout's end)."""
        name, namespace = raw_ds["metadata"]["name"], raw_ds["metadata"]["namespace"]
        try:
            self.apps.patch_namespaced_daemon_set(name, namespace, _with_version(patch, raw_ds))
        except ApiException as exc:
            if exc.status != 409:
                raise
            fresh = json.loads(self.apps.read_namespaced_daemon_set(name, namespace, _preload_content=False).data)
            if _decided_part(fresh) != _decided_part(raw_ds):
                raise  # someone else changed what the decision read: decide again
            self.apps.patch_namespaced_daemon_set(name, namespace, _with_version(patch, fresh))

    def _delete_pod(self, name: str, namespace: str, uid: str | None) -> None:
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid) if uid else None)
        try:
            # The reply (the deleted pod) is read raw and dropped: parsing it into client models cost ~0.7 ms a pod.
            self.core.delete_namespaced_pod(name, namespace, body=options, _preload_content=False).read()
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone already, or a different pod by now
                raise

    def _create_probe(self, namespace: str, node: str, image: str) -> None:
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": probe_name(self.plan_name, node), "namespace": namespace,
                         "labels": {PROBE_LABEL: self.plan_uid, MANAGED_BY: self.plan_name}},
            # On the pod network (it tests the CNI there), with the least a container can run with.
            "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "automountServiceAccountToken": False, "enableServiceLinks": False,
                     "tolerations": [{"operator": "Exists"}], "securityContext": POD_SECURITY,
                     "containers": [{"name": "probe", "image": image, "securityContext": CONTAINER_SECURITY,
                                     "resources": SMALL_RESOURCES}]},
        }
        try:
            self.core.create_namespaced_pod(namespace, pod)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _start_pre_pull(self, raw_ds: dict, images: tuple[str, ...]) -> None:
        """A DaemonSet whose containers use the target images, scheduled where the agent is.

        hostNetwork: it must not need the CNI being upgraded (nothing listens; no port is declared). A container
        that exits at once, or that the kubelet refuses to start (say its image wants root, which runAsNonRoot
        forbids), still pulled its image: only pull errors count as failures."""
        template = raw_ds["spec"]["template"]["spec"]
        labels = {PREPULL_LABEL: self.plan_uid, MANAGED_BY: self.plan_name, PREPULL_DIGEST_LABEL: images_digest(images)}
        scheduling = {k: template[k] for k in ("nodeSelector", "affinity", "tolerations") if template.get(k)}
        body = {
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": prepull_name(self.plan_name), "namespace": raw_ds["metadata"]["namespace"],
                         "labels": labels},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                **scheduling, "hostNetwork": True, "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": False, "enableServiceLinks": False, "securityContext": POD_SECURITY,
                "containers": [{"name": f"pull-{i}", "image": image, "imagePullPolicy": "IfNotPresent",
                                "command": ["/bin/sh", "-c", "sleep 2147483647 || true"],
                                "securityContext": CONTAINER_SECURITY, "resources": SMALL_RESOURCES}
                               for i, image in enumerate(images)]}}},
        }
        try:
            self.apps.create_namespaced_daemon_set(raw_ds["metadata"]["namespace"], body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _end_pre_pull(self, namespace: str) -> None:
        """Delete this plan's pre-pull DaemonSet: found by its label, deleted with its UID as precondition (a
        plan of the same name in another namespace may have one of the same name here)."""
        found = self.apps.list_namespaced_daemon_set(namespace, label_selector=f"{PREPULL_LABEL}={self.plan_uid}",
                                                     _preload_content=False)
        for item in json.loads(found.data).get("items") or []:
            try:
                self.apps.delete_namespaced_daemon_set(item["metadata"]["name"], namespace, body=client.V1DeleteOptions(
                    propagation_policy="Background", preconditions=client.V1Preconditions(uid=item["metadata"]["uid"])))
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise

    # ---- status and events -------------------------------------------------------------------------
    def write_status(self, status: status_api.UpgradePlanStatus) -> str:
        """Merge-patch the whole status (nulls remove stale keys); returns the new resourceVersion."""
        wire = status.model_dump(mode="json", by_alias=True)
        wire["plan"] = self.rosters.compact_plan(status.plan, wire.get("plan"))
        written = self.custom.patch_namespaced_custom_object_status(models.GROUP, models.VERSION, self.plan_namespace,
                                                                    models.PLURAL, self.plan_name, {"status": wire})
        self.rosters.drop_others(wire)
        return written["metadata"]["resourceVersion"]

    def post_event(self, event: act.Event) -> None:
        """Queued (kube/event_queue.py): an Event is informative and must not delay the next decision."""
        event_queue.shared().submit(self._post_event_now, event, dt.datetime.now(dt.timezone.utc))

    def post_event_once(self, event: act.Event, name: str) -> None:
        """Posted now, under a name derived from the decision: the same decision made again after a crash
        (its status not yet written) finds it there (409) instead of posting it twice."""
        self._post_event_now(event, dt.datetime.now(dt.timezone.utc), name)

    def _post_event_now(self, event: act.Event, now: dt.datetime, name: str | None = None) -> None:
        meta = client.V1ObjectMeta(name=name, namespace=self.plan_namespace) if name else client.V1ObjectMeta(
            generate_name=f"{self.plan_name}.", namespace=self.plan_namespace)
        body = client.CoreV1Event(
            metadata=meta,
            involved_object=client.V1ObjectReference(api_version=f"{models.GROUP}/{models.VERSION}",
                                                     kind=models.KIND, name=self.plan_name,
                                                     namespace=self.plan_namespace, uid=self.plan_uid),
            type=event.type, reason=event.reason, message=event.message[:1024], first_timestamp=now,
            last_timestamp=now, count=1, source=client.V1EventSource(component="cniupgrade"),
            reporting_component="cniupgrade.io/operator", reporting_instance="cniupgrade")
        try:
            self.events.create_namespaced_event(self.plan_namespace, body, _preload_content=False,
                                                _request_timeout=EVENT_TIMEOUT_SECONDS).read()
        except ApiException as exc:
            if exc.status != 409:  # 409: posted by an earlier pass of the same decision
                log.warning("could not post event %s: %s", event.reason, exc.reason)
        except Exception as exc:  # noqa: BLE001 - an Event is informative; never fail a step over it
            log.warning("could not post event %s: %s", event.reason, getattr(exc, "reason", exc))


def _with_version(patch: dict, raw: dict) -> dict:
    """The patch, failing with 409 if the object is no longer at the version `raw` was read at."""
    return {**patch, "metadata": {**patch.get("metadata", {}), "resourceVersion": raw["metadata"]["resourceVersion"]}}


def _decided_part(raw_ds: dict) -> tuple:
    """What a decision reads from a DaemonSet: its spec (by generation) and annotations (ownership), not status."""
    return raw_ds["metadata"].get("generation"), raw_ds["metadata"].get("annotations") or {}


@functools.cache
def _deletion_pool() -> ThreadPoolExecutor:
    """Shared by every plan of the process; a pass deletes at most maxUnavailable pods."""
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="cniupgrade-delete")


def prepull_name(plan: str) -> str:
    return f"cniupgrade-prepull-{plan}"[:63].rstrip("-.")


def probe_name(plan: str, node: str) -> str:
    return f"cniupgrade-probe-{plan}-{node}"[:63].rstrip("-.")


class RevisionMissing(StepStuck):
    """The DaemonSet revision a rollback restores is gone."""
    reason = "RevisionMissing"


# One function per action type. Pod deletions and node taints of a pass run at once (run_at_once); the rest in order.
HANDLERS = {
    act.TakeOwnership: Executor._take_ownership,
    act.SetImages: Executor._set_images,
    act.ReleaseDaemonSet: Executor._release,
    act.DeletePod: Executor._delete_agent_pod,
    act.SetInFlightTaint: Executor._set_in_flight_taint,
    act.ApplyChangeFreeze: Executor._apply_change_freeze,
    act.RemoveChangeFreeze: Executor._remove_change_freeze,
    act.CreateProbe: Executor._create_probe_pod,
    act.DeleteProbe: Executor._delete_probe_pod,
    act.SetDeploymentImages: Executor._set_deployment_images,
    act.StartPrePull: Executor._start_pre_pull_action,
    act.EndPrePull: Executor._end_pre_pull_action,
    act.RunMigration: Executor._run_migration,
    act.UpgradeRelease: Executor._upgrade_release,
    act.RestoreRevision: Executor._restore_revision,
    act.RollbackRelease: Executor._rollback_release,
    act.RunAfterSuccess: Executor._run_after_success,
}
