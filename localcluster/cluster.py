"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok."""
from __future__ import annotations

import json
import os
import shutil
import ssl
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from localcluster import pki as pki_mod
from localcluster import processes
from localcluster.build import Binaries

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_STATE_ROOT = Path(__file__).resolve().parent.parent / ".localcluster"
# Stages come from the API (Stage CRD), so tests can add fault stages while the cluster runs.
# kwok applies no defaults to a config file it reads, so the options it needs are spelled out.
KWOK_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: 10.0.0.0/16
  manageAllNodes: false
  enableDebuggingHandlers: false
  enableProfilingHandler: false
  enableContentionProfiling: false
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 8
  nodeLeaseParallelism: 8
  podsOnNodeSyncParallelism: 4
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
"""


@dataclass
class ClusterConfig:
    nodes: int = 5
    pod_ready_delay_ms: int = 300
    pod_ready_jitter_ms: int = 0
    # The controller-manager's client rate limits; the defaults (20/30) throttle a 1000-node DaemonSet.
    controller_qps: int = 200
    controller_burst: int = 400
    # Users whose requests the apiserver writes to logs/audit.jsonl, one line per request (the bench counts the
    # operator's); empty: no audit log.
    audit_users: tuple[str, ...] = ()
    # Also every user's node writes (the bench counts who wrote nodes during each run): each is sent to every
    # node watcher (kwok, the scheduler, the controller-manager, the operator), a cost that grows with the nodes.
    audit_node_writes: bool = False
    # kwok renews each node's Lease every quarter of this: 5000 nodes at 40 s are 500 writes a second, more than
    # 2 cores spare; the node controller's grace period follows it.
    node_lease_seconds: int = 40
    # How often kwok writes each node's status (None: kwok's ~10 minutes). The Lease keeps a node Ready meanwhile.
    node_heartbeat_seconds: int | None = None


@dataclass
class State:
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    config: dict = field(default_factory=dict)


def load_state(directory: Path) -> State:
    try:
        return State(**json.loads((directory / "state.json").read_text()))
    except (FileNotFoundError, ValueError):
        return State()


def state_dir(name: str) -> Path:
    root = Path(os.environ.get("CNIUPGRADE_CLUSTER_ROOT", DEFAULT_STATE_ROOT))
    return root / name


class LocalCluster:
    def __init__(self, name: str, binaries: Binaries):
        self.name = name
        self.dir = state_dir(name)
        self.binaries = binaries
        self.pki = pki_mod.Pki(self.dir / "pki")
        self.state = self._load_state()

    # ---- paths -------------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (system:masters)."""
        return self.dir / "kubeconfig"

    def _component_kubeconfig(self, client: str) -> Path:
        return self.dir / f"{client}.kubeconfig"

    def log_path(self, component: str) -> Path:
        return self.dir / "logs" / f"{component}.log"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.state.ports['kube-apiserver']}"

    # ---- state -------------------------------------------------------------------------------------
    def _load_state(self) -> State:
        return load_state(self.dir)

    def _save_state(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self.state), indent=2))
        tmp.replace(self.dir / "state.json")

    def running(self) -> dict[str, bool]:
        return {c: processes.alive(pid) for c, pid in self.state.pids.items()}

    # ---- lifecycle ---------------------------------------------------------------------------------
    def up(self, config: ClusterConfig, log=print) -> None:
        """Start a fresh cluster (stopping any left over under this name) and create its nodes."""
        from localcluster import nodes, objects  # import the API client only when a cluster is started

        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        started = time.monotonic()
        pki_mod.create(self.pki.dir)
        self.state = State(config=asdict(config), ports={
            "etcd": processes.free_port(), "etcd-peer": processes.free_port(),
            "kube-apiserver": processes.free_port(), "kube-controller-manager": processes.free_port(),
            "kube-scheduler": processes.free_port(), "kwok": processes.free_port(),
        })
        self._write_kubeconfigs()
        (self.dir / "kwok.yaml").write_text(KWOK_CONFIG)
        (self.dir / "audit-policy.yaml").write_text(audit_policy(config.audit_users, config.audit_node_writes))
        self._save_state()
        try:
            self.start("etcd")
            self.start("kube-apiserver")
            objects.install_kwok_stages(self.kubeconfig, self.binaries.kwok_assets, config.pod_ready_delay_ms,
                                        config.pod_ready_jitter_ms, config.node_heartbeat_seconds)
            for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
                self.start(component)
            nodes.create(self.kubeconfig, config.nodes)
            nodes.wait_ready(self.kubeconfig, config.nodes, self.state.pids["kwok"], self.log_path("kwok"))
            objects.wait_default_service_account(self.kubeconfig)
        except BaseException:
            self.down()
            raise
        log(f"cluster '{self.name}' up in {time.monotonic() - started:.1f}s: {config.nodes} nodes, "
            f"apiserver {self.server}, kubeconfig {self.kubeconfig}")

    def down(self) -> None:
        """Stop every process of this cluster, newest first. Safe to call at any time."""
        for component in reversed(COMPONENTS):
            pid = self.state.pids.pop(component, None)
            if pid:
                processes.stop(pid)
        if self.dir.exists():
            self._save_state()

    def start(self, component: str) -> None:
        argv = self._argv(component)
        pid = processes.spawn(argv, self.log_path(component))
        self.state.pids[component] = pid
        self._save_state()
        self._wait_healthy(component, pid)

    def stop(self, component: str) -> None:
        pid = self.state.pids.pop(component, None)
        if pid:
            processes.stop(pid)
        self._save_state()

    def restart(self, component: str) -> None:
        self.stop(component)
        self.start(component)

    # ---- internals ---------------------------------------------------------------------------------
    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.cert("ca")))
        ctx.load_cert_chain(str(self.pki.cert("admin")), str(self.pki.key("admin")))
        return ctx

    def _wait_healthy(self, component: str, pid: int) -> None:
        port = self.state.ports[component]
        log = self.log_path(component)
        if component == "etcd":
            processes.wait_healthy(component, f"http://127.0.0.1:{port}/health", pid, log, 60, expect=b'"health":"true"')
        elif component == "kube-apiserver":
            processes.wait_healthy(component, f"{self.server}/readyz", pid, log, 120, context=self._tls())
        elif component == "kwok":
            processes.wait_healthy(component, f"http://127.0.0.1:{port}/healthz", pid, log, 60)
        else:  # self-signed serving certs of their own
            insecure = ssl.create_default_context()
            insecure.check_hostname = False
            insecure.verify_mode = ssl.CERT_NONE
            processes.wait_healthy(component, f"https://127.0.0.1:{port}/healthz", pid, log, 60, context=insecure)

    def _write_kubeconfigs(self) -> None:
        port = self.state.ports["kube-apiserver"]
        for client, path in (("admin", self.kubeconfig),
                             ("controller-manager", self._component_kubeconfig("controller-manager")),
                             ("scheduler", self._component_kubeconfig("scheduler")),
                             ("kwok", self._component_kubeconfig("kwok"))):
            write_kubeconfig(path, f"https://127.0.0.1:{port}", self.pki.cert("ca"),
                             user={"client-certificate": str(self.pki.cert(client)),
                                   "client-key": str(self.pki.key(client))},
                             context=f"cniupgrade-{self.name}")

    def audit_log(self) -> Path:
        return self.log_path("audit").with_suffix(".jsonl")

    def _audit_flags(self) -> list[str]:
        if not (self.state.config.get("audit_users") or self.state.config.get("audit_node_writes")):
            return []
        return [f"--audit-policy-file={self.dir / 'audit-policy.yaml'}", f"--audit-log-path={self.audit_log()}",
                "--audit-log-format=json", "--audit-log-mode=batch", "--audit-log-maxbackup=0"]

    def _argv(self, component: str) -> list[str]:
        p, pki = self.state.ports, self.pki
        bin_ = str(self.binaries.path(component))
        if component == "etcd":
            peer = f"http://127.0.0.1:{p['etcd-peer']}"
            client = f"http://127.0.0.1:{p['etcd']}"
            return [bin_, "--name=local", f"--data-dir={self.dir / 'etcd'}", f"--listen-client-urls={client}",
                    f"--advertise-client-urls={client}", f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}", f"--initial-cluster=local={peer}",
                    "--unsafe-no-fsync", "--quota-backend-bytes=8589934592", "--log-level=warn"]
        if component == "kube-apiserver":
            return [bin_, f"--etcd-servers=http://127.0.0.1:{p['etcd']}", "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1", f"--secure-port={p['kube-apiserver']}",
                    f"--tls-cert-file={pki.cert('apiserver')}", f"--tls-private-key-file={pki.key('apiserver')}",
                    f"--client-ca-file={pki.cert('ca')}",
                    f"--service-account-key-file={pki.dir / 'service-account.pub'}",
                    f"--service-account-signing-key-file={pki.key('service-account')}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    "--authorization-mode=Node,RBAC", f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--allow-privileged=true", "--enable-priority-and-fairness=false",
                    "--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000",
                    "--endpoint-reconciler-type=none", "--v=1", *self._audit_flags()]
        if component == "kube-controller-manager":
            cfg = self.state.config
            return [bin_, f"--kubeconfig={self._component_kubeconfig('controller-manager')}",
                    "--bind-address=127.0.0.1", f"--secure-port={p['kube-controller-manager']}",
                    "--leader-elect=false", f"--root-ca-file={pki.cert('ca')}",
                    f"--service-account-private-key-file={pki.key('service-account')}",
                    "--use-service-account-credentials=true",
                    f"--kube-api-qps={cfg.get('controller_qps', 200)}",
                    f"--kube-api-burst={cfg.get('controller_burst', 400)}", "--v=1",
                    f"--node-monitor-grace-period={max(50, cfg.get('node_lease_seconds', 40) + 20)}s"]
        if component == "kube-scheduler":
            cfg = self.state.config
            return [bin_, f"--kubeconfig={self._component_kubeconfig('scheduler')}", "--bind-address=127.0.0.1",
                    f"--secure-port={p['kube-scheduler']}", "--leader-elect=false",
                    f"--kube-api-qps={cfg.get('controller_qps', 200)}",
                    f"--kube-api-burst={cfg.get('controller_burst', 400)}", "--v=1"]
        if component == "kwok":
            return [bin_, f"--kubeconfig={self._component_kubeconfig('kwok')}",
                    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                    "--enable-crds=Stage",
                    f"--node-lease-duration-seconds={self.state.config.get('node_lease_seconds', 40)}",
                    "--node-ip=10.255.0.1", f"--server-address=127.0.0.1:{p['kwok']}",
                    f"--config={self.dir / 'kwok.yaml'}"]
        raise ValueError(f"unknown component {component}")


