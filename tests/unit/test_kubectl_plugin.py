"""kubectl cniupgrade's pure parts: its command line, which cluster and namespace it picks, the patches it sends
(read back as the operator reads them), what it prints, its exit codes. The e2e test runs it through kubectl."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import yaml
from kubernetes.client.rest import ApiException

from cniupgrade.api import models
from cniupgrade.kubectl_plugin import arguments, control, ended, entry, follow, patches, summary
from cniupgrade.kubectl_plugin.connection import Target, connect, in_cluster, namespace_of
from cniupgrade.kubectl_plugin.failures import PluginError, from_api_exception
from cniupgrade.kubectl_plugin.plan_api import FIELD_MANAGER
from cniupgrade.rollout.rollback_request import ANNOTATION_SOURCE, rollback_requested

NOW = dt.datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)


# --- the command line ----------------------------------------------------------------------------------------

def parse(*argv: str):
    return arguments.build_parser().parse_args(argv)


def test_cluster_flags_are_read_before_or_after_the_subcommand():
    before = entry.target_of(parse("-n", "ns", "--kubeconfig", "k", "--context", "c", "status", "up"))
    after = entry.target_of(parse("status", "up", "-n", "ns", "--kubeconfig", "k", "--context", "c"))
    assert before == after == Target("k", "c", "ns")
    assert entry.target_of(parse("pause", "up")) == Target()  # none given: kubectl's defaults apply later


def test_each_command_takes_a_plan_name_and_its_own_options():
    assert parse("status", "up", "-w").watch and not parse("status", "up").watch
    assert parse("rollback", "up", "--reason", "p99 up").reason == "p99 up"
    assert parse("approve", "up").timeout == arguments.APPROVE_WAIT_SECONDS
    preview = parse("plan", "-f", "plan.yaml", "-o", "json")
    assert (preview.filename, preview.output) == ("plan.yaml", "json")
    assert hasattr(preview, "trusted_namespaces")  # cniupgrade plan's policy options, from cli.py
    for command in ("status", "approve", "pause", "resume", "retry", "rollback"):
        with pytest.raises(SystemExit) as exited:
            parse(command)  # no PLAN
        assert exited.value.code == 2


# --- which cluster, which namespace ---------------------------------------------------------------------------

def kubeconfig(path, namespace_of_b: str | None = "team-b") -> str:
    contexts = [{"name": "a", "context": {"cluster": "c", "user": "u"}},
                {"name": "b", "context": {"cluster": "c", "user": "u", **({"namespace": namespace_of_b}
                                                                             if namespace_of_b else {})}}]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "b", "contexts": contexts,
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {}}]}))
    return str(path)


def test_kubeconfig_precedence_is_kubectls():
    assert Target("flag").kubeconfig_files({"KUBECONFIG": "env"}) == "flag"
    assert Target().kubeconfig_files({"KUBECONFIG": "a:b"}) == "a:b"
    assert Target().kubeconfig_files({}) == "~/.kube/config"


def test_namespace_is_the_flag_else_the_contexts_else_default(tmp_path):
    path = kubeconfig(tmp_path / "config")
    assert namespace_of(Target(path, namespace="given")) == "given"
    assert namespace_of(Target(path)) == "team-b"  # the current context's
    assert namespace_of(Target(path, context="a")) == "default"  # a context without one
    assert namespace_of(Target(kubeconfig(tmp_path / "plain", None))) == "default"


def test_a_list_in_kubeconfig_is_read_as_kubectl_merges_it(tmp_path, monkeypatch):
    path = kubeconfig(tmp_path / "config")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{path}")
    assert namespace_of(Target()) == "team-b"
    assert connect(Target()).configuration.host == "https://127.0.0.1:1"


def test_no_kubeconfig_or_an_unknown_context_is_no_cluster_to_ask(tmp_path):
    with pytest.raises(PluginError) as missing:
        connect(Target(str(tmp_path / "absent")))
    assert missing.value.code == 3 and "no kubeconfig at" in missing.value.line
    with pytest.raises(PluginError) as unknown:
        connect(Target(kubeconfig(tmp_path / "config"), context="nope"))
    assert unknown.value.code == 3 and "nope" in unknown.value.line


def test_in_a_pod_without_a_kubeconfig_its_service_account_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    assert in_cluster(Target(), {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert not in_cluster(Target(), {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "k"})
    assert not in_cluster(Target("k"), {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert not in_cluster(Target(), {})


# --- the patches, read back as the operator reads them ----------------------------------------------------------

def test_spec_patches_name_the_fields_of_the_spec():
    fields = set(models.UpgradePlanSpec.model_json_schema(by_alias=True)["properties"])
    for body, expected in ((patches.approve(), {"approved": True}), (patches.unapprove(), {"approved": False}),
                           (patches.pause(), {"paused": True}), (patches.resume(), {"paused": False})):
        assert body == {"spec": expected} and set(expected) <= fields


def test_retry_values_are_fresh_each_time_and_never_the_one_the_plan_holds():
    first = patches.retry(None, NOW)["metadata"]["annotations"][models.RETRY_ANNOTATION]
    assert first == "2026-05-01T10:00:00.123456Z"
    again = patches.retry(first, NOW)["metadata"]["annotations"][models.RETRY_ANNOTATION]
    assert again != first
    assert patches.retry(None)["metadata"]["annotations"] != patches.retry(None, NOW)["metadata"]["annotations"]


def test_a_rollback_request_reads_back_as_one_by_kubectl_cniupgrade_with_who_and_why():
    body = patches.rollback("p99 latency up", "alice", None, NOW)
    value = body["metadata"]["annotations"][models.ROLLBACK_ANNOTATION]
    assert value == "alice: p99 latency up (2026-05-01T10:00:00.123456Z)"
    # What the API server stores after our merge patch, with the managedFields entry our field manager gets.
    stored = {"spec": {}, "metadata": {**body["metadata"], "managedFields": [
        {"manager": "kubectl-annotate", "time": "2026-04-01T00:00:00Z",
         "fieldsV1": {"f:metadata": {"f:labels": {}}}},
        {"manager": FIELD_MANAGER, "time": "2026-05-01T10:00:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {f"f:{models.ROLLBACK_ANNOTATION}": {}}}}}]}}
    request = rollback_requested(stored)
    assert (request.source, request.requested_by, request.reason) == (ANNOTATION_SOURCE, FIELD_MANAGER, value)
    later = patches.rollback("p99 latency up", "alice", value, NOW)["metadata"]["annotations"]
    assert later[models.ROLLBACK_ANNOTATION] != value  # a second request is a new one
    assert patches.rollback_value("", "", NOW) == "rollback (2026-05-01T10:00:00.123456Z)"


# --- what status prints -------------------------------------------------------------------------------------

COUNTS = {"total": 10, "planned": 8, "upgraded": 3, "failed": 1, "rolledBack": 0, "removed": 0, "pending": 4,
          "excluded": 1, "notReady": 1}


def rolling_plan(**status) -> dict:
    return {"metadata": {"name": "up", "namespace": "cni", "generation": 2},
            "spec": {"plugin": "generic", "targetVersion": "v2.0.0", "paused": True, "requireApproval": True,
                     "approved": True},
            "status": {"phase": "Rolling", "fromVersion": "v1.0.0", "progress": "3/8 (+2 left out)",
                       "currentBatch": 2, "counts": COUNTS,
                       "plan": {"batches": [["n0"], ["n1", "n2"], ["n3", "n4"], ["n5", "n6", "n7"]],
                                "canaryBatches": 1, "maxUnavailable": 3, "excluded": ["n8: not Ready", "n9: cordoned"]},
                       "nodes": [{"name": "n3", "state": "Upgrading"}, {"name": "n4", "state": "Failed",
                                                                         "message": "not Ready within 120s"}],
                       "upgradedNodes": ["n0 2026-05-01T10:00:00Z 2026-05-01T10:00:02Z",
                                         "n1 - -", "n2 - -"],
                       "conditions": [{"type": "Ready", "status": "False", "reason": "Rolling",
                                       "message": "batch 3/4: n3, n4", "observedGeneration": 2},
                                      {"type": "Degraded", "status": "True", "reason": "NodeFailed",
                                       "message": "n4 failed"}],
                       "startedAt": "2026-05-01T10:00:00Z", **status}}


def row(label: str, value: str) -> str:
    return f"  {label + ':':<{summary.LABEL_WIDTH}}{value}"


def test_status_names_phase_progress_batch_nodes_counts_and_why():
    lines = summary.describe(rolling_plan()).splitlines()
    assert lines == [
        "UpgradePlan cni/up: generic v1.0.0 -> v2.0.0",
        row("phase", "Rolling"),
        row("progress", "3/8 (+2 left out) upgraded"),
        row("batch", "batch 3/4 (n3, n4)"),
        row("plan", "4 batches (1 canary), at most 3 node(s) each"),
        row("in flight", "n3"),
        row("failed", "n4"),
        row("  n4", "not Ready within 120s"),
        row("counts", "total 10  planned 8  upgraded 3  failed 1  rolledBack 0  removed 0  pending 4  excluded 1  "
                      "notReady 1"),
        row("ready", "False Rolling: batch 3/4: n3, n4"),
        row("degraded", "NodeFailed: n4 failed"),
        row("spec", "paused, approved"),
        row("times", "started 2026-05-01T10:00:00Z")]


def test_status_of_a_plan_the_operator_has_not_seen_and_one_rolled_back_on_demand():
    fresh = summary.describe({"metadata": {"name": "up", "namespace": "cni"}, "spec": {"targetVersion": "v2"}})
    assert row("phase", "Pending (not seen by the operator yet)") in fresh.splitlines()
    assert row("batch", "-") in fresh.splitlines()
    rolled = summary.describe(rolling_plan(phase="RolledBack", nodes=[{"name": "n0", "state": "RolledBack"}], rollback={
        "source": "annotation cniupgrade.io/rollback", "requestedBy": FIELD_MANAGER, "phase": "Succeeded",
        "requestedAt": "2026-05-01T11:00:00Z", "reason": "alice: p99"})).splitlines()
    assert row("rollback", f"asked through annotation cniupgrade.io/rollback by {FIELD_MANAGER} at "
                           "2026-05-01T11:00:00Z in phase Succeeded: alice: p99") in rolled
    assert row("rolled back", "n0") in rolled
    assert not any(line.startswith("  batch:") for line in rolled)  # an ended plan has no current batch
    changed = summary.describe(rolling_plan(deferredSpecHash="abc")).splitlines()
    assert row("spec", "paused, spec changed: planned when this rollout ends, approved") in changed
    assert row("spec", "paused, approved") in summary.describe(
        rolling_plan(deferredSpecHash="abc", phase="Succeeded")).splitlines()
    held = summary.describe(rolling_plan(phase="Succeeded", restartHeld="needs 2 new IP(s), hold 1")).splitlines()
    assert row("restart held", "needs 2 new IP(s), hold 1") in held


def test_canary_batch_and_long_name_lists():
    assert summary.batch_text(rolling_plan(currentBatch=0)["status"]) == "canary 1/4"
    assert summary.names([f"n{i}" for i in range(13)]) == ", ".join(f"n{i}" for i in range(10)) + " (+3 more)"


def test_the_log_line_and_the_terminal_screen():
    plan = rolling_plan()
    assert summary.change_line(plan) == ("phase=Rolling upgraded=3/8 (+2 left out) batch=3/4 in-flight=n3 "
                                         "failed=n4 Rolling: batch 3/4: n3, n4")
    screen = summary.screen(plan, width=4)
    assert "# n0  # n1  # n2  ~ n3" in screen and "X n4  . n5  . n6  . n7" in screen
    assert summary.LEGEND in screen


def test_finished_only_in_a_terminal_phase_decided_for_the_plan_as_it_is():
    done = rolling_plan(phase="Succeeded")
    assert ended.finished(done) and not ended.finished(rolling_plan())
    stale = rolling_plan(phase="Succeeded")
    stale["metadata"]["generation"] = 3  # a new spec the operator has not decided on yet
    assert not ended.finished(stale)
    retried = rolling_plan(phase="Failed")
    retried["metadata"]["annotations"] = {models.RETRY_ANNOTATION: "t1"}
    assert not ended.finished(retried)
    retried["status"]["lastHandledRetry"] = "t1"
    assert ended.finished(retried)
    asked = rolling_plan(phase="Succeeded")
    asked["metadata"]["annotations"] = {models.ROLLBACK_ANNOTATION: "r1"}
    assert not ended.finished(asked)
    asked["status"]["lastHandledRollback"] = "annotation:r1"
    assert ended.finished(asked)


# --- watching, and the commands' checks (a stand-in for PlanApi: recorded calls, no server) -------------------

class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Plans:
    """PlanApi's interface over a list of plan versions: get() returns the first, changes() the rest."""

    name, namespace, api = "up", "cni", None

    def __init__(self, *versions: dict):
        self.versions, self.patches = list(versions), []

    def get(self) -> dict:
        return self.versions[0]

    def changes(self, resource_version: str, deadline: float | None = None):
        yield from (("MODIFIED", v) for v in self.versions[1:])

    def patch(self, body: dict) -> dict:
        self.patches.append(body)
        merged = json.loads(json.dumps(self.versions[0]))
        for key, value in body.items():
            merged.setdefault(key, {}).update(value)
        merged["metadata"].setdefault("resourceVersion", "1")
        return merged


