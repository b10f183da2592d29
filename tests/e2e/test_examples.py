"""Every plan in examples/ is accepted by the real API server (the CRD's schema and CEL rules, and the namespace
boundary's admission policy), says what it shows, and is listed in examples/README.md."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from cniupgrade.api import models

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLAN_FILES = sorted(EXAMPLES.glob("*.yaml"))
BUILT_IN_PLUGINS = {"generic", "spiderpool", "uk8s-cni-vpc"}


def plan(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_every_example_says_what_it_shows_and_is_listed():
    listed = set(re.findall(r"^\| `([\w.-]+\.yaml)` \|", (EXAMPLES / "README.md").read_text(), re.M))
    assert listed == {path.name for path in PLAN_FILES}
    for path in PLAN_FILES:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# ") and len(first) > 30, path.name
        doc = plan(path)
        assert (doc["apiVersion"], doc["kind"]) == (f"{models.GROUP}/{models.VERSION}", models.KIND), path.name
        models.UpgradePlanSpec.of_plan(doc["spec"], doc["metadata"]["namespace"])  # the operator reads it too


def test_every_plugin_and_mechanism_has_an_example():
    specs = [plan(path)["spec"] for path in PLAN_FILES]
    assert {spec["plugin"] for spec in specs} == BUILT_IN_PLUGINS
    spiderpool = [spec for spec in specs if spec["plugin"] == "spiderpool"]
    assert any("chart" in spec for spec in spiderpool) and any("chart" not in spec for spec in spiderpool)
    assert any(spec["plugin"] == "generic" and "chart" in spec for spec in specs)
    assert any("window" in spec for spec in specs)
    assert any(spec.get("requireApproval") for spec in specs)
    assert any(spec.get("rollback") for spec in specs)
    assert any(spec.get("rollout", {}).get("mode") == "Batches" for spec in specs)


@pytest.fixture(scope="module")
def example_namespaces(admin_api):
    """A server dry run still needs the plan's namespace: the ones the examples name and the cluster lacks are
    created for this module and deleted after it."""
    core = client.CoreV1Api(admin_api)
    existing = {ns.metadata.name for ns in core.list_namespace().items}
    created = sorted({plan(path)["metadata"]["namespace"] for path in PLAN_FILES} - existing)
    for name in created:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield
    for name in created:
        core.delete_namespace(name)


def dry_run(kubectl, path_or_text: Path | str):
    source = ["-f", str(path_or_text)] if isinstance(path_or_text, Path) else ["-f", "-"]
    return kubectl("apply", "--server-side", "--dry-run=server", *source,
                   input=None if isinstance(path_or_text, Path) else path_or_text, check=False)


@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda path: path.name)
def test_the_api_server_accepts_the_example(kubectl, operator_policy, example_namespaces, path):
    result = dry_run(kubectl, path)
    assert result.returncode == 0, result.stderr
    assert "serverside-applied (server dry run)" in result.stdout, result.stdout


@pytest.mark.parametrize("change, refusal", [
    (lambda doc: doc["spec"]["rollout"].update(maxUnavailable=0), "must be a count of at least 1"),
    (lambda doc: doc["spec"]["rollout"].update(maxUnavailabel=1), "maxUnavailabel: field not declared in schema"),
    (lambda doc: doc["metadata"].update(namespace="{namespace}"), "outside the plan's namespace"),
], ids=["a CEL rule", "an unknown field", "the namespace boundary"])
def test_the_same_dry_run_refuses_a_broken_example(kubectl, operator_policy, example_namespaces, namespace, change,
                                                   refusal):
    """The dry run validates for real: the generic example, broken one way, is refused with the reason."""
    doc = plan(EXAMPLES / "generic-upgradeplan.yaml")
    change(doc)
    doc["metadata"]["namespace"] = doc["metadata"]["namespace"].format(namespace=namespace)
    result = dry_run(kubectl, yaml.safe_dump(doc))
    assert result.returncode != 0 and refusal in result.stderr, (result.stdout, result.stderr)
