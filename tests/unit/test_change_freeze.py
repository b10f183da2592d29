"""spec.changeFreeze: a ValidatingAdmissionPolicy and binding while the plan changes the network, decided from the
binding the cluster shows; what the objects say."""
from __future__ import annotations

import json
from dataclasses import replace

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.kube.freeze import FREEZE_LABEL, objects, operator_namespace
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.change_freeze import frozen, wanted
from cniupgrade.rollout.decide import decide
from tests.unit.builders import NEW, PLAN, observe, pod, spec

DENY = {"mode": "Deny", "namespaceSelector": {"matchLabels": {"team": "shop"}}}


def freezes(decision) -> list:
    return [a for a in decision.actions if isinstance(a, (act.ApplyChangeFreeze, act.RemoveChangeFreeze))]


def test_frozen_from_the_first_change_to_the_end():
    plan_spec = spec(changeFreeze=DENY)
    for phase, started, expected in ((Phase.preflight, None, False), (Phase.awaiting_approval, None, False),
                                     (Phase.waiting, None, False), (Phase.migrating, None, True),
                                     (Phase.canary, "t", True), (Phase.paused, "t", True),
                                     (Phase.waiting, "t", True), (Phase.rolling_back, "t", True),
                                     (Phase.succeeded, "t", False), (Phase.failed, "t", False)):
        assert frozen(plan_spec, UpgradePlanStatus(phase=phase, started_at=started)) is expected, phase
    assert not frozen(spec(), UpgradePlanStatus(phase=Phase.rolling, started_at="t"))  # Off by default


def test_the_freeze_is_put_in_place_before_the_first_change_and_only_once():
    plan_spec = spec(changeFreeze=DENY)
    first = decide(plan_spec, UpgradePlanStatus(), observe(), 1)  # computes the plan and takes the DaemonSet
    (apply,) = freezes(first)
    assert first.actions[0] == apply and first.freeze == "Deny"
    assert apply.mode == "Deny" and PLAN in apply.message and json.loads(apply.namespace_selector) == {
        "matchLabels": {"team": "shop"}, "matchExpressions": []}
    shown = replace(observe(owner=PLAN), change_freeze=apply.digest)
    assert freezes(decide(plan_spec, first.status, shown, 1)) == []
    # a spec change of the freeze (say Deny -> Warn) is a new digest: applied again
    warn = spec(changeFreeze={**DENY, "mode": "Warn"})
    (again,) = freezes(decide(warn, first.status, shown, 1))
    assert again.mode == "Warn" and again.digest != apply.digest


def test_the_freeze_is_lifted_when_the_plan_ends_and_a_missing_one_is_not_removed():
    plan_spec = spec(changeFreeze=DENY)
    first = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    digest = freezes(first)[0].digest
    ended = first.status.model_copy(update={"phase": Phase.rolling, "nodes": []})

    done = replace(observe(owner=PLAN, pods=[pod(f"n{i}", NEW) for i in range(5)]), change_freeze=digest)
    decision = decide(plan_spec, ended, done, 1)
    while decision.status.phase is not Phase.succeeded:
        decision = decide(plan_spec, decision.status, done, 1)
    assert freezes(decision) == [act.RemoveChangeFreeze(freezes(first)[0].name)] and decision.freeze == "Off"
    assert freezes(decide(plan_spec, decision.status, replace(done, change_freeze=None), 1)) == []


def test_off_means_no_policy_at_all():
    first = decide(spec(), UpgradePlanStatus(), observe(), 1)
    assert freezes(first) == [] and first.freeze == "Off"


def test_the_objects_exempt_the_operator_the_plans_account_and_the_system():
    action = wanted(spec(changeFreeze={"mode": "Warn", "objectSelector": {"matchLabels": {"tier": "web"}}}), PLAN)
    policy, binding = objects(action, PLAN, ("system:serviceaccount:cniupgrade-system:cniupgrade",
                                             'system:serviceaccount:ops:up"grader'), "cniupgrade-system")
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert {r for rule in rules for r in rule["resources"]} == {"deployments", "statefulsets", "daemonsets",
                                                                 "services"}
    assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in rules)
    condition = policy["spec"]["matchConditions"][0]["expression"]
    assert '"system:serviceaccount:cniupgrade-system:cniupgrade"' in condition
    assert '"system:serviceaccount:ops:up\\"grader"' in condition  # quoted as a CEL string
    assert 'startsWith("system:serviceaccount:kube-system:")' in condition
    assert policy["spec"]["validations"][0]["message"] == action.message
    assert policy["spec"]["failurePolicy"] == "Ignore"
    assert binding["spec"]["validationActions"] == ["Warn"] and binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["metadata"]["labels"][FREEZE_LABEL] == action.digest
    match = binding["spec"]["matchResources"]
    assert match["objectSelector"] == {"matchLabels": {"tier": "web"}, "matchExpressions": []}
    (system,) = match["namespaceSelector"]["matchExpressions"]
    assert system == {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                      "values": ["cniupgrade-system", "kube-node-lease", "kube-public", "kube-system"]}


def test_the_operators_namespace_comes_from_its_account():
    assert operator_namespace("system:serviceaccount:cni-ops:cniupgrade") == "cni-ops"
    assert operator_namespace("kubernetes-admin") == "cniupgrade-system"
