"""UK8S: the restart of old pods' workloads waits while ipamd's pools hold fewer free IPs than its surge needs."""
from __future__ import annotations

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import NodeResult, NodeState, Phase, UpgradePlanStatus
from cniupgrade.plugins.uk8s import PLUGIN, RESTART_RECHECK_SECONDS, headroom, old_pods
from tests.unit.fake_cluster import FakeCluster

NS = "kube-system"
UPGRADED = "2026-12-03T10:00:00Z"
BEFORE = "2026-12-03T09:00:00Z"


def deployment(name, replicas=4, surge=None, strategy="RollingUpdate", host=False):
    rolling = {"maxSurge": surge} if surge is not None else {}
    return {"metadata": {"name": name, "namespace": "app"},
            "spec": {"replicas": replicas, "strategy": {"type": strategy, "rollingUpdate": rolling},
                     "template": {"spec": {"hostNetwork": host}}}}


def ipamd(node, current, status="normal"):
    return {"metadata": {"name": node, "namespace": NS}, "spec": {"node": node},
            "status": {"current": current, "low": 3, "high": 5, "status": status}}


def pod_of(name, node, replicaset):
    return {"metadata": {"name": name, "namespace": "app", "creationTimestamp": BEFORE,
                         "ownerReferences": [{"kind": "ReplicaSet", "name": replicaset}]},
            "spec": {"nodeName": node}, "status": {"phase": "Running"}}


def replicaset(name, deployment_name):
    return {"metadata": {"name": name, "namespace": "app",
                         "ownerReferences": [{"kind": "Deployment", "name": deployment_name}]}}


def cluster(pools):
    return FakeCluster({"deployments": [deployment("web", replicas=6)], "replicasets": [replicaset("web-1", "web")],
                        "pods": [pod_of("web-1-a", "n1", "web-1"), pod_of("web-1-b", "n2", "web-1")],
                        "ipamds": pools}, served_versions=frozenset({"v1beta1", "v1"}))


def succeeded() -> UpgradePlanStatus:
    return UpgradePlanStatus(phase=Phase.succeeded, nodes=[
        NodeResult(name=n, state=NodeState.upgraded, finished_at=UPGRADED) for n in ("n1", "n2")])


def test_surge_as_kubernetes_resolves_it():
    assert headroom.surge("Deployment", deployment("d", replicas=6)) == 2  # 25% of 6, rounded up
    assert headroom.surge("Deployment", deployment("d", replicas=6, surge=3)) == 3
    assert headroom.surge("Deployment", deployment("d", replicas=10, surge="10%")) == 1
    assert headroom.surge("Deployment", deployment("d", strategy="Recreate")) == 0
    assert headroom.surge("Deployment", deployment("d", host=True)) == 0  # no pod IP
    assert headroom.surge("StatefulSet", {"spec": {"replicas": 3}}) == 0  # replaced after the old one is gone
    ds = {"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": "50%"}}}, "status": {"desiredNumberScheduled": 5}}
    assert headroom.surge("DaemonSet", ds) == 3 and headroom.surge("DaemonSet", {"spec": {}}) == 0


def test_the_restart_is_held_while_the_pools_are_short_and_says_with_numbers():
    fake = cluster([ipamd("n1", 0, "dry"), ipamd("n2", 1, "hungry")])
    status = old_pods.report(fake, fake, succeeded(), restart=True, ipamd_namespace=NS)
    assert status.old_pods is None and status.restarted_workloads == []  # not done: still due
    assert "needs 2 new IP(s)" in status.restart_held and "hold 1 free" in status.restart_held
    assert "dry or hungry: n1, n2" in status.restart_held and "n1: 0 free (low 3, high 5) dry" in status.restart_held
    assert not [w for w in fake.writes if w[0] == "patch"]


def test_the_restart_goes_once_the_pools_hold_enough():
    fake = cluster([ipamd("n1", 1, "hungry"), ipamd("n2", 1, "hungry")])
    held = succeeded().model_copy(update={"restart_held": "earlier"})
    status = old_pods.report(fake, fake, held, restart=True, ipamd_namespace=NS)
    assert status.restarted_workloads == ["Deployment/app/web"] and status.restart_held is None
    assert status.old_pods_count == 2


