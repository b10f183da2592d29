"""Reading pods and Deployments into what decisions need."""
from __future__ import annotations

from cniupgrade.rollout.observation import DeploymentView, PrePullPod


def prepull_pod(*states) -> dict:
    return {"metadata": {"name": "p", "creationTimestamp": "2026-11-23T12:00:00Z",
                         "labels": {"cniupgrade.io/prepull-images": "abc"}},
            "spec": {"nodeName": "n1"}, "status": {"containerStatuses": [{"state": s} for s in states]}}


def test_a_pull_counts_once_no_container_waits_for_its_image():
    assert PrePullPod.from_api(prepull_pod({"running": {}}, {"terminated": {"exitCode": 127}})).pulled
    assert PrePullPod.from_api(prepull_pod({"running": {}}, {"waiting": {"reason": "CrashLoopBackOff"}})).pulled
    waiting = PrePullPod.from_api(prepull_pod({"running": {}}, {"waiting": {"reason": "ContainerCreating"}}))
    assert not waiting.pulled and not waiting.failure
    failed = PrePullPod.from_api(prepull_pod({"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}))
    assert not failed.pulled and failed.failure == "ImagePullBackOff: not found" and failed.digest == "abc"
    assert not PrePullPod.from_api(prepull_pod()).pulled  # no status yet


def deployment(generation=2, observed=2, replicas=3, updated=3, available=3, total=3) -> dict:
    return {"metadata": {"name": "c", "generation": generation},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "i:v2"}]}}},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "availableReplicas": available,
                       "replicas": total}}


def test_a_deployment_is_rolled_out_when_every_replica_is_new_and_available_and_none_old_remain():
    assert DeploymentView.from_api(deployment()).rolled_out
    assert not DeploymentView.from_api(deployment(observed=1)).rolled_out  # the controller has not seen it
    assert not DeploymentView.from_api(deployment(updated=2)).rolled_out
    assert not DeploymentView.from_api(deployment(available=2)).rolled_out
    assert not DeploymentView.from_api(deployment(total=4)).rolled_out  # an old replica still terminating
    assert DeploymentView.from_api(deployment()).images == {"c": "i:v2"}
