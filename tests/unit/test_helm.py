"""Reading helm releases from their storage Secrets and ConfigMaps."""
from __future__ import annotations

import base64
import gzip
import json

import pytest

from cniupgrade.plugins.helm import HelmReleaseError, current_release, decode_release, encode_release


def release_json(revision: int, status: str, version: str, config: dict | None = None) -> dict:
    return {"name": "spiderpool", "version": revision, "info": {"status": status},
            "chart": {"metadata": {"name": "spiderpool", "version": version, "appVersion": version},
                      "values": {"ipam": {"enableSpiderSubnet": False}}},
            "config": config or {}, "manifest": "---"}


def storage(doc: dict, kind: str = "Secret") -> dict:
    encoded = base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()  # what helm writes
    if kind == "Secret":
        encoded = base64.b64encode(encoded.encode()).decode()  # the API's own base64 of Secret data
    return {"kind": kind, "metadata": {"name": f"sh.helm.release.v1.spiderpool.v{doc['version']}",
                                       "labels": {"owner": "helm", "name": "spiderpool", "status": doc["info"]["status"],
                                                  "version": str(doc["version"])}},
            "data": {"release": encoded}}


def test_secret_and_configmap_drivers_decode_to_the_same_release():
    doc = release_json(3, "deployed", "0.9.4", {"ipam": {"enableSpiderSubnet": True}})
    from_secret = current_release([storage(doc)], "spiderpool")
    from_configmap = current_release([storage(doc, "ConfigMap")], "spiderpool")
    assert from_secret == from_configmap
    assert from_secret.chart_version == "0.9.4" and from_secret.revision == 3
    assert from_secret.value("ipam.enableSpiderSubnet") is True
    assert from_secret.value("ipam.missing.key", "dflt") == "dflt"


def test_the_newest_deployed_revision_wins_over_newer_failed_ones():
    objects = [storage(release_json(1, "superseded", "0.8.0")), storage(release_json(2, "deployed", "0.9.4")),
               storage(release_json(3, "failed", "1.0.0"))]
    assert current_release(objects, "spiderpool").chart_version == "0.9.4"
    assert current_release(objects, "other-release") is None


def test_undecodable_data_is_a_clear_error():
    with pytest.raises(HelmReleaseError):
        decode_release(base64.b64encode(b"not base64 twice").decode())
    assert decode_release(base64.b64encode(base64.b64encode(json.dumps({"a": 1}).encode())).decode()) == {"a": 1}


def test_a_release_encoded_for_a_secret_decodes_to_itself():
    doc = {"name": "spiderpool", "version": 2, "info": {"status": "failed"}, "config": {"a": [1, 2]}}
    assert decode_release(encode_release(doc)) == doc
