"""The CRD is generated from the models and must be structural."""
from __future__ import annotations

from pathlib import Path

from cniupgrade import plugins  # noqa: F401 - registers the built-in plugins
from cniupgrade.api import crd
from cniupgrade.seams.plugin import plugin_names

CRD_FILE = Path(__file__).resolve().parents[2] / "crds" / "upgradeplan.yaml"
ROSTER_CRD_FILE = CRD_FILE.with_name("upgradeplanroster.yaml")


def walk(node, path="$"):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def test_crds_dir_is_up_to_date():
    assert CRD_FILE.read_text() == crd.render(plugin_names()), "crds/ is stale: run `make crds`"
    assert ROSTER_CRD_FILE.read_text() == crd.render(plugin_names(), "UpgradePlanRoster"), "run `make crds`"


def test_the_roster_schema_is_structural():
    schema = crd.roster_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "$defs" not in node, path
    assert set(schema["properties"]["spec"]["properties"]) == {"plan", "digest", "shard", "shards", "nodes",
                                                               "excluded"}


def test_schema_is_structural():
    schema = crd.openapi_schema(plugin_names())
    for path, node in walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "$defs" not in node, path
        assert not isinstance(node.get("additionalProperties"), bool), path
        assert node.get("type") != "null", path
        if "properties" in node and not path.endswith(".properties"):
            assert node.get("type") == "object", path


def test_printer_columns_and_status_subresource():
    version = crd.crd(plugin_names())["spec"]["versions"][0]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Plugin", "From", "To", "Phase", "Nodes", "Age", "Message"]
    assert columns["Message"]["priority"] == 1
    assert version["subresources"] == {"status": {}}


def test_descriptions_reach_kubectl_explain():
    rollout = crd.openapi_schema(plugin_names())["properties"]["spec"]["properties"]["rollout"]
    assert "maxUnavailable" in rollout["properties"]
    assert all(prop.get("description") for prop in rollout["properties"].values())


def test_spec_plugin_must_name_a_registered_plugin():
    plugin = crd.openapi_schema(plugin_names())["properties"]["spec"]["properties"]["plugin"]
    assert plugin["enum"] == ["generic", "spiderpool", "uk8s-cni-vpc"]
