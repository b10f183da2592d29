"""`kubectl cniupgrade` as kubectl users run it: the real kubectl binary finds the plugin on PATH (the installed
console script kubectl-cniupgrade, else `python -m cniupgrade.kubectl_plugin` behind that name), the plugin reads
KUBECONFIG, --context and -n itself, and its patches steer the running operator: pause holds a rollout, resume
lets it finish, a rollback after Succeeded is recorded as asked by kubectl-cniupgrade, retry starts it over."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from cniupgrade.api import models
from cniupgrade.kubectl_plugin.summary import LABEL_WIDTH
from localcluster import serviceaccount
from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, create_agent
from tests.e2e.recorder import PodRecorder

PLUGIN = "kubectl-cniupgrade"
MANAGER = "kubectl-cniupgrade"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    """PATH with exactly one kubectl-cniupgrade: the installed console script if there is one, else a wrapper
    running the module with this interpreter. PATH entries holding another are left out (kubectl plugin list
    reports a shadowed plugin as an error)."""
    folder = tmp_path_factory.mktemp("plugin-path")
    entry, installed = folder / PLUGIN, Path(sys.executable).parent / PLUGIN
    if installed.is_file():
        entry.symlink_to(installed)
    else:
        entry.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m cniupgrade.kubectl_plugin "$@"\n')
        entry.chmod(0o755)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not (Path(p) / PLUGIN).exists()]
    return os.pathsep.join([str(folder), *rest])


@pytest.fixture
def cniupgrade(kubectl, cluster, plugin_path, namespace):
    """`kubectl cniupgrade ARGS` with the test's namespace and the admin's KUBECONFIG, unless given others."""
    def run(*args: str, namespace_flag: bool = True, kubeconfig: Path | str | None = None, timeout: float = 60,
            background: bool = False):
        argv = [str(kubectl.binary), "cniupgrade", *args, *(["-n", namespace] if namespace_flag else [])]
        env = {**os.environ, "PATH": plugin_path, "KUBECONFIG": str(kubeconfig or cluster.kubeconfig)}
        if background:
            return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    return run


def row(label: str, value: str) -> str:
    """A line of `status`."""
    return f"  {label + ':':<{LABEL_WIDTH}}{value}"


def managers(plan: dict) -> set[str]:
    return {entry["manager"] for entry in plan["metadata"].get("managedFields") or []}


def agent_image(admin_api, namespace) -> str:
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    return ds.spec.template.spec.containers[0].image


def test_kubectl_finds_the_plugin_on_path(kubectl, cluster, plugin_path):
    env = {**os.environ, "PATH": plugin_path, "KUBECONFIG": str(cluster.kubeconfig)}
    listed = subprocess.run([str(kubectl.binary), "plugin", "list"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert any(line.strip().endswith(f"/{PLUGIN}") for line in listed.stdout.splitlines()), listed.stdout
    helped = subprocess.run([str(kubectl.binary), "cniupgrade", "--help"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0 and "usage: kubectl cniupgrade" in helped.stdout


def test_pause_holds_the_rollout_resume_lets_it_finish_and_status_follows_it(
        admin_api, namespace, operator, plans, cniupgrade):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="300ms")
    plans.create(requireApproval=True, rollout={"maxUnavailable": 2})
    plans.wait_phase("AwaitingApproval")

    shown = cniupgrade("status", "upgrade")
    assert shown.returncode == 0, shown.stderr
    counts = plans.status()["counts"]
    assert counts["total"] == counts["planned"] == counts["pending"] == E2E_NODES
    assert row("counts", "  ".join(f"{k} {counts[k]}" for k in ("total", "planned", "upgraded", "failed",
                                                                 "rolledBack", "removed", "pending", "excluded",
                                                                 "notReady"))) in shown.stdout
    assert row("phase", "AwaitingApproval") in shown.stdout and "AwaitingApproval:" in shown.stdout

    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        paused = cniupgrade("pause", "upgrade")
        assert paused.returncode == 0 and paused.stdout.startswith("upgradeplan.cniupgrade.io/upgrade paused")
        approved = cniupgrade("approve", "upgrade")
        assert approved.returncode == 0, approved.stderr
        plan = plans.get()
        assert plan["spec"]["paused"] is True and plan["spec"]["approved"] is True and MANAGER in managers(plan)

        plans.wait_phase("Paused", timeout=60)
        time.sleep(3)  # held: approved, yet nothing starts while paused
        assert plans.status()["counts"]["upgraded"] == 0 and not recorder.deletion_order()
        assert agent_image(admin_api, namespace).endswith(":v1.0.0")
        held = cniupgrade("status", "upgrade")
        assert row("phase", "Paused") in held.stdout and row("spec", "paused, approved") in held.stdout

        watcher = cniupgrade("status", "upgrade", "--watch", background=True)  # a pipe: one line per change
        first = watcher.stdout.readline()  # it shows the plan as it is before anything changes it
        resumed = cniupgrade("resume", "upgrade")
        assert resumed.returncode == 0 and plans.get()["spec"]["paused"] is False
        out, err = watcher.communicate(timeout=180)
    assert watcher.returncode == 0, err
    lines = [first, *out.splitlines()]
    assert len(lines) >= 3 and "phase=Paused" in lines[0] and "phase=Succeeded" in lines[-1], lines
    assert any("phase=Rolling" in line or "phase=Canary" in line for line in lines), out
    assert f"upgraded={E2E_NODES}/{E2E_NODES}" in lines[-1]
    assert len(recorder.deletion_order()) == E2E_NODES

    done = cniupgrade("status", "upgrade")
    assert row("progress", f"{E2E_NODES}/{E2E_NODES} upgraded") in done.stdout
    assert row("phase", "Succeeded") in done.stdout


def test_rollback_after_succeeded_is_asked_by_kubectl_cniupgrade_and_retry_starts_over(
        admin_api, namespace, operator, plans, cniupgrade):
    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(rollout={"maxUnavailable": "50%"})
    plans.wait_phase("Succeeded", timeout=120)

    early = cniupgrade("retry", "upgrade")
    assert early.returncode == 1 and "is Succeeded: only a Failed or RolledBack plan" in early.stderr
    assert models.RETRY_ANNOTATION not in (plans.get()["metadata"].get("annotations") or {})

    asked = cniupgrade("rollback", "upgrade", "--reason", "p99 latency up")
    assert asked.returncode == 0, asked.stderr
    value = plans.get()["metadata"]["annotations"][models.ROLLBACK_ANNOTATION]
    assert "p99 latency up" in value and value in asked.stdout
    followed = cniupgrade("status", "upgrade", "-w", timeout=180)
    assert followed.returncode == 1, followed.stderr  # it ended, and not Succeeded
    assert "phase=RolledBack" in followed.stdout.splitlines()[-1]
    record = plans.status()["rollback"]
    assert record["requestedBy"] == MANAGER and record["reason"] == value and record["phase"] == "Succeeded"
    assert record["source"] == f"annotation {models.ROLLBACK_ANNOTATION}"
    assert agent_image(admin_api, namespace).endswith(":v1.0.0")
    shown = cniupgrade("status", "upgrade")
    assert f"by {MANAGER}" in shown.stdout and row("phase", "RolledBack") in shown.stdout

    retried = cniupgrade("retry", "upgrade")
    assert retried.returncode == 0, retried.stderr
    retry_value = plans.get()["metadata"]["annotations"][models.RETRY_ANNOTATION]
    wait_for(lambda: plans.status().get("lastHandledRetry") == retry_value, 60, "the retry taken")
    plans.wait_phase("Succeeded", timeout=120)  # started over, not rolled back again by the old request
    assert agent_image(admin_api, namespace).endswith(":v2.0.0")


def test_exit_codes_for_a_missing_plan_namespace_kubeconfig_cluster_and_rights(
        admin_api, cluster, namespace, operator_rbac, plans, cniupgrade, tmp_path):
    plans.create(paused=True)
    assert cniupgrade("status", "upgrade").returncode == 0

    missing = cniupgrade("pause", "nope")
    assert missing.returncode == 2 and missing.stderr == f'error: upgradeplan "nope" not found in namespace ' \
                                                         f'"{namespace}"\n'
    gone = cniupgrade("status", "upgrade", "-n", f"{namespace}-gone", namespace_flag=False)
    assert gone.returncode == 2 and gone.stderr == f'error: namespace "{namespace}-gone" not found\n'

    absent = cniupgrade("status", "upgrade", kubeconfig=tmp_path / "absent")
    assert absent.returncode == 3 and absent.stderr.startswith("error: no kubeconfig at")
    nowhere = tmp_path / "nowhere"
    nowhere.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}]}))
    unreachable = cniupgrade("status", "upgrade", kubeconfig=nowhere)
    assert unreachable.returncode == 3 and "cannot reach the cluster at https://127.0.0.1:1" in unreachable.stderr
    for result in (missing, gone, absent, unreachable):
        assert result.stderr.count("\n") == 1, result.stderr

    client.CoreV1Api(admin_api).create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    nobody = serviceaccount.kubeconfig_for(cluster, namespace, "nobody", tmp_path / "nobody")
    refused = cniupgrade("pause", "upgrade", kubeconfig=nobody)
    assert refused.returncode == 3 and refused.stderr.startswith("error: forbidden: ")
    assert plans.get()["spec"]["paused"] is True


def test_context_and_its_namespace_are_honoured_and_plan_previews_as_cniupgrade_plan(
        admin_api, cluster, namespace, plans, cniupgrade, tmp_path):
    """A kubeconfig whose current context is unreachable: --context picks the admin's, whose namespace -n
    defaults to."""
    create_agent(admin_api, namespace, E2E_NODES)
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    admin = config["contexts"][0]
    config["contexts"] = [{"name": "admin", "context": {**admin["context"], "namespace": namespace}},
                          {"name": "elsewhere", "context": {"cluster": "nowhere", "user": admin["context"]["user"]}}]
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    config["current-context"] = "elsewhere"
    two = tmp_path / "two-contexts"
    two.write_text(yaml.safe_dump(config))
    plans.create(paused=True)
    assert cniupgrade("status", "upgrade", namespace_flag=False, kubeconfig=two).returncode == 3
    picked = cniupgrade("status", "upgrade", "--context", "admin", namespace_flag=False, kubeconfig=two)
    assert picked.returncode == 0, picked.stderr
    assert picked.stdout.startswith(f"UpgradePlan {namespace}/upgrade: generic")

    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"apiVersion": f"{models.GROUP}/{models.VERSION}", "kind": models.KIND,
                                         "metadata": {"name": "preview", "namespace": namespace},
                                         "spec": {"plugin": "generic", "targetVersion": "v2.0.0",
                                                  "daemonSet": {"name": "cni-agent"}}}))
    policy = ("--allowed-image-repositories", "example.com")
    previewed = cniupgrade("plan", "-f", str(plan_file), *policy, "--context", "admin", namespace_flag=False,
                           kubeconfig=two)
    assert previewed.returncode == 0, previewed.stderr
    direct = subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(plan_file), *policy],
                            capture_output=True, text=True, timeout=120, env={**os.environ,
                                                                              "KUBECONFIG": str(cluster.kubeconfig)})
    assert direct.returncode == 0, direct.stderr
    # The same preview, but for the time it was made at (the last line).
    assert previewed.stdout.splitlines()[:-1] == direct.stdout.splitlines()[:-1]
    assert "would be: " in previewed.stdout and "nothing was changed" in previewed.stdout
    machine = cniupgrade("plan", "-f", str(plan_file), *policy, "-o", "json", "--context", "admin",
                         namespace_flag=False, kubeconfig=two)
    assert sum(len(b) for b in json.loads(machine.stdout)["status"]["plan"]["batches"]) == E2E_NODES
    blocked = plan_file.read_text().replace("cni-agent", "no-such-agent")
    plan_file.write_text(blocked)
    assert cniupgrade("plan", "-f", str(plan_file), *policy, "--context", "admin", namespace_flag=False,
                      kubeconfig=two).returncode == 1
    assert cniupgrade("plan", "-f", str(tmp_path / "absent.yaml"), namespace_flag=False).returncode == 2
