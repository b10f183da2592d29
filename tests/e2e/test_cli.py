"""`cniupgrade plan` as a script uses it: the real command as a subprocess, its exit codes (0 would start, 1
blocked, 2 bad input, 3 no cluster) and one-line errors, machine output, and never an abort at exit (its watches
are stopped and joined before it returns)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import create_agent

RUNS, AT_ONCE = 100, 4


def plan_file(folder: Path, namespace: str, daemon_set: str = "cni-agent") -> Path:
    path = folder / f"plan-{namespace}-{daemon_set}.yaml"
    path.write_text(f"apiVersion: cniupgrade.io/v1alpha1\nkind: UpgradePlan\nmetadata: {{name: up, namespace: "
                    f"{namespace}}}\nspec: {{plugin: generic, targetVersion: v2.0.0, daemonSet: {{name: "
                    f"{daemon_set}}}}}\n")
    return path


def plan(path: Path, kubeconfig: Path | str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(path),
                           "--allowed-image-repositories", "example.com", *extra], capture_output=True, text=True,
                          env={**os.environ, "KUBECONFIG": str(kubeconfig)}, timeout=120)


def test_a_hundred_previews_in_a_row_all_exit_0(admin_api, cluster, namespace, tmp_path):
    create_agent(admin_api, namespace, E2E_NODES)
    path = plan_file(tmp_path, namespace)
    with ThreadPoolExecutor(AT_ONCE) as pool:
        runs = list(pool.map(lambda _: plan(path, cluster.kubeconfig), range(RUNS)))
    failed = [(r.returncode, r.stderr[-300:]) for r in runs if r.returncode != 0]
    assert not failed, f"{len(failed)} of {RUNS} runs failed, e.g. {failed[0]}"
    assert all("would be: " in r.stdout and "nothing was changed" in r.stdout for r in runs)


def test_a_blocked_plan_exits_1_naming_what_is_missing(admin_api, cluster, namespace, tmp_path):
    missing_ds = plan(plan_file(tmp_path, namespace, "no-such-agent"), cluster.kubeconfig)
    assert missing_ds.returncode == 1, missing_ds.stderr
    assert f"DaemonSet {namespace}/no-such-agent not found" in missing_ds.stdout
    missing_ns = plan(plan_file(tmp_path, f"{namespace}-gone"), cluster.kubeconfig)
    assert missing_ns.returncode == 1, missing_ns.stderr
    assert f"namespace {namespace}-gone not found" in missing_ns.stdout


def test_machine_output_is_the_status_the_operator_would_write(admin_api, cluster, namespace, tmp_path):
    create_agent(admin_api, namespace, E2E_NODES)
    out = plan(plan_file(tmp_path, namespace), cluster.kubeconfig, "-o", "json")
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)["status"]
    assert sum(len(batch) for batch in status["plan"]["batches"]) == E2E_NODES


def test_bad_input_exits_2_and_no_cluster_exits_3_each_with_one_line(cluster, namespace, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: cniupgrade.io/v1alpha1\nkind: UpgradePlan\nmetadata: {name: up}\n"
                   "spec: {plugin: generic, targetVersion: 'v 2'}\n")
    refused = plan(bad, cluster.kubeconfig)
    assert refused.returncode == 2 and "spec.targetVersion" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    nowhere = tmp_path / "kubeconfig"
    nowhere.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}]}))
    unreachable = plan(plan_file(tmp_path, namespace), nowhere)
    assert unreachable.returncode == 3, unreachable.stderr
    assert "cannot reach the cluster at https://127.0.0.1:1" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1

    no_config = plan(plan_file(tmp_path, namespace), tmp_path / "absent")
    assert no_config.returncode == 3 and "no cluster to preview against" in no_config.stderr
