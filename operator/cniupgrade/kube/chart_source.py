"""Where spec.chart's chart and values come from: the chart archive fetched to a local file (HTTP repository, OCI
registry, or a ConfigMap/Secret beside the plan) and checked against its digest pin; values read from the
ConfigMaps and Secrets spec.chart.valuesFrom names. All reads are made as the plan's account."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import yaml

from cniupgrade.api.models import ValuesSource, ValuesSourceKind
from cniupgrade.api.status import ChartRelease
from cniupgrade.kube.helm_cli import HelmCli, HelmError
from cniupgrade.seams.cluster import CONFIGMAPS, SECRETS, ClusterReads

ARCHIVE_KINDS = {"ConfigMap": CONFIGMAPS, "Secret": SECRETS}


class ChartSourceError(HelmError):
    """The chart or its values cannot be had as planned (missing, or not the pinned bytes): to the plan, as a
    failing helm."""


def archive_ref(config_map: str | None, secret: str | None, key: str) -> str:
    return f"ConfigMap/{config_map}/{key}" if config_map else f"Secret/{secret}/{key}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@contextmanager
def fetched_chart(chart: ChartRelease, reads: ClusterReads, plan_namespace: str, helm: HelmCli) -> Iterator[str]:
    """The target chart's archive as a local file, removed afterwards: pulled from its repository, or read from
    its ConfigMap/Secret. With a digest pin, other bytes are refused before helm reads them."""
    with tempfile.TemporaryDirectory(prefix="cniupgrade-chart-") as folder:
        if chart.archive:
            data = _archive_bytes(chart.archive, reads, plan_namespace)
            path = Path(folder) / "chart.tgz"
            path.write_bytes(data)
        else:
            path = helm.pull(chart.chart, chart.version, chart.repository, Path(folder), plain_http=chart.plain_http)
            data = path.read_bytes()
        if chart.digest and sha256(data) != chart.digest:
            raise ChartSourceError(f"chart {chart.chart}-{chart.version} from {chart.archive or chart.repository} is "
                                   f"{sha256(data)}, not the pinned {chart.digest} (spec.chart.digest)")
        yield str(path)


def _archive_bytes(ref: str, reads: ClusterReads, plan_namespace: str) -> bytes:
    kind, name, key = ref.split("/", 2)
    source = reads.get(ARCHIVE_KINDS[kind], name, plan_namespace) or {}
    data = (source.get("binaryData" if kind == "ConfigMap" else "data") or {}).get(key)
    if not data:
        field = "binaryData" if kind == "ConfigMap" else "data"
        raise ChartSourceError(f"{kind} {plan_namespace}/{name} has no {field} key {key} (the chart archive)")
    return base64.b64decode(data)


def read_values(sources: Sequence[ValuesSource], reads: ClusterReads,
                plan_namespace: str) -> list[tuple[ValuesSource, dict]]:
    """Each source with its values, in order; a missing optional source is left out."""
    found = []
    for source in sources:
        secret = source.kind is ValuesSourceKind.secret
        obj = reads.get(SECRETS if secret else CONFIGMAPS, source.name, plan_namespace) or {}
        text = None
        if secret and source.key in (obj.get("data") or {}):
            text = base64.b64decode(obj["data"][source.key]).decode()
        elif not secret:
            text = (obj.get("data") or {}).get(source.key)
            if text is None and source.key in (obj.get("binaryData") or {}):
                text = base64.b64decode(obj["binaryData"][source.key]).decode()
        if text is None:
            if source.optional:
                continue
            raise ChartSourceError(f"{source.kind.value} {plan_namespace}/{source.name} has no key {source.key} "
                                   f"(spec.chart.valuesFrom; mark it optional if it may be missing)")
        try:
            values = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ChartSourceError(f"{source.kind.value} {plan_namespace}/{source.name} key {source.key} is not "
                                   f"YAML: {exc}") from exc
        if not isinstance(values, Mapping):
            raise ChartSourceError(f"{source.kind.value} {plan_namespace}/{source.name} key {source.key} holds no "
                                   f"map of values")
        found.append((source, dict(values)))
    return found


def values_digest(values: Sequence[Mapping]) -> str:
    return sha256(json.dumps(list(values), sort_keys=True).encode())


def release_values(chart: ChartRelease, secrets: Sequence[Mapping], on_top: Mapping | None) -> dict:
    """The values helm gets: the planned ones (spec.chart.values in them already), the Secrets' over them, and
    spec.chart.values again on top (they rank above the Secrets)."""
    values = chart.values
    for layer in secrets:
        values = merged(values, layer)
    return merged(values, on_top or {}) if secrets else values


def merged(base: Mapping, over: Mapping) -> dict:
    """`over` set on top of `base`, nested maps merged (helm's own precedence for -f files)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) \
            else copy.deepcopy(value)
    return out


def secret_values(chart: ChartRelease, reads: ClusterReads, plan_namespace: str) -> list[dict]:
    """The Secrets' values as planned: read again (never stored in status) and refused when they changed since."""
    values = [v for _, v in read_values(chart.secret_values, reads, plan_namespace)]
    if chart.secret_values and values_digest(values) != chart.secret_values_digest:
        names = ", ".join(f"Secret {s.name}" for s in chart.secret_values)
        raise ChartSourceError(f"the values in {names} changed since the plan was computed "
                               f"(restore them to go on)")
    return values