def test_watch_to_a_log_writes_a_line_per_change_and_ends_with_the_plan():
    versions = [rolling_plan(), rolling_plan(), rolling_plan(progress="4/8"), rolling_plan(phase="Succeeded")]
    for v in versions:
        v["metadata"]["resourceVersion"] = "1"
    out = io.StringIO()
    ended = follow.follow(Plans(*versions), follow.Printer(out, clock=lambda: "10:00:00"))
    assert ended["status"]["phase"] == "Succeeded"
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(line.startswith("10:00:00 phase=") for line in lines)
    assert "phase=Succeeded" in lines[-1]


def test_watch_on_a_terminal_redraws_and_a_deleted_plan_is_an_error():
    out = Tty()
    follow.Printer(out, clock=lambda: "10:00:00").show(rolling_plan())
    assert out.getvalue().startswith(follow.CLEAR) and "# n0" in out.getvalue()

    class Deleted(Plans):
        def changes(self, resource_version, deadline=None):
            yield "DELETED", self.versions[0]
    with pytest.raises(PluginError) as deleted:
        follow.follow(Deleted({**rolling_plan(), "metadata": {"resourceVersion": "1"}}), follow.Printer(io.StringIO()))
    assert deleted.value.code == 1


def test_retry_is_refused_unless_failed_or_rolled_back():
    running = Plans(rolling_plan())
    with pytest.raises(PluginError) as refused:
        control.retry(running, io.StringIO())
    assert refused.value.code == 1 and "only a Failed or RolledBack plan" in refused.value.line
    assert not running.patches  # nothing set that would retry a later failure by itself
    failed = Plans(rolling_plan(phase="Failed"))
    out = io.StringIO()
    assert control.retry(failed, out) == 0
    assert list(failed.patches[0]["metadata"]["annotations"]) == [models.RETRY_ANNOTATION]
    assert out.getvalue().startswith("upgradeplan.cniupgrade.io/up retry requested")


