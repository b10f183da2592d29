"""A large plan's node names travel in UpgradePlanRoster shards; the status keeps sizes, summaries and a reference."""
from __future__ import annotations

import json
import random

import pytest
from kubernetes.client.rest import ApiException

from cniupgrade.api import roster
from cniupgrade.api.status import (COMPACT_ABOVE, ComputedPlan, Counts, NodeResult, NodeState, Phase,
                                   UpgradePlanStatus)
from cniupgrade.kube.rosters import RosterReader, RosterWriter

ETCD_LIMIT = 1.5 * 1024 * 1024


def cloud_names(count: int) -> list[str]:
    rng = random.Random(count)
    return [f"gke-prod-pool-{i % 10}-{rng.getrandbits(32):08x}-{rng.getrandbits(20):05x}" for i in range(count)]


def large_plan(count: int, batch: int = 10) -> ComputedPlan:
    names = cloud_names(count)
    excluded, planned = names[:count // 100], names[count // 100:]
    batches = [planned[:1], *(planned[i:i + batch] for i in range(1, len(planned), batch))]
    return ComputedPlan(batches=batches, canary_batches=1, max_unavailable=batch, excluded=[
        *(f"{n}: not selected by spec.rollout.nodeSelector" for n in excluded[:-3]),
        *(f"{n}: not Ready" for n in excluded[-3:])])


def finished_status(plan: ComputedPlan) -> UpgradePlanStatus:
    order = [n for b in plan.batches for n in b]
    failed = {order[7], order[-2]}
    return UpgradePlanStatus(
        phase=Phase.failed, plan=plan,
        nodes=[NodeResult(name=n, state=NodeState.failed if n in failed else NodeState.upgraded,
                          message="probe failed" if n in failed else "") for n in order],
        counts=Counts(total=len(order) + len(plan.excluded), planned=len(order), upgraded=len(order) - 2, failed=2,
                      excluded=len(plan.excluded)))


def test_batch_sizes_run_length_round_trip():
    sizes = [1, 10, 10, 10, 3, 3, 1]
    assert roster.batch_sizes(sizes) == "1,10x3,3x2,1"
    assert roster.sizes_of("1,10x3,3x2,1") == sizes
    assert roster.sizes_of("") == [] and roster.batch_sizes([]) == ""


def test_exclusions_are_summarized_by_reason_naming_the_first_few():
    summary = roster.summarize([f"n{i}: cordoned" for i in range(8)] + ["x: not Ready"])
    assert [(s.reason, s.count, s.nodes) for s in summary] == [
        ("cordoned", 8, ["n0", "n1", "n2", "n3", "n4"]), ("not Ready", 1, ["x"])]


def test_small_plans_need_no_roster():
    assert not roster.needed(ComputedPlan(batches=[["a"], ["b"]]))
    assert not roster.needed(None)
    assert roster.needed(large_plan(COMPACT_ABOVE + 200))


def test_a_65000_node_status_fits_etcd_with_its_names_in_shards_and_reads_back_equal():
    plan = large_plan(65000)
    status = finished_status(plan)
    made = roster.of(plan, "upgrade")
    wire = status.model_dump(mode="json", by_alias=True)
    wire["plan"] = roster.compact(wire["plan"], made)
    size = len(json.dumps({"status": wire}, separators=(",", ":")))
    assert size < 64 * 1024, size  # kilobytes, whatever the fleet size: counts, ranges, summaries
    shard_sizes = [len(json.dumps(s.model_dump(mode="json", by_alias=True), separators=(",", ":")))
                   for s in made.shards]
    assert len(made.shards) > 1 and max(shard_sizes) < roster.SHARD_BYTES + 4096 < ETCD_LIMIT
    assert wire["plan"]["batches"] == [] and wire["plan"]["roster"]["batchSizes"] == "1,10x6434,9"
    assert wire["plan"]["excludedByReason"][1] == {"reason": "not Ready", "count": 3,
                                                   "nodes": [e.split(":")[0] for e in plan.excluded[-3:]]}
    shards = [s.model_dump(mode="json", by_alias=True) for s in reversed(made.shards)]  # any order
    read = UpgradePlanStatus.model_validate({**wire, "plan": roster.whole(wire["plan"], shards)})
    assert read == status


def test_a_missing_or_changed_shard_is_refused_not_guessed():
    plan = large_plan(COMPACT_ABOVE * 2)
    made = roster.of(plan, "upgrade")
    wire = roster.compact(plan.model_dump(mode="json", by_alias=True), made)
    shards = [s.model_dump(mode="json", by_alias=True) for s in made.shards]
    assert len(shards) >= 1
    with pytest.raises(roster.RosterMissing, match="missing"):
        roster.whole(wire, shards[1:])
    edited = [dict(s) for s in shards]
    edited[0]["nodes"] = [*edited[0]["nodes"][1:], edited[0]["nodes"][0]]
    with pytest.raises(roster.RosterMissing, match="digest"):
        roster.whole(wire, edited)


def test_the_roster_name_follows_the_content_only():
    plan = large_plan(COMPACT_ABOVE + 100)
    assert roster.of(plan, "up").name == roster.of(plan.model_copy(), "up").name
    joined = plan.model_copy(update={"batches": [*plan.batches, [plan.excluded[-1].split(":")[0]]],
                                     "excluded": plan.excluded[:-1]})
    assert roster.of(joined, "up").name != roster.of(plan, "up").name


class FakeCustom:
    """The few CustomObjectsApi calls the roster store makes, on a dict."""

    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.creates = 0

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        self.creates += 1
        name = body["metadata"]["name"]
        if name in self.objects:
            raise ApiException(status=409)
        self.objects[name] = body

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        if name not in self.objects:
            raise ApiException(status=404)
        return self.objects[name]

    def list_namespaced_custom_object(self, group, version, namespace, plural, label_selector):
        key, value = label_selector.split("=")
        return {"items": [o for o in self.objects.values() if o["metadata"]["labels"].get(key) == value]}

    def delete_namespaced_custom_object(self, group, version, namespace, plural, name):
        del self.objects[name]


def test_the_writer_writes_a_roster_once_and_drops_the_plans_others_after_the_status_names_a_new_one():
    custom = FakeCustom()
    writer, reader = RosterWriter(None, "ns", "up", "uid-1"), RosterReader(None, "ns")
    writer.custom = reader.custom = custom
    custom.objects["foreign"] = {"metadata": {"name": "foreign", "labels": {roster.PLAN_UID_LABEL: "uid-2"}}}
    plan = large_plan(COMPACT_ABOVE + 500)
    status = finished_status(plan)
    wire = status.model_dump(mode="json", by_alias=True)
    wire["plan"] = writer.compact_plan(plan, wire["plan"])
    writer.drop_others(wire)
    first = set(custom.objects) - {"foreign"}
    assert custom.creates == len(first) >= 1
    writer.compact_plan(plan, plan.model_dump(mode="json", by_alias=True))
    assert custom.creates == len(first)  # the same roster is not written again
    assert UpgradePlanStatus.model_validate(reader.whole_status(wire)) == status

    joined = plan.model_copy(update={"batches": [*plan.batches, [plan.excluded[-1].split(":")[0]]],
                                     "excluded": plan.excluded[:-1]})
    wire2 = {**wire, "plan": writer.compact_plan(joined, joined.model_dump(mode="json", by_alias=True))}
    assert first < set(custom.objects)  # the new one is written before the status names it
    writer.drop_others(wire2)
    assert not first & set(custom.objects) and "foreign" in custom.objects
    assert reader.whole_status(wire2)["plan"]["batches"][-1] == [plan.excluded[-1].split(":")[0]]
    with pytest.raises(roster.RosterMissing):
        reader.whole_status(wire)  # the old one is gone


def test_a_small_plan_is_written_whole_without_a_roster_call():
    custom = FakeCustom()
    writer = RosterWriter(None, "ns", "up", "uid-1")
    writer.custom = custom
    plan = ComputedPlan(batches=[["a"], ["b"]])
    wire = writer.compact_plan(plan, plan.model_dump(mode="json", by_alias=True))
    writer.drop_others({"plan": wire})
    assert wire["batches"] == [["a"], ["b"]] and custom.objects == {} and custom.creates == 0
