"""The chart path's values: the user's carried over (Spiderpool's 1.0.0 renames), merged as helm merges -f files,
and what a target chart changes against the release's manifest."""
from __future__ import annotations

from cniupgrade.kube.chart import changes, values_diff, workload_images
from cniupgrade.kube.chart_source import merged
from cniupgrade.plugins.spiderpool.values import carry_values


def test_keys_renamed_at_1_0_0_move_and_removed_ones_go_when_the_upgrade_crosses_it():
    values = {"ipam": {"enableSpiderSubnet": True, "subnetDefaultFlexibleIPNumber": 3,
                       "enableCleanOutdatedEndpoint": True}, "spiderpoolController": {"replicas": 2}}
    assert carry_values(values, "0.9.5", "1.0.0") == {
        "ipam": {"spiderSubnet": {"enable": True, "autoPool": {"defaultRedundantIPNumber": 3}}},
        "spiderpoolController": {"replicas": 2}}
    assert carry_values(values, "0.9.5", "0.9.13") == values  # not crossing: as they are
    assert carry_values(values, "1.0.0", "1.2.2") == values
    assert values["ipam"]["enableSpiderSubnet"] is True  # the input is not changed


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
