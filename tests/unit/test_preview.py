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
