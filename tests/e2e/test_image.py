"""The operator's container image (Dockerfile, built by localcluster.image with buildah on an mmdebstrap Debian
base, or reused when the tree has not changed) runs as deploy/deployment.yaml runs it: its own entrypoint and user
(65532), a read-only root filesystem, a tmpfs /tmp, no capabilities, the operator's ServiceAccount kubeconfig
mounted read-only. It reconciles a plan to Succeeded on the real control plane, serves its probe and metrics
ports, and the helm CLI it ships runs as that user."""
from __future__ import annotations

import base64
import os
import re
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from localcluster import image, versions
from localcluster.processes import free_port
from tests.e2e.conftest import E2E_NODES
from tests.e2e.image_container import ImageContainer
from tests.e2e.kit import create_agent
from tests.e2e.test_metrics import sample, scrape

KUBECONFIG_IN_IMAGE = "/var/run/secrets/cniupgrade/kubeconfig"


@pytest.fixture(scope="module")
def built_image() -> image.Image:
    return image.ensure_image()  # minutes when cold; the base and the image are cached between runs


def container_kubeconfig(operator_kubeconfig: Path, out: Path, uid: int) -> Path:
    """The ServiceAccount's kubeconfig, self-contained (the CA inline, not a path of this machine), readable by the
    container's user only, as a mounted Secret would be."""
    config = yaml.safe_load(operator_kubeconfig.read_text())
    for entry in config["clusters"]:
        ca = Path(entry["cluster"].pop("certificate-authority"))
        entry["cluster"]["certificate-authority-data"] = base64.b64encode(ca.read_bytes()).decode()
    out.write_text(yaml.safe_dump(config))
    os.chown(out, uid, uid)
    out.chmod(0o400)
    return out


@dataclass
class ImageOperator:
    container: ImageContainer
    health_url: str
    metrics_url: str


@pytest.fixture
def image_operator(built_image, operator, operator_rbac, operator_policy, tmp_path):
    """The image's operator instead of the session's (which steps aside meanwhile)."""
    operator.stop()
    health, metrics = free_port(), free_port()  # host network: the defaults 8080/9090 may be taken here
    container = ImageContainer(
        built_image.name, tmp_path, f"cniupgrade-e2e-{uuid.uuid4().hex[:8]}",
        args=["--standalone", f"--liveness=http://127.0.0.1:{health}/healthz", f"--metrics-port={metrics}"],
        env={**operator_policy, "KUBECONFIG": KUBECONFIG_IN_IMAGE, "TMPDIR": "/tmp"},
        read_only_files={KUBECONFIG_IN_IMAGE: container_kubeconfig(operator_rbac, tmp_path / "kubeconfig", 65532)})
    container.start()
    yield ImageOperator(container, f"http://127.0.0.1:{health}/healthz", f"http://127.0.0.1:{metrics}/metrics")
    container.stop()


def acted(container: ImageContainer) -> int:
    return len(re.findall(r"cniupgrade\.kube\.apply: plan .*DeletePod", container.log_path.read_text(errors="replace")))


def test_the_image_runs_as_deployed_ships_helm_and_reconciles_a_plan(admin_api, namespace, plans, image_operator):
    container = image_operator.container
    helm = container.exec("/bin/sh", "-c", 'id -u && "$HELM_BINARY" version --template "{{.Version}}"')
    assert helm.returncode == 0, helm.stderr
    assert helm.stdout.split() == ["65532", versions.HELM]  # the image's USER runs the helm it ships
    write = container.exec("/bin/sh", "-c", "touch /x")
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write

    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(rollout={"maxUnavailable": 3})
    try:
        status = plans.wait_phase("Succeeded", timeout=180)
    except AssertionError as exc:
        pytest.fail(f"{exc}\nthe container's log:\n{container.log_tail()}")
    assert status["counts"]["upgraded"] == E2E_NODES
    assert acted(container) >= E2E_NODES, container.log_tail()  # the image's operator did it, node by node

    assert container.running, container.log_tail()
    pid = container.pid()
    uids = re.search(r"^Uid:\s+(.*)$", Path(f"/proc/{pid}/status").read_text(), re.M).group(1).split()
    assert uids == ["65532"] * 4  # real, effective, saved, filesystem: the image's USER, not root
    root = next(line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
                if line.split()[4] == "/")
    assert "ro" in root[5].split(","), root

    assert urllib.request.urlopen(image_operator.health_url, timeout=5).status == 200
    assert sample(scrape(image_operator.metrics_url), "cniupgrade_plan_phase", namespace=namespace, plan="upgrade",
                  phase="Succeeded") == 1

    # PID 1 in its container: SIGTERM (the kubelet's) must still end it cleanly within the grace period.
    assert container.stop(grace_seconds=30) == 0, container.log_tail()
