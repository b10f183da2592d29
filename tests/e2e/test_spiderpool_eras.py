"""Previews of Spiderpool clusters from every era up to the newest release: each names every upgrade note that
applies on the way to 1.2.2 (read here from the vendor's notes, not from the code), and changes nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kubernetes import client

from simulated.spiderpool import seed

TARGET = "1.2.2"
ALWAYS = {"security.namespace-boundary", "security.image-policy", "security.cluster-scope", "generic.downgrade",
          "spiderpool.skip-0.9.0", "spiderpool.fields-1.0.0", "spiderpool.cleanup-hook",
          "spiderpool.controller-replicas", "spiderpool.host-ports", "spiderpool.helm-release-behind",
          "spiderpool.ip-headroom", "spiderpool.ip-leaks", "spiderpool.orphan-endpoints"}
# The vendor's notes (shared/reference/spiderpool.md, spiderpool-chart.md): the installed versions each applies to.
NOTES = {
    "spiderpool.auto-pool-labels": lambda v: v < (0, 3, 6),
    "spiderpool.endpoint-owner-type": lambda v: v < (0, 4, 0),
    "spiderpool.stored-versions": lambda v: v < (0, 4, 0),
    "spiderpool.missing-crds": lambda v: v <= (0, 5, 0),
    "spiderpool.default-objects": lambda v: v < (0, 6, 0),
    "spiderpool.multus-uninstall": lambda v: v <= (0, 7, 3),
    "spiderpool.init-pod": lambda v: v <= (0, 8, 7) or (0, 9, 0) <= v <= (0, 9, 4),
    "spiderpool.coordinator-txqueuelen": lambda v: v < (0, 9, 0),
    "spiderpool.duplicate-ips": lambda v: v <= (0, 9, 4),
    "spiderpool.renamed-values": lambda v: v < (1, 0, 0),
}
ERAS = ("0.3.5", "0.5.0", "0.7.3", "0.9.4", "0.9.13", "1.0.6", "1.2.2")


def era_cluster(api: client.ApiClient, namespace: str, version: str) -> None:
    """A Spiderpool `version` install: its helm release record, agent and controller on that version's images."""
    seed.install_crds(api)
    seed.grant_helm_release_reader(api, namespace)
    client.CoreV1Api(api).create_namespaced_secret(namespace, seed.helm_secret(namespace, version, {}))
    apps, tag = client.AppsV1Api(api), f":v{version}"
    agent, controller = seed.agent(namespace), seed.controller(namespace, 1)
    for workload in (agent, controller):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            container["image"] = container["image"].replace(":v0.3.5", tag)
    apps.create_namespaced_daemon_set(namespace, agent)
    apps.create_namespaced_deployment(namespace, controller)


def versions_of(api: client.ApiClient, namespace: str) -> dict[str, object]:
    """What a preview could change: the CRDs, Secrets and ConfigMaps (resourceVersion); the workloads' spec
    (generation) and annotations (their status is the controllers' to write)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    found: dict[str, object] = {f"crd/{c.metadata.name}": c.metadata.resource_version for c in
                                client.ApiextensionsV1Api(api).list_custom_resource_definition().items}
    for kind, items in (("secret", core.list_namespaced_secret(namespace).items),
                        ("cm", core.list_namespaced_config_map(namespace).items)):
        found.update({f"{kind}/{o.metadata.name}": o.metadata.resource_version for o in items})
    for kind, items in (("ds", apps.list_namespaced_daemon_set(namespace).items),
                        ("deploy", apps.list_namespaced_deployment(namespace).items)):
        found.update({f"{kind}/{o.metadata.name}": (o.metadata.generation, o.metadata.annotations) for o in items})
    return found


@pytest.mark.parametrize("version", ERAS)
def test_a_preview_from_each_era_names_every_applicable_note_and_changes_nothing(admin_api, namespace, cluster,
                                                                                 tmp_path, version):
    era_cluster(admin_api, namespace, version)
    before = versions_of(admin_api, namespace)
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"apiVersion: cniupgrade.io/v1alpha1\nkind: UpgradePlan\nmetadata: {{name: up, namespace: "
                    f"{namespace}}}\nspec: {{plugin: spiderpool, targetVersion: '{TARGET}', namespace: {namespace}}}\n")
    out = subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(plan), "-o", "json"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)})
    assert out.returncode in (0, 1), out.stderr  # 1: a note blocks the plan
    status = json.loads(out.stdout)["status"]
    installed = tuple(int(p) for p in version.split("."))
    expected = ALWAYS | {check for check, applies in NOTES.items() if applies(installed)}
    assert {c["id"] for c in status["checks"]} == expected, version
    assert status.get("fromVersion") == version
    assert versions_of(admin_api, namespace) == before  # a preview changes nothing
