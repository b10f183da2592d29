"""The operator's metrics endpoint during a real upgrade."""
from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import create_agent


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples, name, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_node_counts_move_and_the_final_phase_is_exported(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="400ms")
    timed_before = sample(scrape(operator.metrics_url), "cniupgrade_node_upgrade_duration_seconds_count",
                          plugin="generic") or 0  # the operator process serves the whole session
    plans.create(rollout={"maxUnavailable": 3})
    seen_upgraded = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        samples = scrape(operator.metrics_url)
        upgraded = sample(samples, "cniupgrade_nodes", namespace=namespace, plan="upgrade", state="upgraded")
        if upgraded is not None and (not seen_upgraded or upgraded != seen_upgraded[-1]):
            seen_upgraded.append(upgraded)
        if sample(samples, "cniupgrade_plan_phase", namespace=namespace, plan="upgrade", phase="Succeeded") == 1:
            break
        time.sleep(0.3)
    assert sample(samples, "cniupgrade_plan_phase", namespace=namespace, plan="upgrade", phase="Succeeded") == 1
    assert sample(samples, "cniupgrade_plan_phase", namespace=namespace, plan="upgrade", phase="Rolling") == 0
    assert seen_upgraded == sorted(seen_upgraded) and len(seen_upgraded) >= 4, seen_upgraded  # moving, never back
    assert seen_upgraded[-1] == E2E_NODES
    for state, value in (("total", E2E_NODES), ("planned", E2E_NODES), ("upgraded", E2E_NODES), ("excluded", 0)):
        assert sample(samples, "cniupgrade_nodes", namespace=namespace, plan="upgrade", state=state) == value
    assert sample(samples, "cniupgrade_last_progress_timestamp_seconds", namespace=namespace, plan="upgrade") > 0
    timed = sample(samples, "cniupgrade_node_upgrade_duration_seconds_count", plugin="generic") - timed_before
    assert timed == E2E_NODES  # each node timed once