def test_an_outdated_approval_is_set_false_then_true_once_the_operator_took_it():
    outdated = rolling_plan(phase="AwaitingApproval")
    outdated["status"]["conditions"][0].update(reason="ApprovalOutdated")
    taken = rolling_plan(phase="AwaitingApproval")
    taken["status"]["conditions"][0].update(reason="AwaitingApproval", observedGeneration=3)
    plans = Plans(outdated, taken)
    out = io.StringIO()
    assert control.approve(plans, out, wait_seconds=5) == 0
    assert plans.patches == [{"spec": {"approved": False}}, {"spec": {"approved": True}}]
    assert "earlier spec" in out.getvalue()

    never = Plans(outdated)  # the operator never takes it
    with pytest.raises(PluginError) as waited:
        control.approve(never, io.StringIO(), wait_seconds=1)
    assert waited.value.code == 1 and never.patches == [{"spec": {"approved": False}}]


def test_a_plain_approval_and_pause_resume_are_one_patch_each():
    plans = Plans(rolling_plan(phase="AwaitingApproval"))
    control.approve(plans, io.StringIO(), wait_seconds=1)
    control.pause(plans, io.StringIO())
    control.resume(plans, io.StringIO())
    assert plans.patches == [patches.approve(), patches.pause(), patches.resume()]


