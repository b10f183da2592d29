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
from cniupgrade.api import roster as roster_api
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


def definition(kind: str, plural: str, singular: str, short_names: list[str], schema: dict, columns: list[dict],
               subresources: dict | None = None) -> dict:
    """A namespaced CRD of our group with one served and stored version."""
    version = {"name": models.VERSION, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    if subresources is not None:
        version["subresources"] = subresources
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{models.GROUP}"},
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": singular, "shortNames": short_names,
                      "categories": ["cniupgrade"]},
            "versions": [{**version, "additionalPrinterColumns": columns}],
        },
    }


def crd(plugins: Iterable[str]) -> dict:
    return definition(models.KIND, models.PLURAL, models.SINGULAR, models.SHORT_NAMES, openapi_schema(plugins),
                      PRINTER_COLUMNS, subresources={"status": {}})


def roster_crd() -> dict:
    """UpgradePlanRoster: a large plan's node names, out of its status (api/roster.py)."""
    schema = {
        "type": "object",
        "description": "A shard of a large UpgradePlan's node order and exclusions, written once by the operator "
                       "and named in the plan's status.plan.roster.",
        "required": ["spec"],
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                       "spec": schema_of(roster_api.RosterSpec)}}
    columns = [{"name": "Plan", "type": "string", "jsonPath": ".spec.plan"},
               {"name": "Shard", "type": "integer", "jsonPath": ".spec.shard"},
               {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    return definition(roster_api.KIND, roster_api.PLURAL, roster_api.SINGULAR, roster_api.SHORT_NAMES, schema,
                      columns)


def render(plugins: Iterable[str], kind: str = models.KIND) -> str:
    header = "# Generated from operator/cniupgrade/api/ by `cniupgrade crd`. Do not edit.\n"
    body = crd(plugins) if kind == models.KIND else roster_crd()
    return header + yaml.safe_dump(body, sort_keys=False, width=120)
