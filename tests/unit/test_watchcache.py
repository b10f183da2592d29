"""The watch cache wakes its loop only when the view it keeps changed (a node heartbeat does not)."""
from __future__ import annotations

from cniupgrade.kube.view import node_info
from cniupgrade.kube.watchcache import WatchCache


def node(name: str, ready: str = "True", heartbeat: str = "12:00:00", version: str = "1") -> dict:
    return {"metadata": {"name": name, "resourceVersion": version, "labels": {"zone": "a"}},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat}]}}


def test_only_changes_of_the_kept_view_wake_the_loop():
    wakes = []
    cache = WatchCache("nodes", list_fn=None, on_change=lambda: wakes.append(1), transform=node_info)
    cache._apply({"type": "ADDED", "object": node("n1")}, "0")
    assert len(wakes) == 1
    cache._apply({"type": "MODIFIED", "object": node("n1", heartbeat="12:00:40", version="2")}, "1")
    assert len(wakes) == 1  # only the heartbeat moved
    cache._apply({"type": "MODIFIED", "object": node("n1", ready="False", version="3")}, "2")
    assert len(wakes) == 2 and not cache.get("", "n1").ready
    cache._apply({"type": "DELETED", "object": node("n1", version="4")}, "3")
    cache._apply({"type": "DELETED", "object": node("n1", version="4")}, "4")  # replayed: nothing to remove
    assert len(wakes) == 3 and cache.items() == []


def agent(name: str, node: str | None, revision: str = "new", ready: bool = False, phase: str = "Pending",
          reason: str = "", terminating: bool = False, version: str = "1") -> dict:
    meta = {"name": name, "namespace": "cni", "uid": f"uid-{name}", "resourceVersion": version,
            "labels": {"controller-revision-hash": revision}}
    if terminating:
        meta["deletionTimestamp"] = "2026-11-23T12:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"state": {"waiting": {"reason": reason}} if reason else {}}]}}


def test_an_agent_pod_wakes_the_loop_only_when_what_a_decision_reads_changed():
    from cniupgrade.kube.view import decision_input
    from cniupgrade.rollout.agent_pods import AgentPod
    wakes = []
    cache = WatchCache("pods", list_fn=None, on_change=lambda: wakes.append(1), transform=AgentPod.from_api,
                       wakes_on=decision_input)
    events = [("ADDED", agent("old", "n1", "old", ready=True), 1),  # a live pod appears
              ("MODIFIED", agent("old", "n1", "old", ready=True, terminating=True), 2),  # it is being deleted
              ("DELETED", agent("old", "n1", "old", ready=True, terminating=True), 2),  # gone: nothing new
              ("ADDED", agent("new", None), 2),  # its replacement, not scheduled yet
              ("MODIFIED", agent("new", "n1"), 3),  # scheduled on n1
              ("MODIFIED", agent("new", "n1", reason="ContainerCreating"), 3),  # a new waiting reason
              ("MODIFIED", agent("new", "n1", ready=True, phase="Running"), 4),  # Ready: the gate can pass
              ("DELETED", agent("new", "n1", ready=True, phase="Running"), 5)]  # removed at once (force)
    for kind, pod, expected in events:
        cache._apply({"type": kind, "object": pod}, "0")
        assert len(wakes) == expected, (kind, pod["metadata"])
    assert cache.items() == []


def test_a_pod_this_process_deleted_wakes_nobody_when_it_terminates():
    from cniupgrade.kube.view import decision_input
    from cniupgrade.rollout.agent_pods import AgentPod
    deleted_by_us: set[str] = set()
    wakes = []
    cache = WatchCache("pods", list_fn=None, on_change=lambda: wakes.append(1), transform=AgentPod.from_api,
                       wakes_on=lambda pod: decision_input(pod, deleted_by_us))
    cache._apply({"type": "ADDED", "object": agent("a", "n1", "old", ready=True)}, "0")
    cache._apply({"type": "ADDED", "object": agent("b", "n2", "old", ready=True)}, "0")
    deleted_by_us.add("uid-a")
    cache._apply({"type": "MODIFIED", "object": agent("a", "n1", "old", ready=True, terminating=True)}, "0")
    assert len(wakes) == 2  # our own deletion: its node is in flight already
    cache._apply({"type": "MODIFIED", "object": agent("b", "n2", "old", ready=True, terminating=True)}, "0")
    assert len(wakes) == 3  # someone else's: that node is down now, and takes a slot


