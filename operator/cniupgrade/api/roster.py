"""A large plan's node order and exclusions, kept out of its status in write-once UpgradePlanRoster objects.

etcd refuses objects over 1.5 MiB, and 65,000 cloud node names alone are ~2 MiB. Above COMPACT_ABOVE planned nodes
the status keeps the batch sizes (run-length), the exclusions summarized by reason and a reference to the roster;
the names live in the roster's shards (at most SHARD_BYTES of names each). A roster is named by its content's
digest, so it is never rewritten: a changed plan (NotReady nodes that joined) gets a new roster, and the old one
is deleted once the status names the new. In memory a plan is always whole (batches and exclusions).
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

from pydantic import Field

from cniupgrade.api.models import GROUP, VERSION, ApiModel
from cniupgrade.api.status import COMPACT_ABOVE, ComputedPlan, ExclusionSummary, RosterRef, plan_order

KIND = "UpgradePlanRoster"
PLURAL = "upgradeplanrosters"
SINGULAR = "upgradeplanroster"
SHORT_NAMES = ["upr"]
SHARD_BYTES = 512 * 1024
PLAN_UID_LABEL = f"{GROUP}/plan-uid"
DIGEST_LABEL = f"{GROUP}/roster"
SUMMARY_NAMES = 5  # nodes named per exclusion reason in the status


class RosterSpec(ApiModel):
    """One shard: a slice of the plan's node order, then of its exclusions."""
    plan: str = Field(description="The UpgradePlan this roster belongs to (also its owner).")
    digest: str = Field(description="sha256 of the whole roster: the batch sizes, node order and exclusions.")
    shard: int = Field(description="This shard's index, from 0.")
    shards: int = Field(description="How many shards the roster has.")
    nodes: list[str] = Field(default_factory=list, description="Planned nodes, in rollout order.")
    excluded: list[str] = Field(default_factory=list, description="Nodes left out: 'node: reason'.")


class RosterMissing(Exception):
    """A roster the status names cannot be read whole (a shard deleted or changed by someone else)."""


@dataclass(frozen=True)
class Roster:
    name: str
    ref: RosterRef
    shards: list[RosterSpec]


def needed(plan: ComputedPlan | None) -> bool:
    return plan is not None and len(plan_order(plan)) > COMPACT_ABOVE


def batch_sizes(sizes: list[int]) -> str:
    """[1, 10, 10, 10, 3] -> '1,10x3,3'."""
    runs: list[list[int]] = []
    for size in sizes:
        if runs and runs[-1][0] == size:
            runs[-1][1] += 1
        else:
            runs.append([size, 1])
    return ",".join(str(size) if count == 1 else f"{size}x{count}" for size, count in runs)


def sizes_of(text: str) -> list[int]:
    """'1,10x3,3' -> [1, 10, 10, 10, 3]."""
    sizes: list[int] = []
    for part in filter(None, text.split(",")):
        size, _, count = part.partition("x")
        sizes.extend([int(size)] * int(count or 1))
    return sizes


def summarize(excluded: list[str]) -> list[ExclusionSummary]:
    """Exclusions by reason, in the order reasons first appear: how many, and the first few nodes."""
    counts: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for entry in excluded:
        name, _, reason = entry.partition(": ")
        counts[reason] = counts.get(reason, 0) + 1
        if len(first := names.setdefault(reason, [])) < SUMMARY_NAMES:
            first.append(name)
    return [ExclusionSummary(reason=reason, count=count, nodes=names[reason]) for reason, count in counts.items()]


def digest_of(sizes: str, order: list[str], excluded: list[str]) -> str:
    return hashlib.sha256(json.dumps([sizes, order, excluded], separators=(",", ":")).encode()).hexdigest()


def of(plan: ComputedPlan, plan_name: str) -> Roster:
    """The roster of a plan: its shards and the reference the status keeps."""
    order, sizes = plan_order(plan), batch_sizes([len(b) for b in plan.batches])
    digest = digest_of(sizes, order, plan.excluded)
    parts: list[dict[str, list[str]]] = [{"nodes": [], "excluded": []}]
    used = 0
    for key, items in (("nodes", order), ("excluded", plan.excluded)):
        for item in items:
            cost = len(item.encode()) + 3  # quotes and comma in JSON
            if used and used + cost > SHARD_BYTES:
                parts.append({"nodes": [], "excluded": []})
                used = 0
            parts[-1][key].append(item)
            used += cost
    name = f"{plan_name[:200]}-roster-{digest[:10]}"
    shards = [RosterSpec(plan=plan_name, digest=digest, shard=i, shards=len(parts), **part)
              for i, part in enumerate(parts)]
    return Roster(name, RosterRef(name=name, shards=len(parts), digest=digest, batch_sizes=sizes), shards)


def shard_name(roster_name: str, index: int) -> str:
    return f"{roster_name}-{index}"


def compact(plan_wire: dict, roster: Roster) -> dict:
    """A plan as the status carries it (camelCase) when its names are in the roster."""
    summaries = summarize([e for shard in roster.shards for e in shard.excluded])
    return {**plan_wire, "batches": [], "excluded": [],
            "excludedByReason": [s.model_dump(mode="json", by_alias=True) for s in summaries],
            "roster": roster.ref.model_dump(mode="json", by_alias=True)}


def whole(plan_wire: dict, shards: list[dict]) -> dict:
    """The plan (camelCase) with its names read back from the roster's shards (their specs, in any order)."""
    ref = RosterRef.model_validate(plan_wire["roster"])
    by_index = {s["shard"]: s for s in shards if s.get("digest") == ref.digest}
    if sorted(by_index) != list(range(ref.shards)):
        raise RosterMissing(f"roster {ref.name}: shards {sorted(set(range(ref.shards)) - set(by_index))} missing")
    ordered = [by_index[i] for i in range(ref.shards)]
    order = [n for s in ordered for n in s.get("nodes") or []]
    excluded = [e for s in ordered for e in s.get("excluded") or []]
    if digest_of(ref.batch_sizes, order, excluded) != ref.digest:
        raise RosterMissing(f"roster {ref.name}: its content does not match its digest (changed by someone else)")
    sizes = sizes_of(ref.batch_sizes)
    starts = itertools.accumulate(sizes, initial=0)
    batches = [order[start:start + size] for start, size in zip(starts, sizes)]
    rest = {k: v for k, v in plan_wire.items() if k not in ("roster", "excludedByReason")}
    return {**rest, "batches": batches, "excluded": excluded}


def manifest(shard: RosterSpec, name: str, owner_uid: str, namespace: str) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
        "metadata": {
            "name": name, "namespace": namespace,
            "labels": {PLAN_UID_LABEL: owner_uid, DIGEST_LABEL: shard.digest[:10]},
            "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "UpgradePlan", "name": shard.plan,
                                 "uid": owner_uid}]},
        "spec": shard.model_dump(mode="json", by_alias=True),
    }
