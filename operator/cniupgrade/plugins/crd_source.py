"""CRDs a plugin's migration applies from a ConfigMap beside the plan (the vendor's manifests, for air-gapped
clusters and for upgrades that do not install new CRDs). Every manifest is vetted before any is applied: only
CRDs of the vendor's group, and a conversion webhook only to a Service in the plugin's namespace."""
from __future__ import annotations

import yaml

from cniupgrade.seams.cluster import CONFIGMAPS, CRDS, ClusterAccess, ClusterReads
from cniupgrade.seams.plugin import MigrationError


def crd_refusal(doc: dict, group: str, plugin_namespace: str) -> str | None:
    """Why a manifest from the CRD source is not applied (None: it is one of the vendor's CRDs). A conversion
    webhook elsewhere (a URL or another namespace's Service) would receive every object of the CRD."""
    name = (doc.get("metadata") or {}).get("name") or ""
    if doc.get("kind") != "CustomResourceDefinition" or not name.endswith("." + group) \
            or (doc.get("spec") or {}).get("group") != group:
        return f"holds {doc.get('kind')} {name}: only {group} CRDs are applied"
    conversion = (doc.get("spec") or {}).get("conversion") or {}
    if conversion.get("strategy") == "Webhook":
        client_config = (conversion.get("webhook") or {}).get("clientConfig") or {}
        service = client_config.get("service") or {}
        if client_config.get("url") or service.get("namespace") != plugin_namespace:
            where = client_config.get("url") or f"Service {service.get('namespace')}/{service.get('name')}"
            return (f"CRD {name} converts through {where}: only a Service in the plugin's namespace "
                    f"{plugin_namespace} is accepted")
    return None


def vetted_crds(reads: ClusterReads, config_map: str | None, plan_namespace: str, group: str,
                plugin_namespace: str, field: str) -> list[dict]:
    """The CRDs in ConfigMap `config_map` (read as the plan's identity), every one vetted (a bad source changes
    nothing). `field` names the spec field that sets the ConfigMap, for the error when it is not set."""
    if not config_map:
        raise MigrationError(f"{field} is not set")
    source = reads.get(CONFIGMAPS, config_map, plan_namespace)
    if source is None:
        raise MigrationError(f"ConfigMap {plan_namespace}/{config_map} not found")
    try:
        manifests = [(key, doc) for key, text in sorted((source.get("data") or {}).items())
                     for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as exc:
        raise MigrationError(f"ConfigMap {config_map}: not YAML ({exc})") from None
    if not manifests:
        raise MigrationError(f"ConfigMap {config_map} holds no manifest")
    for key, doc in manifests:
        if refusal := crd_refusal(doc if isinstance(doc, dict) else {}, group, plugin_namespace):
            raise MigrationError(f"ConfigMap {config_map}/{key}: {refusal}")
    return [doc for _, doc in manifests]


def apply_crds(acting: ClusterAccess, config_map: str | None, plan_namespace: str, group: str,
               plugin_namespace: str, field: str) -> list[str]:
    """Apply the vetted CRDs of ConfigMap `config_map` as the plan's identity; their names."""
    crds = vetted_crds(acting, config_map, plan_namespace, group, plugin_namespace, field)
    for doc in crds:
        acting.apply(CRDS, doc)
    return [doc["metadata"]["name"] for doc in crds]
