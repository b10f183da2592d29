"""Read a helm release (version and the user's values) from its storage object, without helm.

Helm 3 stores each revision in a Secret `sh.helm.release.v1.<release>.v<revision>` (type helm.sh/release.v1;
labels owner=helm, name, status, version) or, with the configmap driver, a ConfigMap of the same name.
`data.release` is base64(gzip(json)); a Secret read through the API is base64-encoded once more.
"""
from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from cniupgrade.plugins.dotted import lookup

GZIP_MAGIC = b"\x1f\x8b"
LIVE_STATUSES = ("deployed", "pending-upgrade", "pending-rollback", "pending-install", "failed", "superseded")


class HelmReleaseError(ValueError):
    pass


@dataclass(frozen=True)
class HelmRelease:
    name: str
    revision: int
    status: str
    chart_version: str
    app_version: str
    values: Mapping[str, Any] = field(default_factory=dict)  # `config`: what `helm get values` prints

    def value(self, dotted: str, default: Any = None) -> Any:
        return lookup(self.values, dotted, default)


def decode_release(data: str, from_secret: bool = True) -> dict:
    """The release JSON from a storage object's `data.release`."""
    try:
        raw = base64.b64decode(data)
        if from_secret:
            raw = base64.b64decode(raw)
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (ValueError, OSError) as exc:
        raise HelmReleaseError(f"cannot decode helm release data: {exc}") from exc


def encode_release(doc: Mapping) -> str:
    """decode_release's inverse, for a Secret's `data.release`: helm's base64(gzip(json)), base64-encoded again."""
    inner = base64.b64encode(gzip.compress(json.dumps(doc).encode()))
    return base64.b64encode(inner).decode()


def parse_release(doc: Mapping) -> HelmRelease:
    chart = (doc.get("chart") or {}).get("metadata") or {}
    return HelmRelease(name=doc.get("name", ""), revision=int(doc.get("version", 0)),
                       status=(doc.get("info") or {}).get("status", ""), chart_version=chart.get("version", ""),
                       app_version=chart.get("appVersion", ""), values=doc.get("config") or {})


def current_release(storage_objects: Iterable[Mapping], release: str) -> HelmRelease | None:
    """The newest revision of `release` that helm would treat as the installed one (deployed first)."""
    candidates = []
    for obj in storage_objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels.get("owner") != "helm" or labels.get("name") != release:
            continue
        from_secret = obj.get("kind", "Secret") == "Secret"
        data = (obj.get("data") or {}).get("release")
        if not data:
            continue
        candidates.append(parse_release(decode_release(data, from_secret)))
    if not candidates:
        return None
    deployed = [r for r in candidates if r.status == "deployed"]
    return max(deployed or candidates, key=lambda r: r.revision)
