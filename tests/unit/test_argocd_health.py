"""The Argo CD health check (Lua) on sample UpgradePlan statuses, run by a real Lua interpreter (lupa)."""
from __future__ import annotations

from pathlib import Path

import pytest
from lupa import LuaRuntime

SCRIPT = (Path(__file__).resolve().parents[2] / "deploy" / "argocd" / "health-upgradeplan.lua").read_text()


def health(obj: dict) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    check = lua.eval(f"function(obj)\n{SCRIPT}\nend")
    result = check(lua.table_from(obj, recursive=True))
    return result["status"], result["message"]


def plan(phase=None, generation=2, observed=2, **conditions) -> dict:
    status = {"observedGeneration": observed, "conditions": [
        {"type": t, "status": s, "message": m} for t, (s, m) in conditions.items()]}
    if phase:
        status["phase"] = phase
    return {"metadata": {"generation": generation}, "status": status}


@pytest.mark.parametrize("obj, expected", [
    ({"metadata": {"generation": 1}}, "Progressing"),
    (plan("Succeeded", observed=1, Ready=("True", "done")), "Progressing"),  # an older generation's result
    (plan("Succeeded", Ready=("True", "upgraded 24 node(s)")), "Healthy"),
    (plan("Rolling", Ready=("False", "batch 3/7"), Stalled=("False", "")), "Progressing"),
    (plan("Failed", Ready=("False", "gate failed on node-0003"), Stalled=("True", "gate failed on node-0003")),
     "Degraded"),
    (plan("Preflight", Ready=("False", "blocked"), Stalled=("True", "pre-flight checks failed")), "Degraded"),
    (plan("Paused", Ready=("False", "paused before batch 2")), "Suspended"),
    (plan("AwaitingApproval", Ready=("False", "set spec.approved")), "Suspended"),
])
def test_health_follows_the_kstatus_conditions(obj, expected):
    assert health(obj)[0] == expected


def test_the_message_explains():
    assert health(plan("Failed", Stalled=("True", "gate failed on node-0003")))[1] == "gate failed on node-0003"
    assert health(plan("Paused", Ready=("False", "paused before batch 2")))[1] == "paused before batch 2"
