"""A node failed its gate: stop, or put the failed nodes back on the previous images."""
from __future__ import annotations

from cniupgrade.api.models import RETRY_ANNOTATION, NodeState, Phase
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.reconcile_base import RECHECK_SECONDS, Decision, ReconcileBase


class Rollback(ReconcileBase):
    def on_failure(self, failed: list[str]) -> Decision:
        names = ", ".join(sorted(failed))
        if not self.spec.rollback_on_failure:
            return self.finish(Phase.failed, "NodeHealthGateFailed",
                               f"health gate failed on {names}; stopped. The DaemonSet stays on OnDelete so no "
                               f"other node takes the new version: fix the cause and retry (give the annotation "
                               f"{RETRY_ANNOTATION} a new value), or delete the plan to restore the original update "
                               f"strategy")
        self.status = self.status.model_copy(update={"phase": Phase.rolling_back})
        self.event("RollbackStarted", f"putting {names} back on the previous images", warning=True)
        self.actions.append(act.SetImages(self.status.previous_images))
        self.wake_in(0)
        return self.finish(Phase.rolling_back, "RollingBack", f"rolling back {names}")

    def rolling_back(self) -> Decision:
        ds = self.obs.daemonset
        if dict(ds.images) != self.status.previous_images:
            self.actions.append(act.SetImages(self.status.previous_images))
            self.wake_in(0)
            return self.finish(Phase.rolling_back, "RollingBack", "restoring the previous images")
        if not self.obs.current_revision:
            return self.finish(Phase.rolling_back, "RollingBack", "waiting for the DaemonSet's revision")
        pending = []
        for name, result in list(self.nodes.items()):
            if result.state is not NodeState.failed or name not in self.obs.nodes:
                continue
            pod = self.obs.pod_on(name)
            if pod is not None and pod.revision != self.obs.current_revision:
                self.actions.append(act.DeletePod(pod.name, pod.uid, name))
                pending.append(name)
            elif pod is not None and pod.ready:
                self.node_update(name, NodeState.rolled_back, f"back on the previous images ({result.message})",
                                 finished_at=self.now)
            else:
                pending.append(name)
        if pending:
            self.wake_in(RECHECK_SECONDS)
            return self.finish(Phase.rolling_back, "RollingBack", f"rolling back {', '.join(sorted(pending))}")
        self.actions.append(act.ReleaseDaemonSet(self.status.original_update_strategy or {}))
        rolled = sorted(n for n, r in self.nodes.items() if r.state is NodeState.rolled_back)
        return self.finish(Phase.rolled_back, "RolledBack",
                           f"{', '.join(rolled)} rolled back to the previous images after failing the health gate; "
                           f"original update strategy restored")
