"""The e2e session: one real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok).

If it cannot be built or started the session errors with the reason: e2e tests are never skipped.
"""
from __future__ import annotations

import os
import shutil
import signal
import uuid
from pathlib import Path

import pytest
from kubernetes import client

import yaml

from localcluster import build, deployment, serviceaccount
from localcluster.cluster import ClusterConfig, LocalCluster, reap_orphans
from localcluster.objects import api_client
from localcluster.processes import free_port
from simulated.charts import LoopbackRepository
from simulated.charts.oci import LoopbackOciRegistry
from tests.e2e.kit import Kubectl, Plans
from tests.e2e.operator_process import OperatorProcess

E2E_NODES = int(os.environ.get("CNIUPGRADE_E2E_NODES", "32"))


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _terminate_cleanly(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then runs the finalizers that stop the cluster


@pytest.fixture(scope="session")
def cluster(request) -> LocalCluster:
    signal.signal(signal.SIGTERM, _terminate_cleanly)
    reap_orphans("e2e-")
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


REPO = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE, OPERATOR_SA = "cniupgrade-system", "cniupgrade"


@pytest.fixture(scope="session")
def kubectl(cluster) -> Kubectl:
    return Kubectl(cluster.binaries.path("kubectl"), cluster.kubeconfig)


# The tests' simulated CNIs run images of example.com: the admin's allow-list names it, as it would a mirror.
TEST_IMAGE_REPOSITORIES = "example.com"


@pytest.fixture(scope="session")
def operator_policy(operator_rbac, kubectl) -> dict[str, str]:
    """deploy/policy.yaml (the admission policy and its ConfigMap) with the tests' images allowed; returns the
    environment the Deployment gives the operator from it."""
    docs = deployment.policy_documents(allowedImageRepositories=TEST_IMAGE_REPOSITORIES)
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))
    return deployment.policy_env(docs)


@pytest.fixture(scope="session")
def operator_rbac(cluster, admin_api, kubectl) -> Path:
    """The CRD and the operator's namespace, ServiceAccount and RBAC, exactly as deploy/ ships them."""
    for path in deployment.MANIFESTS:
        if path.name != "policy.yaml":  # applied by operator_policy, with the tests' image repositories
            kubectl("apply", "--server-side", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "crd/upgradeplans.cniupgrade.io", "--timeout=60s")
    return serviceaccount.kubeconfig_for(cluster, OPERATOR_NAMESPACE, OPERATOR_SA, cluster.dir / "operator.kubeconfig")


@pytest.fixture(scope="session")
def operator_process(cluster, operator_rbac, operator_policy, request) -> OperatorProcess:
    process = OperatorProcess(operator_rbac, cluster.dir / "operator.log", free_port(),
                              env={**operator_policy, "HELM_BINARY": str(build.ensure_helm())})
    request.addfinalizer(process.stop)
    process.start()
    return process


@pytest.fixture
def operator(operator_process) -> OperatorProcess:
    """The running operator; a test that killed it gets it back for the next one."""
    operator_process.start()
    yield operator_process
    operator_process.start()


@pytest.fixture
def plans(admin_api, namespace) -> Plans:
    return Plans(admin_api, namespace)


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory):
    """The Spiderpool-shaped test charts (simulated/charts), served over loopback HTTP."""
    repo = LoopbackRepository(tmp_path_factory.mktemp("charts"), build.ensure_helm())
    yield repo
    repo.stop()


@pytest.fixture(scope="session")
def chart_registry(chart_repo):
    """The same charts in an OCI registry (oci:// sources)."""
    registry = LoopbackOciRegistry(build.ensure_registry(), build.ensure_helm(),
                                   sorted((chart_repo.folder / "repo").glob("*.tgz")))
    yield registry
    registry.stop()
