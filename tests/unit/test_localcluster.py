"""The local control plane's pure parts: stage delays, certificates, node manifests, the build cache key."""
from __future__ import annotations

import shutil

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localcluster import nodes, pki, stages, versions

STAGE = """
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {{name: {name}}}
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
  selector: {{matchExpressions: [{{key: '.metadata.deletionTimestamp', operator: DoesNotExist}}]}}
  delay:
    durationMilliseconds: 1000
    jitterDurationMilliseconds: 5000
    jitterDurationFrom: {{expressionFrom: '.metadata.deletionTimestamp'}}
    durationFrom: {{expressionFrom: '.metadata.annotations["x"]'}}
"""


@pytest.fixture
def assets(tmp_path):
    (tmp_path / "stages").mkdir()
    for name in ("pod-create", "pod-ready", "pod-delete"):
        (tmp_path / "stages" / f"{name}.yaml").write_text(STAGE.format(name=name))
    heartbeat = yaml.safe_load(STAGE.format(name=stages.NODE_HEARTBEAT_STAGE))
    heartbeat["spec"]["resourceRef"]["kind"] = "Node"
    heartbeat["spec"]["delay"] = {"durationMilliseconds": 600000, "jitterDurationMilliseconds": 610000}
    (tmp_path / "stages" / f"{stages.NODE_HEARTBEAT_STAGE}.yaml").write_text(yaml.safe_dump(heartbeat))
    return tmp_path


def test_pod_ready_waits_the_configured_delay_and_others_run_at_once(assets):
    by_name = {s["metadata"]["name"]: s["spec"]["delay"] for s in stages.load(assets, 700, 0) if "delay" in s["spec"]}
    assert by_name["pod-ready"]["durationMilliseconds"] == 700
    assert "jitterDurationMilliseconds" not in by_name["pod-ready"]
    for name in ("pod-create", "pod-delete"):
        assert by_name[name]["durationMilliseconds"] == 0
        assert "jitterDurationMilliseconds" not in by_name[name]
        assert "jitterDurationFrom" not in by_name[name]
    # per-pod overrides by annotation stay possible
    assert "durationFrom" in by_name["pod-ready"]


def test_pod_ready_skips_never_ready_images(assets):
    ready = next(s for s in stages.load(assets, 100, 0) if s["metadata"]["name"] == "pod-ready")
    expressions = ready["spec"]["selector"]["matchExpressions"]
    assert expressions[0]["key"] == ".metadata.deletionTimestamp"
    assert {"key": stages.NEVER_READY_EXPRESSION, "operator": "NotIn", "values": ["true"]} in expressions
    assert {"key": stages.UNPULLABLE_EXPRESSION, "operator": "NotIn", "values": ["true"]} in expressions
    create = next(s for s in stages.load(assets, 100, 0) if s["metadata"]["name"] == "pod-create")
    assert {"key": stages.NO_IP_EXPRESSION, "operator": "NotIn", "values": ["true"]} in create["spec"]["selector"][
        "matchExpressions"]
    failure = next(s for s in stages.load(assets, 100, 0) if s["metadata"]["name"] == "pod-image-pull-failure")
    assert "ErrImagePull" in failure["spec"]["next"]["statusTemplate"]


def test_pod_ready_jitter_is_an_upper_bound_above_the_delay(assets):
    ready = next(s for s in stages.load(assets, 500, 250) if s["metadata"]["name"] == "pod-ready")
    assert ready["spec"]["delay"]["jitterDurationMilliseconds"] == 750


def test_node_heartbeats_keep_kwoks_period_unless_told(assets):
    def delay(**kw) -> dict:
        return next(s for s in stages.load(assets, 100, 0, **kw)
                    if s["metadata"]["name"] == stages.NODE_HEARTBEAT_STAGE)["spec"]["delay"]
    assert delay() == {"durationMilliseconds": 600000, "jitterDurationMilliseconds": 610000}
    assert delay(node_heartbeat_seconds=14400) == {"durationMilliseconds": 14_400_000,
                                                   "jitterDurationMilliseconds": 14_410_000}


def test_pki_signs_a_serving_cert_for_every_apiserver_name_and_distinct_clients(tmp_path):
    created = pki.create(tmp_path / "pki")
    ca = x509.load_pem_x509_certificate(created.cert("ca").read_bytes())
    serving = x509.load_pem_x509_certificate(created.cert("apiserver").read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", pki.SERVICE_IP}

    admin = x509.load_pem_x509_certificate(created.cert("admin").read_bytes())
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    usages = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
    kcm = x509.load_pem_x509_certificate(created.cert("controller-manager").read_bytes())
    assert kcm.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:kube-controller-manager"
    assert not kcm.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)


def test_pki_keeps_existing_material(tmp_path):
    first = pki.create(tmp_path / "pki").cert("ca").read_bytes()
    assert pki.create(tmp_path / "pki").cert("ca").read_bytes() == first


def test_nodes_have_unique_names_addresses_and_spread_over_zones():
    manifests = [nodes.manifest(i) for i in range(1000)]
    names = {m["metadata"]["name"] for m in manifests}
    ips = {m["status"]["addresses"][0]["address"] for m in manifests}
    cidrs = {m["spec"]["podCIDR"] for m in manifests}
    assert len(names) == len(ips) == len(cidrs) == 1000
    zones = [m["metadata"]["labels"]["topology.kubernetes.io/zone"] for m in manifests[:6]]
    assert zones == ["zone-a", "zone-b", "zone-c"] * 2
    first = manifests[0]["metadata"]
    assert first["annotations"] == {"kwok.x-k8s.io/node": "fake"}
    assert first["labels"]["kubernetes.io/hostname"] == first["name"]


def test_cache_key_names_the_versions_and_changes_with_the_go_sources(tmp_path, monkeypatch):
    copy = tmp_path / "go"
    shutil.copytree(versions.GO_MODULES_DIR, copy)
    monkeypatch.setattr(versions, "GO_MODULES_DIR", copy)
    key = versions.cache_key()
    assert versions.KUBERNETES in key and versions.ETCD in key and versions.KWOK in key
    (copy / "kube" / "main.go").write_text((copy / "kube" / "main.go").read_text() + "\n// changed\n")
    assert versions.cache_key() != key


def test_kwok_config_spells_out_parallelism():
    from localcluster.cluster import KWOK_CONFIG

    options = yaml.safe_load(KWOK_CONFIG)["options"]
    for knob in ("podPlayStageParallelism", "nodePlayStageParallelism", "nodeLeaseParallelism"):
        assert options[knob] > 0
