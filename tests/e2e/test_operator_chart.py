"""The operator's helm chart (deploy/chart/cni-upgrade-operator): it lints, applies to the real apiserver, carries
the kustomize base's RBAC, policy and Deployment (compared field by field, so the two stay in sync), its schema
refuses bad values, and, installed for real, its account is as little privileged as deploy/'s."""
from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api import models
from cniupgrade.kube.helm_cli import helm_env
from localcluster import build, serviceaccount
from localcluster.objects import api_client
from localcluster.waiting import wait_for
from tests.e2e.kit import plan_body

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "chart" / "cni-upgrade-operator"
NAMESPACE = "cniupgrade-system"  # the documented install: helm install ... -n cniupgrade-system
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
MONITORING = ("ServiceMonitor", "PrometheusRule")


def helm(*args: str, check: bool = True, kubeconfig: Path | None = None) -> subprocess.CompletedProcess:
    config = [f"--kubeconfig={kubeconfig}"] if kubeconfig else []
    result = subprocess.run([str(build.ensure_helm()), *config, *args], capture_output=True, text=True,
                            timeout=180, env=helm_env())
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(*values: str, namespace: str = NAMESPACE, release: str = "cniupgrade-operator") -> list[dict]:
    """`helm template` with --set arguments; the documents, CRD included."""
    sets = [arg for value in values for arg in ("--set", value)]
    out = helm("template", release, str(CHART), "-n", namespace, "--include-crds", *sets).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_key(docs: list[dict], kinds: tuple[str, ...]) -> dict[tuple, dict]:
    return {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs if d["kind"] in kinds}