# --- errors: one line, the CLI's exit codes --------------------------------------------------------------------

def api_error(status: int, body: dict) -> ApiException:
    exc = ApiException(status=status, reason="reason")
    exc.body = json.dumps(body)
    return exc


def test_api_errors_map_to_the_clis_exit_codes():
    missing = from_api_exception(api_error(404, {"message": "not found", "details": {"name": "up"}}), "up", "cni")
    assert (missing.code, missing.line) == (2, 'error: upgradeplan "up" not found in namespace "cni"')
    unserved = from_api_exception(api_error(404, {"message": "the server could not find the requested resource"}),
                                  "up", "cni")
    assert unserved.code == 3 and "CRD installed" in unserved.line
    forbidden = from_api_exception(api_error(403, {"message": 'upgradeplans "up" is forbidden: User "bob"\ncannot'}),
                                   "up", "cni")
    assert forbidden.code == 3 and forbidden.line == 'error: forbidden: upgradeplans "up" is forbidden: User "bob"'
    assert from_api_exception(api_error(422, {"message": "spec.paused: Invalid"}), "up", "cni").code == 2


def test_main_prints_one_line_and_returns_the_code(tmp_path, capsys):
    assert entry.main(["status", "up", "--kubeconfig", str(tmp_path / "absent")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no kubeconfig at")
