"""Where each node of a plan stands: its position in rollout order and its batch (fixed for the whole rollout)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cniupgrade.api.status import ComputedPlan, plan_order
from cniupgrade.memo import last_by_identity


@dataclass(frozen=True)
class PlanLayout:
    order: tuple[str, ...]  # every node of the plan, in rollout order
    position: Mapping[str, int]  # node -> its index in order
    batch_of: Mapping[str, int]  # node -> its batch
    batch_start: tuple[int, ...]  # batch -> the position of its first node

    def key(self, name: str) -> int:
        """A node's place in plan order; a node outside the plan sorts last."""
        return self.position.get(name, len(self.order))


@last_by_identity
def layout_of(plan: ComputedPlan | None) -> PlanLayout:
    batches = plan.batches if plan is not None else []
    order = tuple(plan_order(plan))
    starts, start = [], 0
    for batch in batches:
        starts.append(start)
        start += len(batch)
    return PlanLayout(order, {name: i for i, name in enumerate(order)},
                      {name: index for index, batch in enumerate(batches) for name in batch}, tuple(starts))
