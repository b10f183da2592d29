"""The operator's helm chart carries copies that must not drift: the CRD, the alert rules, the package version;
and every value it takes is typed by its schema. (Rendering is tested with helm in tests/e2e/test_operator_chart.py.)"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "chart" / "cni-upgrade-operator"


def test_the_charts_crds_are_the_generated_ones_byte_for_byte():
    # helm installs crds/ as they are, never templated: a copy of `make crds`' output.
    for name in ("upgradeplan.yaml", "upgradeplanroster.yaml"):
        assert (CHART / "crds" / name).read_bytes() == (REPO / "crds" / name).read_bytes(), name


def test_the_charts_alert_rules_are_deploy_monitorings_byte_for_byte():
    assert (CHART / "files" / "alerts.rules.yaml").read_bytes() == \
        (REPO / "deploy" / "monitoring" / "alerts.rules.yaml").read_bytes()


def test_the_app_version_is_the_package_version():
    package = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == package


def leaves(values: dict, path: tuple[str, ...] = ()):
    """Each value's path; free-form maps and lists (labels, tolerations, affinity) count as one value."""
    for key, value in values.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, path + (key,))
        else:
            yield path + (key,)


def schema_of(schema: dict, root: dict, path: tuple[str, ...]) -> dict:
    for key in path:
        schema = schema["properties"][key]
        while "$ref" in schema:
            schema = root["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_value_is_typed_by_the_schema_and_no_object_takes_unknown_keys():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    root = json.loads((CHART / "values.schema.json").read_text())
    untyped = [".".join(path) for path in leaves(values)
               if not {"type", "enum", "oneOf"} & set(schema_of(root, root, path))]
    assert untyped == []
    open_objects = [".".join(path[:-1]) or "(top)" for path in leaves(values)
                    if schema_of(root, root, path[:-1]).get("additionalProperties", True) is True]
    assert open_objects == []
