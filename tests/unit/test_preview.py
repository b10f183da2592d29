"""`cniupgrade plan`: reading a plan file."""
from __future__ import annotations

from pathlib import Path

import pytest

from cniupgrade.preview import PlanFileError, load_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "generic-upgradeplan.yaml"


def test_example_plan_loads():
    namespace, name, spec = load_plan(EXAMPLE.read_text())
    assert (namespace, name) == ("democni-system", "democni-v1-5-0")
    assert spec.rollout.max_unavailable == "25%" and spec.rollback_on_failure


def test_errors_name_the_field_like_admission_does():
    text = EXAMPLE.read_text().replace("maxUnavailable: 25%", "maxUnavailable: 0")
    with pytest.raises(PlanFileError, match=r"spec\.rollout\.maxUnavailable"):
        load_plan(text)
    with pytest.raises(PlanFileError, match=r"spec\.rollout\.bogus"):
        load_plan(EXAMPLE.read_text().replace("order: ByZone", "bogus: 1"))


def test_a_file_without_a_plan_is_an_error():
    with pytest.raises(PlanFileError, match="no UpgradePlan"):
        load_plan("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")


def test_the_preview_says_what_protects_the_workloads_meanwhile():
    from cniupgrade.api.status import CheckResult, ComputedPlan, UpgradePlanStatus
    from cniupgrade.preview import protections
    from tests.unit.builders import spec
    status = UpgradePlanStatus(plan=ComputedPlan(batches=[["a"], ["b", "c"]], max_unavailable=2))
    taint, freeze = protections(spec(), status)
    assert "cniupgrade.io/upgrading:NoSchedule" in taint and "at most 2 node(s)" in taint
    assert freeze == "change freeze: off (spec.changeFreeze.mode)"
    frozen = spec(changeFreeze={"mode": "Deny", "namespaceSelector": {"matchLabels": {"team": "shop"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web", "api"]}]}}, rollout={"taintInFlight": False})
    taint, freeze = protections(frozen, status)
    assert taint == "in-flight taint: off (spec.rollout.taintInFlight: false)"
    assert "Deny" in freeze and "namespaces matching team=shop, tier In (web, api)" in freeze and "refused" in freeze
    untolerated = status.model_copy(update={"checks": [CheckResult(id="rollout.in-flight-taint", severity="Warning",
                                                                   result="Failed")]})
    assert "not used" in protections(spec(), untolerated)[0]


def test_the_preview_prints_the_ip_headroom_as_a_table():
    import io
    from cniupgrade.api.status import CheckResult, Phase, UpgradePlanStatus
    from cniupgrade.preview import Preview, render
    from cniupgrade.rollout.context import Decision
    from tests.unit.builders import spec
    rows = ["n1: 0 free (low 3, high 5) dry", "n2: 4 free (low 3, high 5) normal"]
    status = UpgradePlanStatus(phase=Phase.pending, checks=[
        CheckResult(id="uk8s.ip-headroom", severity="Warning", result="Failed", message="needs 6, hold 4",
                    objects=rows),
        CheckResult(id="uk8s.lts-only", severity="Error", result="Passed", message="ok", objects=["x", "y"])])
    out = io.StringIO()
    render(Preview("p", spec(), Decision(status=status)), out)
    text = out.getvalue()
    assert "IP headroom for restarts (tightest first):\n    n1: 0 free (low 3, high 5) dry\n    n2: 4 free" in text
    assert "objects: x, y" in text and "objects: n1" not in text  # the rows once, as the table
