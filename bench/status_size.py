"""python -m bench.status_size: the size of a finished plan's status as the operator writes it, at fleet sizes.

etcd refuses objects over 1.5 MiB. Above 2000 planned nodes the names are kept in UpgradePlanRoster shards
(api/roster.py); their sizes are printed too. The status is built with the operator's own models for N nodes, all upgraded
but for a few failed and excluded ones, with two kinds of node names: kwok's (node-00001) and cloud-style ones
with a random part (gke-prod-pool-3-1a2b3c4d-x7kq), which compress far less.
"""
from __future__ import annotations

import argparse
import json
import random
import sys

from cniupgrade.api import roster
from cniupgrade.api.status import ComputedPlan, Counts, NodeResult, NodeState, Phase, UpgradePlanStatus

STARTED, FINISHED = "2026-12-03T06:00:00Z", "2026-12-03T06:00:07Z"
LIMIT = 1.5 * 1024 * 1024


def names(count: int, style: str, rng: random.Random) -> list[str]:
    if style == "kwok":
        return [f"node-{i:05d}" for i in range(count)]
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return [f"gke-prod-pool-{i % 10}-{rng.getrandbits(32):08x}-{''.join(rng.choices(letters, k=4))}"
            for i in range(count)]


def finished_status(count: int, style: str, max_unavailable: int = 10) -> UpgradePlanStatus:
    rng = random.Random(count)
    all_names = names(count, style, rng)
    excluded, planned = all_names[:count // 100], all_names[count // 100:]
    failed = set(rng.sample(planned, min(5, len(planned))))
    batches = [planned[i:i + max_unavailable] for i in range(0, len(planned), max_unavailable)]
    results = [NodeResult(name=n, state=NodeState.failed if n in failed else NodeState.upgraded,
                          message="new agent pod not Ready within 300s" if n in failed else "upgraded in 7s",
                          started_at=STARTED, finished_at=FINISHED) for n in planned]
    return UpgradePlanStatus(
        phase=Phase.failed, nodes=results,
        plan=ComputedPlan(batches=batches, canary_batches=1, max_unavailable=max_unavailable,
                          excluded=[f"{n}: not selected by spec.rollout.nodeSelector" for n in excluded]),
        counts=Counts(total=count, planned=len(planned), upgraded=len(planned) - len(failed), failed=len(failed),
                      excluded=len(excluded)))


def compact_bytes(data: dict) -> int:
    return len(json.dumps(data, separators=(",", ":")))


def wire_sizes(status: UpgradePlanStatus) -> tuple[int, list[int]]:
    """The status as the operator writes it (the names of a large plan in its roster), and each roster shard."""
    wire = status.model_dump(mode="json", by_alias=True)
    if not roster.needed(status.plan):
        return compact_bytes({"status": wire}), []
    made = roster.of(status.plan, "upgrade")
    wire["plan"] = roster.compact(wire["plan"], made)
    return compact_bytes({"status": wire}), [compact_bytes({"spec": s.model_dump(mode="json", by_alias=True)})
                                             for s in made.shards]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status_size", description=__doc__)
    parser.add_argument("--nodes", default="1000,5000,65000")
    args = parser.parse_args(argv)
    for count in (int(n) for n in args.nodes.split(",")):
        for style in ("kwok", "cloud"):
            size, shards = wire_sizes(finished_status(count, style))
            rosters = (f"; roster: {len(shards)} shard(s), largest {max(shards) / 1024:.0f} KiB "
                       f"({max(shards) / LIMIT:.1%})" if shards else "")
            print(f"{count:6d} nodes, {style:5} names: status {size / 1024:6.1f} KiB "
                  f"({size / LIMIT:5.1%} of etcd's 1.5 MiB){rosters}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
