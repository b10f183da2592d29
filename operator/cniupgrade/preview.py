"""`cniupgrade plan -f plan.yaml`: what the operator would do, against the live cluster, changing nothing."""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import TextIO

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError
from urllib3.exceptions import HTTPError

from cniupgrade import builtins  # noqa: F401 - registers the plugins and mechanisms
from cniupgrade.api import models
from cniupgrade.api import status as status_api
from cniupgrade.engine import daemonset_name
from cniupgrade.kube.preflight import with_preflight
from cniupgrade.kube.view import PlanView
from cniupgrade.policy import SecurityPolicy
from cniupgrade.preflight import security_checks
from cniupgrade.rollout import actions as act
from cniupgrade.rollout import in_flight_taint
from cniupgrade.rollout.decide import Decision, decide
from cniupgrade.rollout.observation import Observation
from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY
from cniupgrade.seams.plugin import plugin_for


REACH_SECONDS = 10.0
HEADROOM_SUFFIX = ".ip-headroom"  # the plugins' IP headroom checks: their objects are table rows


class PlanFileError(ValueError):
    pass


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be reached, or refuses the reads a preview needs."""


@dataclass
class Preview:
    name: str
    spec: models.UpgradePlanSpec
    decision: Decision
    notes: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """The plan would not start: a check blocks it, or what it names is not there."""
        status = self.decision.status
        passed = next((c.status for c in status.conditions if c.type == "PreflightPassed"), "True")
        return status.phase in (status_api.Phase.failed, status_api.Phase.preflight) or passed == "False"


def load_plan(text: str) -> tuple[str, str, models.UpgradePlanSpec]:
    """(namespace, name, spec) of the first UpgradePlan in a YAML stream; errors name the field."""
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") != models.KIND:
            continue
        meta = doc.get("metadata") or {}
        try:
            spec = models.UpgradePlanSpec.of_plan(doc.get("spec"), meta.get("namespace", "default"))
        except ValidationError as exc:
            problems = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise PlanFileError(problems) from exc
        return meta.get("namespace", "default"), meta.get("name", "preview"), spec
    raise PlanFileError(f"no {models.KIND} in the file")


def preview(api: client.ApiClient, text: str, security: SecurityPolicy) -> Preview:
    namespace, name, spec = load_plan(text)
    boundary = security_checks.namespace_boundary(namespace, spec.namespace, security)
    if not boundary.passed:
        observation = Observation.refused(dt.datetime.now(dt.timezone.utc), f"{namespace}/{name}", boundary)
        return Preview(name, spec, decide(spec, status_api.UpgradePlanStatus(), observation, generation=1))
    notes = reach(api, spec.namespace, daemonset_name(spec))
    # Listed once, never watched: no thread is left reading a socket when the command exits.
    view = PlanView(api, spec.namespace, daemonset_name(spec), f"{namespace}/{name}", "preview", threading.Event().set,
                    plugin_for(spec).control_plane(spec), one_shot=True)
    observation = with_preflight(api, spec, view.observe(), security, namespace)
    return Preview(name, spec, decide(spec, status_api.UpgradePlanStatus(), observation, generation=1), notes)


def reach(api: client.ApiClient, namespace: str, ds_name: str) -> list[str]:
    """One short read first: an unreachable cluster or a refused read is one clear error, not a wait for the
    lists' timeouts; a missing namespace is said as such."""
    try:
        client.AppsV1Api(api).list_namespaced_daemon_set(namespace, field_selector=f"metadata.name={ds_name}",
                                                         limit=1, _request_timeout=REACH_SECONDS)
    except ApiException as exc:
        raise ClusterUnavailable(f"the cluster refused to list DaemonSets in {namespace}: {exc.status} "
                                 f"{exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterUnavailable(f"cannot reach the cluster at {api.configuration.host}: "
                                 f"{type(exc).__name__}") from exc
    try:
        client.CoreV1Api(api).read_namespace(namespace, _request_timeout=REACH_SECONDS)
    except ApiException as exc:
        if exc.status == 404:
            return [f"namespace {namespace} not found"]
    return []


def describe_action(action: act.Action) -> str:
    if isinstance(action, act.TakeOwnership):
        images = ", ".join(f"{c}={i}" for c, i in action.target_images.items())
        return f"set the DaemonSet to OnDelete with {images}"
    return repr(action)