def only(docs: list[dict], kind: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def kustomized(kubectl) -> list[dict]:
    return [d for d in yaml.safe_load_all(kubectl("kustomize", str(REPO / "deploy")).stdout) if d]


@pytest.mark.parametrize("toggles", [[], ["serviceMonitor.enabled=true", "prometheusRule.enabled=true"]])
def test_the_chart_lints_strictly(toggles):
    sets = [arg for value in toggles for arg in ("--set", value)]
    result = helm("lint", "--strict", str(CHART), *sets)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout


def test_the_rendered_chart_applies_server_side(kubectl, operator_rbac):
    """A dry run persists nothing; the release namespace exists (the installed RBAC fixture made it)."""
    docs = render()
    assert sorted(d["kind"] for d in docs) == [
        "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "ConfigMap",
        "CustomResourceDefinition", "CustomResourceDefinition", "Deployment", "PodDisruptionBudget", "Role",
        "RoleBinding", "RoleBinding", "RoleBinding", "Service", "ServiceAccount", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding"]
    result = kubectl("apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-",
                     input=yaml.safe_dump_all(docs), check=False)
    assert result.returncode == 0, result.stderr
    for applied in ("deployment.apps/cniupgrade", "poddisruptionbudget.policy/cniupgrade",
                    "validatingadmissionpolicybinding.admissionregistration.k8s.io/cniupgrade-namespace-boundary"):
        assert f"{applied} serverside-applied (server dry run)" in result.stdout, result.stdout


def test_the_charts_rbac_equals_the_kustomize_base_rule_for_rule(kustomized):
    chart, base = by_key(render(), RBAC_KINDS), by_key(kustomized, RBAC_KINDS)
    assert sorted(chart) == sorted(base)
    for key, doc in base.items():
        for field in ("rules", "roleRef", "subjects"):
            assert chart[key].get(field) == doc.get(field), (key, field)


def test_the_charts_policy_service_and_deployment_match_the_kustomize_base(kustomized):
    chart = by_key(render(), ("ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                              "Service", "Deployment"))
    base = by_key(kustomized, ("ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                               "Service", "Deployment"))
    assert sorted(chart) == sorted(base)
    assert chart[("ConfigMap", NAMESPACE, "cniupgrade-policy")]["data"] == \
        base[("ConfigMap", NAMESPACE, "cniupgrade-policy")]["data"]
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        key = (kind, None, "cniupgrade-namespace-boundary")
        assert chart[key]["spec"] == base[key]["spec"], kind
    service = ("Service", NAMESPACE, "cniupgrade-metrics")
    assert chart[service]["spec"]["ports"] == base[service]["spec"]["ports"]

    deployment = ("Deployment", NAMESPACE, "cniupgrade")
    ours, theirs = chart[deployment]["spec"], base[deployment]["spec"]
    assert (ours["replicas"], ours["strategy"]) == (theirs["replicas"], theirs["strategy"]) == (
        2, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    [container] = ours["template"]["spec"]["containers"]
    [reference] = theirs["template"]["spec"]["containers"]
    # The chart names the Lease's namespace (the release's) and the pull policy; everything else is the base's.
    assert container.pop("args") == reference.pop("args") + [f"--leader-election-namespace={NAMESPACE}"]
    assert container.pop("imagePullPolicy") == "IfNotPresent"
    assert container == reference
    ours_pod = {k: v for k, v in ours["template"]["spec"].items() if k != "containers"}
    theirs_pod = {k: v for k, v in theirs["template"]["spec"].items() if k != "containers"}
    assert ours_pod == theirs_pod


def test_the_release_namespace_is_the_operators():
    """Installed elsewhere, the Lease, the policy's paramRef, the trusted list and the bindings follow it."""
    docs = render(namespace="cni-ops")
    [container] = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--leader-election-namespace=cni-ops" in container["args"]
    assert only(docs, "ConfigMap")["data"]["trustedNamespaces"] == "cni-ops,kube-system"
    assert only(docs, "ValidatingAdmissionPolicyBinding")["spec"]["paramRef"]["namespace"] == "cni-ops"
    bindings = [d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert {s["namespace"] for b in bindings for s in b["subjects"]} == {"cni-ops"}
    assert {b["metadata"]["namespace"] for b in bindings if b["kind"] == "RoleBinding"} == {"cni-ops", "kube-system"}


BAD_VALUES = {
    "replicas as words": (["--set-string", "replicas=two"], "/replicas"),
    "no replica": (["--set", "replicas=0"], "/replicas"),
    "unknown pull policy": (["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    "digest flag as text": (["--set-string", "policy.requireImageDigest=yes"], "/policy/requireImageDigest"),
    "toggle as text": (["--set-string", "serviceMonitor.enabled=on"], "/serviceMonitor/enabled"),
    "misspelt key": (["--set", "replica=3"], "replica"),
    "name not a DNS label": (["--set", "name=CNI_Upgrade"], "/name"),
    "two repositories in one entry": (["--set-json", 'policy.allowedImageRepositories=["a.io,b.io"]'],
                                      "/policy/allowedImageRepositories/0"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_a_bad_value_is_refused_by_the_schema(case):
    args, where = BAD_VALUES[case]
    for command in (["template", "cniupgrade-operator"], ["lint", "--strict"]):
        result = helm(*command, str(CHART), *args, check=False)
        assert result.returncode != 0, (command, result.stdout)
        assert "don't meet the specifications of the schema" in result.stdout + result.stderr, result.stderr
        assert where in result.stdout + result.stderr, result.stderr


def test_a_bad_namespace_template_is_refused_by_name():
    result = helm("template", "x", str(CHART), "--set", "policy.trustedNamespaces={Kube_System}", check=False)
    assert result.returncode != 0 and '"Kube_System" is not a namespace name' in result.stderr, result.stderr


@pytest.mark.parametrize("on", [(), ("serviceMonitor",), ("prometheusRule",), ("serviceMonitor", "prometheusRule")])
def test_monitoring_objects_render_only_when_enabled(on):
    docs = render(*(f"{toggle}.enabled=true" for toggle in on))
    assert sorted(d["kind"] for d in docs if d["kind"] in MONITORING) == sorted(t[0].upper() + t[1:] for t in on)


def test_the_monitoring_objects_equal_deploy_monitoring():
    docs = render("serviceMonitor.enabled=true", "prometheusRule.enabled=true")
    reference = yaml.safe_load((REPO / "deploy" / "monitoring" / "prometheusrule.yaml").read_text())
    assert only(docs, "PrometheusRule")["spec"]["groups"] == reference["spec"]["groups"]
    monitor, service = only(docs, "ServiceMonitor"), only(docs, "Service")
    reference_monitor = yaml.safe_load((REPO / "deploy" / "monitoring" / "servicemonitor.yaml").read_text())
    assert monitor["spec"]["endpoints"] == reference_monitor["spec"]["endpoints"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]

    renamed = render("name=cni-ops", "prometheusRule.enabled=true")  # the job label follows the Service's name
    exprs = [r["expr"] for g in only(renamed, "PrometheusRule")["spec"]["groups"] for r in g["rules"]]
    assert 'absent(up{job="cni-ops-metrics"} == 1)' in exprs
    assert only(renamed, "Service")["metadata"]["name"] == "cni-ops-metrics"


# --- the chart installed for real, as a second copy beside deploy/'s (its own name and namespace) ---

INSTALLED_NAME = "cniupgrade-chart-test"


@pytest.fixture(scope="module")
def installed(cluster, admin_api, operator_rbac) -> str:
    """The chart installed with helm in a throwaway namespace (the CRD is deploy/'s: --skip-crds); uninstalled
    afterwards, its cluster-scoped objects checked gone."""
    namespace = f"chart-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(admin_api)
    helm("install", "chart-test", str(CHART), "-n", namespace, "--create-namespace", "--skip-crds",
         "--set", f"name={INSTALLED_NAME}", kubeconfig=cluster.kubeconfig)
    yield namespace
    helm("uninstall", "chart-test", "-n", namespace, "--wait", "--timeout=120s", kubeconfig=cluster.kubeconfig)
    core.delete_namespace(namespace)
    selector = "app.kubernetes.io/instance=chart-test"
    rbac, admission = client.RbacAuthorizationV1Api(admin_api), client.AdmissionregistrationV1Api(admin_api)
    assert not rbac.list_cluster_role(label_selector=selector).items
    assert not rbac.list_cluster_role_binding(label_selector=selector).items
    assert not rbac.list_namespaced_role_binding("kube-system", label_selector=selector).items
    assert not admission.list_validating_admission_policy(label_selector=selector).items
    assert not admission.list_validating_admission_policy_binding(label_selector=selector).items


@pytest.fixture(scope="module")
def as_installed(cluster, installed) -> client.ApiClient:
    """The installed chart's ServiceAccount, by a token."""
    kubeconfig = cluster.dir / f"{INSTALLED_NAME}.kubeconfig"
    return api_client(serviceaccount.kubeconfig_for(cluster, installed, INSTALLED_NAME, kubeconfig))


def may(admin_api, installed: str, verb: str, group: str, resource: str, namespace: str | None = None) -> bool:
    user = f"system:serviceaccount:{installed}:{INSTALLED_NAME}"
    review = client.AuthorizationV1Api(admin_api).create_subject_access_review({
        "spec": {"user": user, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{installed}",
                                          "system:authenticated"],
                 "resourceAttributes": {"verb": verb, "group": group, "resource": resource,
                                        **({"namespace": namespace} if namespace else {})}}})
    return review.status.allowed


def test_the_installed_charts_account_has_exactly_the_grants_it_needs(admin_api, installed, namespace):
    """Allowed and refused side by side: a binding that went nowhere would fail the first half."""
    allowed = [("list", "", "nodes", None), ("patch", "apps", "daemonsets", namespace),
               ("delete", "", "pods", namespace), ("patch", "cniupgrade.io", "upgradeplans", namespace),
               ("create", "coordination.k8s.io", "leases", installed), ("impersonate", "", "serviceaccounts", None),
               ("list", "", "secrets", installed), ("list", "", "secrets", "kube-system"),
               ("get", "", "configmaps", "kube-system")]
    refused = [("create", "coordination.k8s.io", "leases", "kube-system"), ("list", "", "secrets", namespace),
               ("get", "", "secrets", "kube-system"), ("get", "", "configmaps", namespace),
               ("delete", "", "nodes", None), ("patch", "", "pods", namespace), ("delete", "apps", "deployments", None),
               ("bind", "rbac.authorization.k8s.io", "clusterroles", None),
               ("create", "rbac.authorization.k8s.io", "clusterrolebindings", None)]
    assert [a for a in allowed if not may(admin_api, installed, *a)] == []
    assert [r for r in refused if may(admin_api, installed, *r)] == []


@pytest.mark.parametrize("attempt", ["delete node", "read a secret", "list secrets here", "patch a pod",
                                     "bind cluster-admin"])
def test_a_forbidden_verb_is_really_forbidden_for_the_charts_account(admin_api, installed, as_installed, namespace,
                                                                      attempt):
    client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {"metadata": {"name": "s"},
                                                                     "stringData": {"k": "v"}})
    core, rbac = client.CoreV1Api(as_installed), client.RbacAuthorizationV1Api(as_installed)
    calls = {
        "delete node": lambda: core.delete_node("node-0000"),
        "read a secret": lambda: core.read_namespaced_secret("s", namespace),
        "list secrets here": lambda: core.list_namespaced_secret(namespace),
        "patch a pod": lambda: core.patch_namespaced_pod("any", namespace, {"metadata": {"labels": {"x": "y"}}}),
        "bind cluster-admin": lambda: rbac.create_cluster_role_binding({
            "metadata": {"name": "escalate"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                          "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": INSTALLED_NAME, "namespace": installed}]}),
    }
    with pytest.raises(ApiException) as raised:
        calls[attempt]()
    assert raised.value.status == 403
    assert f"system:serviceaccount:{installed}:{INSTALLED_NAME}" in raised.value.body
    core.list_namespaced_secret(installed)  # while in its own namespace, listing is allowed (no 403)


def test_the_installed_admission_policy_guards_the_namespace_boundary(admin_api, installed, namespace):
    """The release's policy ConfigMap is the binding's parameter: its trusted list is the release's namespace and
    kube-system. Dry runs: admission runs, nothing is stored."""
    custom = client.CustomObjectsApi(admin_api)

    def create(plan_namespace: str, target: str) -> None:
        body = plan_body(plan_namespace, name="boundary")
        body["spec"]["namespace"] = target
        custom.create_namespaced_custom_object(models.GROUP, models.VERSION, plan_namespace, models.PLURAL, body,
                                               dry_run="All")

    def refused() -> ApiException | None:
        try:  # from cniupgrade-system, which deploy/'s own policy (if installed by another test) trusts
            create("cniupgrade-system", "kube-system")
        except ApiException as exc:
            return exc
        return None

    denial = wait_for(refused, 30, "the chart's admission policy in force")  # policies take a moment to load
    assert denial.status in (403, 422)
    assert f"{INSTALLED_NAME}-namespace-boundary" in denial.body
    assert f"trusted namespace ({installed}, kube-system)" in denial.body
    try:  # a plan in the release's namespace may manage another one
        create(installed, namespace)
    except ApiException as exc:  # refused by deploy/'s own policy only, when another test installed it
        assert f"{INSTALLED_NAME}-namespace-boundary" not in exc.body and "cniupgrade-namespace-boundary" in exc.body