def test_a_daemonset_wakes_the_loop_on_its_spec_annotations_and_observed_generation_not_its_counters():
    from cniupgrade.kube.view import daemonset_input

    def ds(generation=2, observed=2, ready=10, annotations=None, version="1") -> dict:
        return {"metadata": {"name": "agent", "namespace": "cni", "uid": "u1", "generation": generation,
                             "resourceVersion": version, "annotations": annotations or {}},
                "status": {"observedGeneration": observed, "numberReady": ready}}
    wakes = []
    cache = WatchCache("ds", list_fn=None, on_change=lambda: wakes.append(1), wakes_on=daemonset_input)
    cache._apply({"type": "ADDED", "object": ds(observed=1)}, "0")
    cache._apply({"type": "MODIFIED", "object": ds(observed=2, version="2")}, "1")
    assert len(wakes) == 2  # the controller has seen the new template
    cache._apply({"type": "MODIFIED", "object": ds(ready=9, version="3")}, "2")
    assert len(wakes) == 2 and cache.get("cni", "agent")["status"]["numberReady"] == 9  # stored, no pass
    cache._apply({"type": "MODIFIED", "object": ds(ready=9, annotations={"cniupgrade.io/owner": "p"},
                                                    version="4")}, "3")
    cache._apply({"type": "MODIFIED", "object": ds(generation=3, ready=9, annotations={"cniupgrade.io/owner": "p"},
                                                    version="5")}, "4")
    assert len(wakes) == 4


def test_the_first_list_starts_from_a_given_version_and_a_relist_is_a_consistent_read():
    class Response:
        def __init__(self, body: dict):
            import json
            self.data = json.dumps(body).encode()

    calls = []
    pages = {None: {"items": [node("n1")], "metadata": {"resourceVersion": "40", "continue": "page2"}},
             "page2": {"items": [node("n2")], "metadata": {"resourceVersion": "40"}}}

    def list_nodes(**kwargs):
        calls.append(kwargs)
        return Response(pages[kwargs["_continue"]])

    cache = WatchCache("nodes", list_fn=list_nodes, on_change=lambda: None, transform=node_info,
                       not_older_than="37")
    assert cache._list() == "40" and cache.resource_version == "40"
    assert calls[0]["resource_version"] == "37" and calls[0]["resource_version_match"] == "NotOlderThan"
    assert "resource_version" not in calls[1]  # a continued page carries its version in the token
    cache._list()
    assert "resource_version" not in calls[2]  # a relist (the watch's version expired) reads the current state
    assert sorted(n.name for n in cache.items()) == ["n1", "n2"]
    cache._apply({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "45"}}}, "40")
    assert cache.resource_version == "45"


def test_lists_use_list_fn_and_watches_use_watch_fn():
    """Watches run on a client of their own (kube.client.streaming), so a stopped watch's dead connection never
    goes back to the pool the pod deletions take theirs from."""
    import json

    class Listed:
        data = json.dumps({"items": [node("n1")], "metadata": {"resourceVersion": "40"}}).encode()

    class Watched:
        def stream(self, amt=None, decode_content=False):
            yield json.dumps({"type": "ADDED", "object": node("n2", version="41")}).encode() + b"\n"
            cache.stop()

        def release_conn(self):
            pass

    listed, watched = [], []
    cache = WatchCache("nodes", list_fn=lambda **kw: listed.append(kw) or Listed(), on_change=lambda: None,
                       watch_fn=lambda **kw: watched.append(kw) or Watched(), transform=node_info)
    cache._thread.start()
    cache._thread.join(5)
    cache.stop()
    assert len(listed) == 1 and "watch" not in listed[0]
    assert len(watched) == 1 and watched[0]["watch"] is True and watched[0]["resource_version"] == "40"
    assert sorted(n.name for n in cache.items()) == ["n1", "n2"]


def test_the_streaming_client_has_its_own_connection_pool_and_the_same_credentials():
    from kubernetes import client

    from cniupgrade.kube.client import streaming
    configuration = client.Configuration(host="https://example.invalid:6443")
    api = client.ApiClient(configuration)
    assert streaming(api) is streaming(api)  # one per client, not one per watch
    assert streaming(api).configuration is configuration
    assert streaming(api).rest_client.pool_manager is not api.rest_client.pool_manager


def test_a_cache_watches_on_the_streaming_client_unless_told_otherwise():
    from kubernetes import client

    from cniupgrade.kube.client import on_streaming, streaming
    api = client.ApiClient(client.Configuration(host="https://example.invalid:6443"))
    watch = on_streaming(client.CoreV1Api(api).list_namespaced_pod)
    assert watch.__self__.api_client is streaming(api) and watch.__name__ == "list_namespaced_pod"
    cache = WatchCache("pods", client.CoreV1Api(api).list_namespaced_pod, lambda: None, namespace="ns")
    assert cache._watch_fn.__self__.api_client is streaming(api)

    def fake(**_):
        return None
    assert on_streaming(fake) is fake  # not a generated API call: used as it is
