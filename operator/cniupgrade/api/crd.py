"""Generate the UpgradePlan CustomResourceDefinition from the pydantic models.

pydantic's JSON schema is turned into a Kubernetes structural schema: `$ref`s inlined, `anyOf` with null
collapsed, `additionalProperties: false` dropped (the API server prunes and, with strict field validation,
refuses unknown fields), titles removed.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import yaml

from cniupgrade.api import models
from cniupgrade.api import status as status_api

PRINTER_COLUMNS = [
    {"name": "Plugin", "type": "string", "jsonPath": ".spec.plugin"},
    {"name": "From", "type": "string", "jsonPath": ".status.fromVersion"},
    {"name": "To", "type": "string", "jsonPath": ".spec.targetVersion"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Nodes", "type": "string", "jsonPath": ".status.progress", "description": "upgraded/planned (+left out)"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Message", "type": "string", "priority": 1,
     "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message"},
]
DROP_KEYS = {"title", "$defs", "discriminator"}


def _structural(node: Any, defs: dict) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    out: dict = {}
    for key, value in node.items():
        if key in DROP_KEYS:
            continue
        if key == "additionalProperties" and isinstance(value, bool):
            continue  # false: refused by structural schemas; true: makes the API server prune nested fields
        out[key] = _structural(value, defs)
    if "anyOf" in out:
        branches = [b for b in out.pop("anyOf") if b.get("type") != "null"]
        if out.get("x-kubernetes-int-or-string"):
            pass  # int-or-string carries no type of its own
        elif len(branches) == 1:
            out = {**branches[0], **out}
        else:
            raise ValueError(f"cannot express anyOf {branches} in a structural schema")
    if out.get("default") is None:
        out.pop("default", None)
    return out


def schema_of(model: type[models.ApiModel]) -> dict:
    raw = model.model_json_schema(by_alias=True)
    return _structural(raw, raw.get("$defs", {}))


def openapi_schema(plugins: Iterable[str]) -> dict:
    """`plugins`: the registered plugin names, which spec.plugin must be one of."""
    spec = schema_of(models.UpgradePlanSpec)
    spec["properties"]["plugin"]["enum"] = sorted(plugins)
    spec["x-kubernetes-validations"] = models.SPEC_RULES
    status = schema_of(status_api.UpgradePlanStatus)
    status["description"] = "Observed state, written by the operator."
    return {
        "type": "object",
        "description": "An UpgradePlan upgrades a CNI plugin node by node: pre-flight checks, a canary, "
                       "health-gated batches, pause, approval and rollback.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": models.ROOT_RULES,
    }


def crd(plugins: Iterable[str]) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{models.PLURAL}.{models.GROUP}"},
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {"kind": models.KIND, "plural": models.PLURAL, "singular": models.SINGULAR,
                      "shortNames": models.SHORT_NAMES, "categories": ["cniupgrade"]},
            "versions": [{
                "name": models.VERSION, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": openapi_schema(plugins)},
                "subresources": {"status": {}},
                "additionalPrinterColumns": PRINTER_COLUMNS,
            }],
        },
    }


def render(plugins: Iterable[str]) -> str:
    header = "# Generated from operator/cniupgrade/api/models.py by `cniupgrade crd`. Do not edit.\n"
    return header + yaml.safe_dump(crd(plugins), sort_keys=False, width=120)