def test_without_ipamd_nothing_is_counted_and_the_restart_goes():
    fake = cluster([])
    assert headroom.read_headroom(fake, NS, [("Deployment", deployment("web", replicas=6))]) is None
    assert headroom.check(None).passed
    status = old_pods.report(fake, fake, succeeded(), restart=True, ipamd_namespace=NS)
    assert status.restarted_workloads == ["Deployment/app/web"]


def test_preflight_projects_every_pod_on_the_nodes_as_old():
    fake = cluster([ipamd("n1", 0, "dry"), ipamd("n2", 1, "hungry")])
    room = old_pods.projected_headroom(fake, NS, ["n1", "n2"])
    found = headroom.check(room)
    assert room.need == 2 and room.workloads == 1 and not found.passed
    assert found.objects == ("n1: 0 free (low 3, high 5) dry", "n2: 1 free (low 3, high 5) hungry")
    assert headroom.check(old_pods.projected_headroom(fake, NS, ["n3"])).passed  # no pod there: nothing needed


def test_the_hold_event_is_said_once_and_the_action_comes_back_soon():
    spec = UpgradePlanSpec.model_validate({"plugin": "uk8s-cni-vpc", "targetVersion": "1.3.0", "namespace": NS,
                                           "uk8s": {"restartOldPods": True}})
    fake = cluster([ipamd("n1", 0, "dry"), ipamd("n2", 0, "dry")])
    first = PLUGIN.after_success(spec, succeeded(), fake, fake)
    assert first.reason == "RestartHeld" and first.warning and first.retry_in == RESTART_RECHECK_SECONDS
    again = PLUGIN.after_success(spec, first.status, fake, fake)
    assert again.reason is None and again.retry_in == RESTART_RECHECK_SECONDS  # same numbers: no second Event
    assert PLUGIN.after_success_due(spec, again.status)


def test_pods_and_workloads_being_deleted_neither_count_nor_are_restarted():
    # a namespace being deleted and its objects (marked one by one): none starts new pods, none is restarted
    leaving = {"deletionTimestamp": "2026-12-03T11:00:00Z"}
    gone_pod = pod_of("old-1-a", "n1", "old-1")
    gone_pod["metadata"].update(leaving)
    going_rs = replicaset("api-1", "api")
    going_rs["metadata"].update(leaving)
    going_db = deployment("db", replicas=8)
    going_db["metadata"].update(leaving)
    in_closing = [pod_of("web-1-a", "n1", "web-1"), replicaset("web-1", "web"), deployment("web", replicas=6)]
    for obj in in_closing:
        obj["metadata"]["namespace"] = "closing"  # its objects not marked yet
    fake = FakeCluster({"deployments": [deployment("web", replicas=6), going_db, in_closing[2]],
                        "replicasets": [replicaset("web-1", "web"), replicaset("old-1", "web"), going_rs,
                                        replicaset("db-1", "db"), in_closing[1]],
                        "pods": [pod_of("web-1-a", "n1", "web-1"), gone_pod, pod_of("api-1-a", "n2", "api-1"),
                                 pod_of("db-1-a", "n2", "db-1"), in_closing[0]],
                        "namespaces": [{"metadata": {"name": "closing", **leaving}}, {"metadata": {"name": "app"}}],
                        "ipamds": [ipamd("n1", 1, "hungry"), ipamd("n2", 0, "dry")]},
                       served_versions=frozenset({"v1beta1", "v1"}))
    status = old_pods.report(fake, fake, succeeded(), restart=True, ipamd_namespace=NS)
    # web needs 2 (25% of 6); db (being deleted) none; api's ReplicaSet is going: no workload
    assert "restarting 1 workload(s) needs 2 new IP(s)" in status.restart_held
    room = old_pods.projected_headroom(fake, NS, ["n1", "n2"])
    assert (room.need, room.workloads) == (2, 1)
    fake.objects["ipamds"] = [ipamd("n1", 2, "normal"), ipamd("n2", 0, "dry")]
    status = old_pods.report(fake, fake, succeeded(), restart=True, ipamd_namespace=NS)
    assert status.restart_held is None and status.restarted_workloads == ["Deployment/app/web"]
    assert [w[1:4] for w in fake.writes if w[0] == "patch"] == [("deployments", "app", "web")]  # db, marked for deletion, is left alone
