"""The chart path's values: the user's carried over (Spiderpool's renames of 0.6.0, 0.9.5 and 1.0.0), merged as helm merges -f files,
and what a target chart changes against the release's manifest."""
from __future__ import annotations

from cniupgrade.kube.chart import changes, values_diff, workload_images
from cniupgrade.kube.chart_source import merged
from cniupgrade.plugins.spiderpool.values import carry_values, changed_keys


def test_keys_renamed_at_1_0_0_move_and_removed_ones_go_when_the_upgrade_crosses_it():
    values = {"ipam": {"enableSpiderSubnet": True, "subnetDefaultFlexibleIPNumber": 3,
                       "enableCleanOutdatedEndpoint": True}, "spiderpoolController": {"replicas": 2}}
    assert carry_values(values, "0.9.5", "1.0.0") == {
        "ipam": {"spiderSubnet": {"enable": True, "autoPool": {"defaultRedundantIPNumber": 3}}},
        "spiderpoolController": {"replicas": 2}}
    assert carry_values(values, "0.9.5", "0.9.13") == values  # not crossing: as they are
    assert carry_values(values, "1.0.0", "1.2.2") == values
    assert values["ipam"]["enableSpiderSubnet"] is True  # the input is not changed


def test_an_upgrade_from_the_feature_era_crosses_every_change_in_order():
    values = {"feature": {"enableSpiderSubnet": True, "networkMode": "macvlan", "enableIPv6": False,
                          "gc": {"GcDeletingTimeOutPod": {"delay": 30, "enabled": True}}},
              "global": {"ipamBinHostPath": "/opt/cni/bin2"},
              "spiderpoolAgent": {"prometheus": {"enabled": True, "grafanaDashboard": {"install": True}}}}
    assert carry_values(values, "0.5.0", "1.2.2") == {
        "ipam": {"spiderSubnet": {"enable": True}, "enableIPv6": False,  # feature.* -> ipam.* (0.6.0) -> 1.0.0's
                 "gc": {"gcDeletingTimeOutPodDelay": 30, "GcDeletingTimeOutPod": {"enabled": True}}},  # 0.9.5
        "global": {"cniBinHostPath": "/opt/cni/bin2"},
        "spiderpoolAgent": {"prometheus": {"enabled": True}}, "grafanaDashboard": {"install": True}}
    assert carry_values(values, "0.5.0", "0.5.0") == values
    assert changed_keys(values, "0.5.0", "1.2.2") == [
        ("global.ipamBinHostPath", "now global.cniBinHostPath (0.6.0)"),
        ("spiderpoolAgent.prometheus.grafanaDashboard", "now grafanaDashboard (0.6.0)"),
        ("feature", "now ipam (0.6.0)"), ("ipam.networkMode", "removed at 0.6.0"),
        ("ipam.gc.GcDeletingTimeOutPod.enabled",
         "now ipam.gc.statelessPod.zombieOnReadyNode / zombieOnNotReadyNode"),
        ("ipam.gc.GcDeletingTimeOutPod.delay", "now ipam.gc.gcDeletingTimeOutPodDelay (0.9.5)"),
        ("ipam.enableSpiderSubnet", "now ipam.spiderSubnet.enable (1.0.0)")]


def test_keys_removed_at_1_0_0_that_came_back_later_stay_for_a_target_that_has_them():
    values = {"ipam": {"enableCleanOutdatedEndpoint": True,
                       "gc": {"statelessPod": {"enableGcRunningPodOnEmptyPodStatusIPs": True}}}}
    assert carry_values(values, "0.9.13", "1.0.2") == {}  # gone in 1.0.0-1.0.2: dropped, empty parents too
    assert carry_values(values, "0.9.13", "1.0.3") == {"ipam": {"gc": {"statelessPod": {
        "enableGcRunningPodOnEmptyPodStatusIPs": True}}}}  # back from 1.0.3
    assert carry_values(values, "0.9.13", "1.2.2") == values  # and both from 1.0.4
    assert changed_keys(values, "0.9.13", "1.2.2") == []
    assert changed_keys(values, "0.9.13", "1.0.2") == [
        ("ipam.enableCleanOutdatedEndpoint", "removed at 1.0.0"),
        ("ipam.gc.statelessPod.enableGcRunningPodOnEmptyPodStatusIPs", "removed at 1.0.0")]


def test_a_value_already_set_under_the_new_name_wins():
    values = {"ipam": {"enableSpiderSubnet": False, "spiderSubnet": {"enable": True}}}
    assert carry_values(values, "0.9.5", "1.0.0") == {"ipam": {"spiderSubnet": {"enable": True}}}


def test_values_merge_nested_maps_and_replace_the_rest():
    assert merged({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2], "e": None}}) == {
        "a": {"b": 1, "c": [2], "e": None}, "d": 1}


def test_changes_name_what_the_target_adds_removes_and_changes():
    cm = lambda name, data: {"kind": "ConfigMap", "metadata": {"name": name}, "data": data}  # noqa: E731
    assert changes([cm("a", {}), cm("b", {})], [cm("a", {"x": "1"}), cm("c", {})]) == \
        "added ConfigMap/c; removed ConfigMap/b; changed ConfigMap/a"
    assert changes([cm("a", {})], [cm("a", {})]) == "no change"


def test_workload_images_cover_init_containers():
    ds = {"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ns"}, "spec": {"template": {"spec": {
        "initContainers": [{"name": "init", "image": "r/init:2"}], "containers": [{"name": "a", "image": "r/a:2"}]}}}}
    assert workload_images([ds]) == {"DaemonSet ns/agent": {"a": "r/a:2", "init": "r/init:2"}}


def test_the_values_diff_says_what_each_key_becomes():
    before = {"ipam": {"enableSpiderSubnet": True}, "spiderpoolController": {"replicas": 2}, "old": {"x": 1}}
    after = {"ipam": {"spiderSubnet": {"enable": True}}, "spiderpoolController": {"replicas": 3}}
    assert values_diff(before, after) == (
        "values carried over: spiderpoolController.replicas: 2 -> 3; ipam.spiderSubnet.enable: True (new); "
        "ipam.enableSpiderSubnet: True (dropped); old.x: 1 (dropped)")
    assert values_diff(before, before) == "values carried over as they are"
