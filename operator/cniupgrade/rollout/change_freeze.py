"""A change freeze while the network changes (spec.changeFreeze): from the plan's first change to its end, a
ValidatingAdmissionPolicy and its binding (built into Kubernetes: no webhook to run) warn about or refuse others'
creates and updates of Deployments, StatefulSets, DaemonSets and Services in the selected namespaces.

Decided after the steps, from the binding the cluster shows (its label carries the digest of what it enforces),
so a resumed operator puts a missing freeze back and takes a stale one away; the plan's finalizer removes it too.
"""
from __future__ import annotations

import hashlib
import json

from cniupgrade.api.models import FreezeMode, UpgradePlanSpec
from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act

# The phases in which the plan changes the network, or holds it half-changed; Waiting only once started (a window
# between batches), not before (another plan holds the DaemonSet, the window has not opened yet).
FROZEN_PHASES = frozenset({Phase.migrating, Phase.pre_pulling, Phase.control_plane, Phase.canary, Phase.rolling,
                           Phase.paused, Phase.rolling_back})


def frozen(spec: UpgradePlanSpec, status: UpgradePlanStatus) -> bool:
    return spec.change_freeze.mode is not FreezeMode.off and (
        status.phase in FROZEN_PHASES or (status.phase is Phase.waiting and bool(status.started_at)))


def freeze_name(plan_key: str) -> str:
    """The policy's and the binding's name: one pair per plan."""
    return f"cniupgrade-freeze-{hashlib.sha256(plan_key.encode()).hexdigest()[:16]}"


def wanted(spec: UpgradePlanSpec, plan_key: str) -> act.ApplyChangeFreeze:
    freeze = spec.change_freeze
    namespaces = freeze.namespace_selector.model_dump(mode="json", by_alias=True) if freeze.namespace_selector else {}
    objects = freeze.object_selector.model_dump(mode="json", by_alias=True) if freeze.object_selector else {}
    message = (f"change freeze: UpgradePlan {plan_key} is upgrading the CNI ({spec.plugin} to {spec.target_version});"
               f" Deployments, StatefulSets, DaemonSets and Services are frozen until it ends")
    digest = hashlib.sha256(json.dumps([freeze.mode.value, namespaces, objects, message, spec.service_account_name],
                                       sort_keys=True).encode()).hexdigest()[:16]
    return act.ApplyChangeFreeze(freeze_name(plan_key), freeze.mode.value, json.dumps(namespaces, sort_keys=True),
                                 json.dumps(objects, sort_keys=True), message, digest)


def reconcile(spec: UpgradePlanSpec, decision, obs) -> str:
    """The freeze's action, if the cluster differs from what the plan's phase wants; returns the mode in force
    afterwards (Off when none)."""
    if obs.daemonset is None and obs.change_freeze is None:
        return FreezeMode.off.value  # a settled or refused plan observes nothing, and holds no freeze
    if frozen(spec, decision.status):
        want = wanted(spec, obs.plan_key)
        if obs.change_freeze != want.digest:
            decision.actions.insert(0, want)  # before any change the pass makes
        return want.mode
    if obs.change_freeze is not None:
        decision.actions.append(act.RemoveChangeFreeze(freeze_name(obs.plan_key)))
    return FreezeMode.off.value
