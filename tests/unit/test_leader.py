"""Lease-based leader election, against a stub of the coordination API (one object, resourceVersion checks)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from kubernetes.client.rest import ApiException

from cniupgrade import leader


class LeaseStub:
    def __init__(self):
        self.lease, self.version = None, 0

    def read_namespaced_lease(self, name, namespace):
        if self.lease is None:
            raise ApiException(status=404)
        spec = self.lease["spec"]
        parse = lambda t: dt.datetime.fromisoformat(t.replace("Z", "+00:00")) if t else None  # noqa: E731
        return SimpleNamespace(metadata=SimpleNamespace(resource_version=str(self.version)), spec=SimpleNamespace(
            holder_identity=spec["holderIdentity"], acquire_time=parse(spec.get("acquireTime")),
            renew_time=parse(spec["renewTime"]), lease_duration_seconds=spec["leaseDurationSeconds"],
            lease_transitions=spec.get("leaseTransitions")))

    def create_namespaced_lease(self, namespace, body):
        if self.lease is not None:
            raise ApiException(status=409)
        self.lease, self.version = body, self.version + 1

    def replace_namespaced_lease(self, name, namespace, body):
        if body["metadata"]["resourceVersion"] != str(self.version):
            raise ApiException(status=409)
        self.lease, self.version = body, self.version + 1


def elector(stub, me, seconds=10):
    e = leader.LeaderElector(None, "ops", seconds, 1, name="lease", me=me)
    e.coordination = stub
    return e


def test_a_clean_exit_releases_the_lease_and_the_standby_takes_it_at_once():
    stub = LeaseStub()
    a, b = elector(stub, "a"), elector(stub, "b")
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    assert a.release()
    assert stub.lease["spec"]["holderIdentity"] is None and stub.lease["spec"]["leaseDurationSeconds"] == 1
    assert b.try_acquire_or_renew()  # no waiting for the lease's 10 s
    assert stub.lease["spec"]["holderIdentity"] == "b" and stub.lease["spec"]["leaseTransitions"] == 1
    assert not a.release() and stub.lease["spec"]["holderIdentity"] == "b"  # not a's to give up any more


def test_first_acquires_second_waits_then_takes_over_an_expired_lease(monkeypatch):
    stub = LeaseStub()
    a, b = elector(stub, "a"), elector(stub, "b")
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    assert a.try_acquire_or_renew()  # renewal keeps the history
    assert stub.lease["spec"]["leaseTransitions"] == 0 and stub.lease["spec"]["holderIdentity"] == "a"
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=11)
    monkeypatch.setattr(leader, "_now", lambda: later)
    assert b.try_acquire_or_renew()
    assert stub.lease["spec"]["holderIdentity"] == "b" and stub.lease["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew()  # a's view is stale: b holds a fresh lease


def test_a_lost_race_is_not_leadership():
    stub = LeaseStub()
    a = elector(stub, "a")
    a.try_acquire_or_renew()
    real_read = stub.read_namespaced_lease

    def stale_read(name, namespace):  # another writer bumps the version between our read and write
        state = real_read(name, namespace)
        stub.version += 1
        return state
    stub.read_namespaced_lease = stale_read
    assert not a.try_acquire_or_renew()
