"""spec.chart's sources: values from ConfigMaps and Secrets in order (Secrets' never in status, read again and
checked at the upgrade), and the chart archive from a ConfigMap or Secret checked against its digest pin."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from cniupgrade.api.models import ValuesSource
from cniupgrade.api.status import ChartRelease
from cniupgrade.kube.chart_source import (ChartSourceError, fetched_chart, read_values, release_values,
                                          secret_values, values_digest)
from tests.unit.fake_cluster import FakeCluster

NS = "ops"


def config_map(name: str, **data) -> dict:
    return {"metadata": {"name": name, "namespace": NS}, "data": data}


def secret(name: str, **data) -> dict:
    return {"metadata": {"name": name, "namespace": NS},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def source(kind: str, name: str, **kw) -> ValuesSource:
    return ValuesSource.model_validate({"kind": kind, "name": name, **kw})


def test_values_come_in_order_and_a_missing_optional_source_is_left_out():
    cluster = FakeCluster({"configmaps": [config_map("base", **{"values.yaml": "a: 1\nb: {c: 1}\n"})],
                           "secrets": [secret("creds", **{"v": "b: {c: 2}\n"})]})
    found = read_values([source("ConfigMap", "base"), source("Secret", "gone", optional=True),
                         source("Secret", "creds", key="v")], cluster, NS)
    assert [(s.name, v) for s, v in found] == [("base", {"a": 1, "b": {"c": 1}}), ("creds", {"b": {"c": 2}})]


def test_a_missing_source_or_bad_yaml_is_a_clear_error():
    cluster = FakeCluster({"configmaps": [config_map("bad", **{"values.yaml": "- a list"})]})
    with pytest.raises(ChartSourceError, match="ConfigMap ops/gone has no key values.yaml"):
        read_values([source("ConfigMap", "gone")], cluster, NS)
    with pytest.raises(ChartSourceError, match="holds no map"):
        read_values([source("ConfigMap", "bad")], cluster, NS)


def test_secret_values_rank_above_the_planned_ones_and_below_spec_values():
    chart = ChartRelease(release="r", namespace=NS, chart="c", version="1", values={"a": 1, "b": 1, "c": 1})
    assert release_values(chart, [{"a": 2, "b": 2}], {"b": 3}) == {"a": 2, "b": 3, "c": 1}
    assert release_values(chart, [], {"b": 3}) == chart.values  # spec values are in the planned ones already


def test_changed_secrets_stop_the_upgrade():
    ref = source("Secret", "creds")
    planned = ChartRelease(release="r", namespace=NS, chart="c", version="1", secret_values=[ref],
                           secret_values_digest=values_digest([{"token": "x"}]))
    same = FakeCluster({"secrets": [secret("creds", **{"values.yaml": "token: x"})]})
    assert secret_values(planned, same, NS) == [{"token": "x"}]
    changed = FakeCluster({"secrets": [secret("creds", **{"values.yaml": "token: y"})]})
    with pytest.raises(ChartSourceError, match="Secret creds changed since the plan was computed"):
        secret_values(planned, changed, NS)


def test_an_archive_in_a_secret_is_used_only_with_the_pinned_bytes():
    archive = b"\x1f\x8b not really a chart"
    cluster = FakeCluster({"secrets": [{"metadata": {"name": "chart", "namespace": NS},
                                        "data": {"chart.tgz": base64.b64encode(archive).decode()}}]})
    pinned = ChartRelease(release="r", namespace=NS, chart="c", version="1", archive="Secret/chart/chart.tgz",
                          digest="sha256:" + hashlib.sha256(archive).hexdigest())
    with fetched_chart(pinned, cluster, NS, helm=None) as path:
        assert Path(path).read_bytes() == archive
    assert not Path(path).exists()  # removed afterwards
    other = pinned.model_copy(update={"digest": "sha256:" + "0" * 64})
    with pytest.raises(ChartSourceError, match="not the pinned sha256:0000"):
        with fetched_chart(other, cluster, NS, helm=None):
            pass
    missing = pinned.model_copy(update={"archive": "ConfigMap/chart/chart.tgz"})
    with pytest.raises(ChartSourceError, match="ConfigMap ops/chart has no binaryData key chart.tgz"):
        with fetched_chart(missing, cluster, NS, helm=None):
            pass