def audit_policy(users: tuple[str, ...], node_writes: bool = False) -> str:
    """Metadata of the given users' requests, once each (when complete), and with `node_writes` of anyone's node
    updates and patches; nothing else."""
    rules = (([{"level": "Metadata", "users": list(users)}] if users else [])
             + ([{"level": "Metadata", "verbs": ["update", "patch"],
                  "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}]}] if node_writes else [])
             + [{"level": "None"}])
    return yaml.safe_dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                           "omitStages": ["RequestReceived", "ResponseStarted"], "rules": rules})


def reap_orphans(prefix: str) -> list[str]:
    """Stop clusters named `<prefix><pid>` whose owning process is gone (a killed test session)."""
    root = Path(os.environ.get("CNIUPGRADE_CLUSTER_ROOT", DEFAULT_STATE_ROOT))
    reaped = []
    for directory in sorted(root.glob(f"{prefix}*")):
        owner = directory.name[len(prefix):]
        if owner.isdigit() and not processes.alive(int(owner)):
            for pid in load_state(directory).pids.values():
                processes.stop(pid, timeout=5)
            shutil.rmtree(directory, ignore_errors=True)
            reaped.append(directory.name)
    return reaped


def write_kubeconfig(path: Path, server: str, ca: Path, user: dict, context: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