def protections(spec: models.UpgradePlanSpec, status) -> list[str]:
    """What protects the workloads while the plan runs (in-flight taint, change freeze), one line each."""
    size = status.plan.max_unavailable if status.plan else 1
    if not spec.rollout.taint_in_flight:
        taint = "off (spec.rollout.taintInFlight: false)"
    elif any(c.id == in_flight_taint.CHECK_ID and c.result == "Failed" for c in status.checks):
        taint = f"not used: the agent does not tolerate it (check {in_flight_taint.CHECK_ID})"
    else:
        taint = (f"{IN_FLIGHT_TAINT_KEY}:NoSchedule on each node from its agent pod's deletion until its health "
                 f"gate passes (at most {size} node(s) at once, the canary alone first); no new pod lands there "
                 "meanwhile")
    freeze = spec.change_freeze
    if freeze.mode is models.FreezeMode.off:
        frozen = "off (spec.changeFreeze.mode)"
    else:
        where = (f"namespaces matching {selector_text(freeze.namespace_selector)}" if freeze.namespace_selector
                 else "every namespace but kube-system, kube-public, kube-node-lease and the operator's")
        objects = f", objects matching {selector_text(freeze.object_selector)}" if freeze.object_selector else ""
        verb = "refused" if freeze.mode is models.FreezeMode.deny else "warned about"
        frozen = (f"{freeze.mode.value}: creates and updates of Deployments, StatefulSets, DaemonSets and Services in "
                  f"{where}{objects} are {verb} from the plan's first change to its end (not the operator's, the "
                  "plan's ServiceAccount's or the control plane's)")
    return [f"in-flight taint: {taint}", f"change freeze: {frozen}"]


def selector_text(selector: models.LabelSelector) -> str:
    parts = [f"{k}={v}" for k, v in sorted(selector.match_labels.items())]
    parts += [f"{r.key} {r.operator.value} ({', '.join(r.values)})" if r.values else f"{r.key} {r.operator.value}"
              for r in selector.match_expressions]
    return ", ".join(parts) or "(everything)"


def render(result: Preview, out: TextIO) -> None:
    status = result.decision.status
    ready = next((c for c in status.conditions if c.type == "Ready"), None)
    out.write(f"UpgradePlan {result.name}: {result.spec.plugin} "
              f"{status.from_version or '?'} -> {result.spec.target_version}\n")
    out.write(f"  would be: {status.phase.value if status.phase else '?'}"
              f"{f' ({ready.message})' if ready and ready.message else ''}\n")
    for note in result.notes:
        out.write(f"  {note}\n")
    for condition in status.conditions:
        if condition.type in ("PreflightPassed",):
            out.write(f"  {condition.type}: {condition.status} - {condition.message}\n")
    headroom = next((c for c in status.checks if c.id.endswith(HEADROOM_SUFFIX)), None)
    if status.checks:
        out.write("  checks (in the vendor's order):\n")
        for check in status.checks:
            out.write(f"    [{check.result:7}] {check.severity:7} {check.id}: {check.message}\n")
            if check.objects and check is not headroom:  # its rows make the table below
                out.write(f"              objects: {', '.join(check.objects)}\n")
            if check.remediation:
                out.write(f"              fix: {check.remediation}\n")
            if check.after_upgrade:
                out.write(f"              after the upgrade: {check.after_upgrade}\n")
    if status.target_images:
        out.write("  images:\n")
        for container, image in status.target_images.items():
            out.write(f"    {container}: {status.previous_images.get(container)} -> {image}\n")
    plan = status.plan
    if plan:
        out.write(f"  batches (at most {plan.max_unavailable} node(s) each):\n")
        for index, batch in enumerate(plan.batches):
            label = "canary" if index < plan.canary_batches else f"batch {index + 1}"
            out.write(f"    {label:>9}: {', '.join(batch)}\n")
        for excluded in plan.excluded:
            out.write(f"    excluded: {excluded}\n")
    if headroom and headroom.objects:
        out.write("  IP headroom for restarts (tightest first):\n" + "".join(f"    {row}\n" for row in headroom.objects))
    out.write("  while it runs:\n" + "".join(f"    {line}\n" for line in protections(result.spec, status)))
    first = [describe_action(a) for a in result.decision.actions]
    if first:
        out.write("  first step when applied:\n" + "".join(f"    - {line}\n" for line in first))
    out.write(f"  previewed at {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}; nothing was changed\n")
