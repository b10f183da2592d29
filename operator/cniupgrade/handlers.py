"""kopf wiring, and nothing else: each plan gets a daemon running its reconcile loop; deletion releases
the DaemonSet (the finalizer restores its original update strategy)."""
from __future__ import annotations

import logging
import threading
import time

import kopf
from kubernetes import client

from cniupgrade import builtins, metrics  # noqa: F401 - builtins registers the plugins and mechanisms
from cniupgrade.api import models
from cniupgrade.engine import PlanRunner, daemonset_name
from cniupgrade.kube.apply import Executor
from cniupgrade.kube.client import acting_client, api_client

RESOURCE = (models.GROUP, models.VERSION, models.PLURAL)
_api: client.ApiClient | None = None
_runners: dict[str, PlanRunner] = {}
_runners_lock = threading.Lock()


def shared_api() -> client.ApiClient:
    global _api
    if _api is None:
        _api = api_client()
    return _api


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_) -> None:
    settings.persistence.finalizer = "cniupgrade.io/release-daemonset"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="cniupgrade.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="cniupgrade.io", key="last-handled-configuration")
    settings.posting.level = logging.WARNING  # the engine posts its own step Events
    settings.execution.max_workers = 64  # one thread per plan daemon
    settings.watching.server_timeout = 300
    settings.background.instant_exit_timeout = 3.0
    # The client imports its API classes on first use (CoreV1Api: ~3 CPU-seconds): now, not when a plan arrives.
    for api_class in ("CoreV1Api", "AppsV1Api", "CustomObjectsApi"):
        getattr(client, api_class)


# The loop notices a stop within a second; kopf waits that long for a sync daemon's thread, re-checks after
# the backoff, and only then removes the finalizer (by default it would re-check after the whole timeout).
@kopf.daemon(*RESOURCE, cancellation_backoff=2.0, cancellation_timeout=30.0)
def reconcile(namespace: str, name: str, uid: str, stopped: kopf.DaemonStopped, **_) -> None:
    runner = PlanRunner(shared_api(), namespace, name, uid)
    with _runners_lock:
        _runners[uid] = runner
    try:
        runner.run(stopped)
    finally:
        with _runners_lock:
            if _runners.get(uid) is runner:
                del _runners[uid]


def stop_all_runners(timeout: float) -> int:
    """On the way out (kopf has stopped): every plan's loop ends its current step and writes its last status;
    returns how many did not end in time."""
    with _runners_lock:
        runners = list(_runners.values())
    for runner in runners:
        runner.exit_soon()
    deadline = time.monotonic() + timeout
    return sum(not runner.finished.wait(max(0.0, deadline - time.monotonic())) for runner in runners)


def _stop_runner(uid: str) -> None:
    """kopf does not wait for a sync daemon's thread; the finalizer must not race its last status write."""
    with _runners_lock:
        runner = _runners.get(uid)
    if runner is not None and not runner.stop_and_wait(30):
        raise kopf.TemporaryError("the plan's reconcile loop has not stopped yet", delay=2)


@kopf.on.delete(*RESOURCE)
def release(namespace: str, name: str, uid: str, spec: dict, logger, **_) -> None:
    """Deleting a plan: its DaemonSet gets its original update strategy back (if the plan holds it), and the
    plan's pre-pull DaemonSet and probe pods are removed."""
    _stop_runner(uid)
    metrics.forget(namespace, name)
    try:
        plan_spec = models.UpgradePlanSpec.of_plan(spec, namespace)
        ds_name = daemonset_name(plan_spec)
    except Exception:  # noqa: BLE001 - an invalid plan never changed anything
        return
    # Only what the plan itself made is touched: the DaemonSet if its owner annotation names this plan, and the
    # pre-pull and probe objects labelled with this plan's UID.
    acting = acting_client(shared_api(), namespace, plan_spec.service_account_name)
    for step in Executor(shared_api(), namespace, name, uid, acting).clean_up(plan_spec.namespace, ds_name):
        logger.info(step)
