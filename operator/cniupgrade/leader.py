"""Leader election on a coordination.k8s.io Lease, so that of several replicas exactly one acts.

A replica waits until it holds the Lease, renews it while it runs, and exits at once when it can no longer be
sure it holds it (as controller-runtime does): the standby takes over after the Lease expires.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

log = logging.getLogger(__name__)
LEASE_NAME = "cniupgrade-leader"


def identity() -> str:
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _micro(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaseState:
    holder: str | None
    acquired: dt.datetime | None
    renewed: dt.datetime | None
    duration: int
    transitions: int
    resource_version: str | None

    def expired(self, now: dt.datetime) -> bool:
        return self.renewed is None or (now - self.renewed).total_seconds() > self.duration


class LeaderElector:
    def __init__(self, api: client.ApiClient, namespace: str, lease_seconds: int = 15, renew_seconds: float = 5,
                 name: str = LEASE_NAME, me: str | None = None):
        self.coordination = client.CoordinationV1Api(api)
        self.namespace, self.name, self.me = namespace, name, me or identity()
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self._stopping = threading.Event()
        self._renewal: threading.Thread | None = None

    def _read(self) -> LeaseState | None:
        try:
            lease = self.coordination.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        spec = lease.spec
        return LeaseState(spec.holder_identity, spec.acquire_time, spec.renew_time,
                          spec.lease_duration_seconds or self.lease_seconds, spec.lease_transitions or 0,
                          lease.metadata.resource_version)

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease afterwards."""
        now = _now()
        state = self._read()
        body = {"metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"holderIdentity": self.me, "leaseDurationSeconds": self.lease_seconds,
                         "renewTime": _micro(now)}}
        try:
            if state is None:
                body["spec"].update(acquireTime=_micro(now), leaseTransitions=0)
                self.coordination.create_namespaced_lease(self.namespace, body)
                return True
            if state.holder and state.holder != self.me and not state.expired(now):
                return False  # held by another replica (no holder: released on a clean exit, free at once)
            if state.holder != self.me:  # taking over an expired Lease
                body["spec"].update(acquireTime=_micro(now), leaseTransitions=state.transitions + 1)
            else:  # a renewal replaces the whole object: keep what it does not change
                body["spec"].update(acquireTime=_micro(state.acquired or now), leaseTransitions=state.transitions)
            body["metadata"]["resourceVersion"] = state.resource_version  # lose any race cleanly (409)
            self.coordination.replace_namespaced_lease(self.name, self.namespace, body)
            return True
        except ApiException as exc:
            if exc.status in (409, 422):
                return False
            raise

    def wait_for_leadership(self, stop: threading.Event | None = None) -> bool:
        stop = stop or threading.Event()
        announced = False
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    log.info("leader election: %s holds lease %s/%s", self.me, self.namespace, self.name)
                    return True
            except ApiException as exc:
                log.warning("leader election: %s", exc.reason)
            if not announced:
                log.info("leader election: waiting for lease %s/%s (another replica is active)",
                         self.namespace, self.name)
                announced = True
            stop.wait(self.renew_seconds)
        return False

    def keep_renewing(self, on_lost) -> threading.Thread:
        """Renew in the background until release(); call `on_lost` once it cannot renew within the lease's
        duration."""
        def loop() -> None:
            last_renewed = _now()
            while not self._stopping.is_set():
                try:
                    if self.try_acquire_or_renew():
                        last_renewed = _now()
                    else:
                        log.error("leader election: lease %s/%s taken by another replica", self.namespace, self.name)
                        return on_lost()
                except Exception as exc:  # noqa: BLE001 - the API may be briefly unreachable
                    log.warning("leader election: renewal failed: %s", exc)
                if (_now() - last_renewed).total_seconds() > self.lease_seconds - self.renew_seconds:
                    log.error("leader election: could not renew lease %s/%s in time", self.namespace, self.name)
                    return on_lost()
                self._stopping.wait(self.renew_seconds)
        self._renewal = threading.Thread(target=loop, name="lease-renewal", daemon=True)
        self._renewal.start()
        return self._renewal

    def release(self) -> bool:
        """On a clean exit, once nothing of ours acts any more: the Lease is given up at once (no holder), so the
        standby takes over now instead of after the Lease's duration (controller-runtime's ReleaseOnCancel)."""
        self._stopping.set()
        if self._renewal is not None:
            self._renewal.join(self.renew_seconds + 5)
        state = self._read()
        if state is None or state.holder != self.me:
            return False
        now = _micro(_now())
        body = {"metadata": {"name": self.name, "namespace": self.namespace,
                             "resourceVersion": state.resource_version},
                "spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now,
                         "leaseTransitions": state.transitions}}
        try:
            self.coordination.replace_namespaced_lease(self.name, self.namespace, body)
        except ApiException as exc:
            log.warning("leader election: could not release lease %s/%s: %s", self.namespace, self.name, exc.reason)
            return False
        log.info("leader election: %s released lease %s/%s", self.me, self.namespace, self.name)
        return True


def exit_now() -> None:
    """Leadership lost: stop acting at once; the orchestrator restarts this replica as a standby."""
    logging.shutdown()
    os._exit(3)
