"""A large plan's status through the real API server: the CRD's schema takes its compact form (upgraded nodes as
position ranges) and reading it back gives the status that was written."""
from __future__ import annotations

from kubernetes import client

from cniupgrade.api import models
from cniupgrade.api.status import (COMPACT_ABOVE, ComputedPlan, Counts, NodeResult, NodeState, Phase,
                                   UpgradePlanStatus)

NODES = 5000


def large_status() -> UpgradePlanStatus:
    names = [f"node-{i:05d}" for i in range(NODES)]
    excluded, planned = names[:50], names[50:]
    failed = {planned[17], planned[4000]}
    results = [NodeResult(name=n, state=NodeState.failed if n in failed else NodeState.upgraded,
                          message="probe failed" if n in failed else "",
                          started_at="2026-12-03T06:00:00Z" if n in failed else None,
                          finished_at="2026-12-03T06:00:09Z" if n in failed else None) for n in planned]
    return UpgradePlanStatus(
        phase=Phase.failed, nodes=results,
        plan=ComputedPlan(batches=[planned[i:i + 10] for i in range(0, len(planned), 10)], max_unavailable=10,
                          excluded=[f"{n}: not selected by spec.rollout.nodeSelector" for n in excluded]),
        counts=Counts(total=NODES, planned=len(planned), upgraded=len(planned) - 2, failed=2, excluded=50))


def test_a_large_plans_status_is_stored_compact_and_read_back_whole(operator, admin_api, namespace, plans):
    assert NODES - 50 > COMPACT_ABOVE
    operator.stop()  # the status is ours to write here (the fixture starts the operator again after)
    plans.create()
    status = large_status()
    wire = status.model_dump(mode="json", by_alias=True)
    assert wire["upgradedRanges"] == f"0-16,18-3999,4001-{NODES - 51}" and len(wire["nodes"]) == 2
    custom = client.CustomObjectsApi(admin_api)
    custom.patch_namespaced_custom_object_status(models.GROUP, models.VERSION, namespace, models.PLURAL, "upgrade",
                                                 {"status": wire})
    stored = plans.get()["status"]
    assert stored["upgradedRanges"] == wire["upgradedRanges"]  # kept by the schema, not pruned
    read = UpgradePlanStatus.model_validate(stored)
    assert read.nodes == status.nodes and read.counts == status.counts
