"""kwok Stage objects for the simulated nodes and pods, with delays the tests choose."""
from __future__ import annotations

from pathlib import Path

import yaml

# Every pod stage but pod-ready runs at once; pod-ready waits the configured delay (per-pod annotations
# such as pod-ready.stage.kwok.x-k8s.io/delay still override it, which fault tests use).
IMMEDIATE_POD_STAGES = {"pod-create", "pod-init-container-running", "pod-init-container-completed", "pod-delete"}


NEVER_READY_MARK = "never-ready"
NEVER_READY_EXPRESSION = f'.spec.containers | map(.image | contains("{NEVER_READY_MARK}")) | any'
# A pod whose image contains "no-ip" is never set up: it stays Pending without an IP (a broken CNI).
NO_IP_EXPRESSION = '.spec.containers | map(.image | contains("no-ip")) | any'
# A pod whose image contains "unpullable-on-<its node>" fails to pull its image there (ErrImagePull).
UNPULLABLE_EXPRESSION = ('.spec.nodeName as $node | .spec.containers | '
                         'map(.image | contains("unpullable-on-" + $node)) | any')
# A node labelled NOT_READY_LABEL gets no heartbeat and turns NotReady; without the label kwok makes it Ready again.
NOT_READY_LABEL = "cniupgrade.test/not-ready"
NOT_READY_KEY = f'.metadata.labels["{NOT_READY_LABEL}"]'
NODE_STAGES = {"node-initialize", "node-heartbeat-with-lease"}
NODE_HEARTBEAT_STAGE = "node-heartbeat-with-lease"
HEARTBEAT_JITTER_MS = 10_000  # as kwok's own: each node's status written 600-610 s after its last
NODE_NOT_READY_STAGE = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage",
    "metadata": {"name": "node-not-ready"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "Node"},
        "selector": {"matchExpressions": [
            {"key": NOT_READY_KEY, "operator": "Exists"},
            {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status', "operator": "In",
             "values": ["True"]},
        ]},
        "next": {"statusTemplate": (
            "conditions:\n"
            "- type: Ready\n"
            "  status: \"False\"\n"
            "  reason: KubeletNotReady\n"
            "  message: simulated (label cniupgrade.test/not-ready)\n"
            "  lastHeartbeatTime: {{ Now | Quote }}\n"
            "  lastTransitionTime: {{ Now | Quote }}\n")},
    },
}
IMAGE_PULL_FAILURE_STAGE = {
    "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage",
    "metadata": {"name": "pod-image-pull-failure"},
    "spec": {
        "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
        "selector": {"matchExpressions": [
            {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
            {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
            {"key": ".status.conditions.[] | select( .type == \"Initialized\" ) | .status",
             "operator": "In", "values": ["True"]},
            {"key": UNPULLABLE_EXPRESSION, "operator": "In", "values": ["true"]},
            {"key": ".status.containerStatuses.[].state.waiting.reason", "operator": "NotIn",
             "values": ["ErrImagePull"]},
        ]},
        "next": {"statusTemplate": (
            "containerStatuses:\n"
            "{{ range .spec.containers }}\n"
            "- name: {{ .name | Quote }}\n"
            "  image: {{ .image | Quote }}\n"
            "  ready: false\n"
            "  restartCount: 0\n"
            "  state:\n"
            "    waiting:\n"
            "      reason: ErrImagePull\n"
            "      message: simulated pull failure\n"
            "{{ end }}\n")},
    },
}


def load(assets: Path, pod_ready_delay_ms: int, pod_ready_jitter_ms: int,
         node_heartbeat_seconds: int | None = None) -> list[dict]:
    """`node_heartbeat_seconds`: how often kwok writes each node's status (None: kwok's ~10 minutes). Nodes
    created together write together: at 5000 nodes a burst of ~8000 node writes over ~5 minutes, every ~10."""
    stages = []
    for path in sorted((assets / "stages").glob("*.yaml")):
        stage = yaml.safe_load(path.read_text())
        name, spec = stage["metadata"]["name"], stage["spec"]
        delay = spec.get("delay")
        if delay is not None and name in IMMEDIATE_POD_STAGES:
            delay["durationMilliseconds"] = 0
            delay.pop("jitterDurationMilliseconds", None)
            delay.pop("jitterDurationFrom", None)  # pod-delete would otherwise wait out the grace period
        if name in NODE_STAGES:
            spec["selector"]["matchExpressions"].append({"key": NOT_READY_KEY, "operator": "DoesNotExist"})
        if name == NODE_HEARTBEAT_STAGE and node_heartbeat_seconds is not None:
            delay.update(durationMilliseconds=node_heartbeat_seconds * 1000,
                         jitterDurationMilliseconds=node_heartbeat_seconds * 1000 + HEARTBEAT_JITTER_MS)
        if name == "pod-create":
            spec["selector"]["matchExpressions"].append(
                {"key": NO_IP_EXPRESSION, "operator": "NotIn", "values": ["true"]})
        if name == "pod-ready":
            delay["durationMilliseconds"] = pod_ready_delay_ms
            delay.pop("jitterDurationMilliseconds", None)
            if pod_ready_jitter_ms:
                delay["jitterDurationMilliseconds"] = pod_ready_delay_ms + pod_ready_jitter_ms
            # Fault injection: a pod whose image mentions "never-ready" stays Pending (tests of failed gates).
            spec["selector"]["matchExpressions"].append(
                {"key": NEVER_READY_EXPRESSION, "operator": "NotIn", "values": ["true"]})
            spec["selector"]["matchExpressions"].append(
                {"key": UNPULLABLE_EXPRESSION, "operator": "NotIn", "values": ["true"]})
        stages.append(stage)
    return stages + [IMAGE_PULL_FAILURE_STAGE, NODE_NOT_READY_STAGE]
