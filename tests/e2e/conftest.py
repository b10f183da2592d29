"""The e2e session: one real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok).

If it cannot be built or started the session errors with the reason: e2e tests are never skipped.
"""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
from kubernetes import client

from localcluster import build
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client

E2E_NODES = int(os.environ.get("CNIUPGRADE_E2E_NODES", "24"))


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cluster(request) -> LocalCluster:
    binaries = build.ensure_built()
    local = LocalCluster(f"e2e-{os.getpid()}", binaries)
    def teardown():
        local.down()
        if not request.session.testsfailed:  # keep the logs of a failed session for a look
            shutil.rmtree(local.dir, ignore_errors=True)

    request.addfinalizer(teardown)  # registered first: processes stop even if start-up fails half-way
    local.up(ClusterConfig(nodes=E2E_NODES, pod_ready_delay_ms=200))
    version = client.VersionApi(api_client(local.kubeconfig)).get_code()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"\ne2e: talking to kube-apiserver {version.git_version} at {local.server} "
                            f"with {E2E_NODES} simulated nodes")
    return local


@pytest.fixture(scope="session")
def admin_api(cluster) -> client.ApiClient:
    return api_client(cluster.kubeconfig)


@pytest.fixture
def namespace(admin_api) -> str:
    """A fresh namespace per test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(admin_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)
