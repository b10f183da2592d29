"""The Grafana dashboard's structure, and the PromQL reading (tests/promql_names.py) that lets
tests/e2e/test_dashboard.py check every metric name of the dashboard and of the alert rules against the operator's
live /metrics."""
from __future__ import annotations

import re
import subprocess
from typing import Iterator

import pytest
import yaml

from tests.promql_names import (LABEL_VALUES, Selector, dashboard, exported, metric_names, panels, problems, queries,
                                selectors, variable_selector)
from tests.unit.test_alerts import promtool

# --- the name reading itself -------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr, names", [
    ("up", {"up"}),
    ('cniupgrade_nodes{state="upgraded"} / ignoring(state) cniupgrade_nodes{state="planned"}', {"cniupgrade_nodes"}),
    ("sum by (namespace, plan) (rate(cniupgrade_reconcile_passes_total[5m]))", {"cniupgrade_reconcile_passes_total"}),
    ("sum(rate(a_total[$__rate_interval])) without (instance) > bool 0", {"a_total"}),
    ("histogram_quantile(0.95, sum by (le) (rate(x_bucket{job=~\"$job\"}[1h30m:1m] offset 5m)))", {"x_bucket"}),
    ('max by (ns) ({__name__=~"a_seconds|b_seconds", ns="x"}) and on (ns) group_left(phase) c', {"a_seconds",
                                                                                                "b_seconds", "c"}),
    ('label_replace(m, "dst", "$1", "src", "(.*)") unless m2 or ON(x) m3', {"m", "m2", "m3"}),
    ("topk(5, count_values(\"v\", build_info)) * 1e3 + Inf - NaN", {"build_info"}),
    ('{"quoted.name", le="1"}', {"quoted.name"}),
    ("time() - m @ start()", {"m"}),
    ("m # a comment naming not_a_metric\n+ n", {"m", "n"}),
])
def test_names_are_read_from_promql(expr, names):
    assert metric_names(expr) == names


def test_a_variable_query_asks_for_its_label():
    assert variable_selector("label_values(m, namespace)") == 'm{namespace=~".+"}'
    assert variable_selector('label_values(m{a=~"$a"}, plan)') == 'm{a=~"$a", plan=~".+"}'
    assert selectors(variable_selector("label_values(m, namespace)")) == [Selector(("m",), (("namespace", "=~",
                                                                                               ".+"),))]
    assert variable_selector("label_values(namespace)") is None


def test_matchers_are_kept_by_selector():
    found = selectors('a{state="failed", plan=~"$plan"} / on() b{__name__!="c"}')
    assert found == [Selector(("a",), (("state", "=", "failed"), ("plan", "=~", "$plan"))), Selector(("b",), ())]


@pytest.mark.parametrize("expr", ['{__name__=~"cniupgrade_.*"}', "a{b}", "a{", "a ? b", '{job="x"}'])
def test_what_cannot_be_checked_is_refused_not_skipped(expr):
    with pytest.raises(ValueError):
        selectors(expr)


@pytest.fixture
def operator_exposition():
    """What this code's registry serves once a plan has been observed (tests/e2e/test_dashboard.py scrapes the live
    operator instead)."""
    from prometheus_client import generate_latest

    from cniupgrade import metrics
    from cniupgrade.api.status import Counts, NodeResult, NodeState, Phase, UpgradePlanStatus

    node = NodeResult(name="n1", state=NodeState.upgraded, started_at="2026-11-23T12:00:00Z",
                      finished_at="2026-11-23T12:00:07Z")
    metrics.observe("dash", "p", "generic", UpgradePlanStatus(phase=Phase.rolling, counts=Counts(total=1, upgraded=1)),
                    [node])
    yield generate_latest(metrics.REGISTRY).decode()
    metrics.forget("dash", "p")


def test_every_name_label_and_value_queried_is_served_by_the_metrics_code(operator_exposition):
    assert problems(queries(), exported(operator_exposition)) == []


@pytest.mark.parametrize("wrong, caught", [
    ("cniupgrade_plan_phaze", "cniupgrade_plan_phaze is not exported"),
    ("cniupgrade_node_upgrade_duration_seconds", "cniupgrade_node_upgrade_duration_seconds is not exported"),
    ("cniupgrade_reconcile_errors", "cniupgrade_reconcile_errors is not exported"),  # a counter is read as _total
    ('cniupgrade_nodes{staet="failed"}', "cniupgrade_nodes has no label staet"),
    ('cniupgrade_nodes{state="rolledback"}', "cniupgrade_nodes{state} never has ['rolledback']"),
    ('cniupgrade_plan_phase{phase=~"Rolling|Canery"}', "cniupgrade_plan_phase{phase} never has ['Canery']"),
    ('{__name__=~"cniupgrade_plan_stalled|cniupgrade_plan_stale"}', "cniupgrade_plan_stale is not exported"),
])
def test_a_wrong_name_label_or_value_is_caught(operator_exposition, wrong, caught):
    found = problems(queries() + [("a deliberate mistake", f"max({wrong})")], exported(operator_exposition))
    assert len(found) == 1 and found[0].startswith(f"a deliberate mistake: {caught}"), found


def test_a_family_without_samples_is_exported_with_its_suffixes():
    text = "# HELP c_total C.\n# TYPE c_total counter\n# HELP h H.\n# TYPE h histogram\n"
    assert exported(text) == {"c_total": None, "c_created": None, "h_bucket": None, "h_count": None, "h_sum": None,
                              "h_created": None}


# --- the dashboard ------------------------------------------------------------------------------------------------

GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
                    "__from", "__to", "__dashboard", "__org", "__user", "__name"}
_VARIABLE_USE = re.compile(r"\$\{(\w+)(?:[:.][^}]*)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_the_dashboard_is_a_current_grafana_dashboard_with_its_variables():
    board = dashboard()
    assert 39 <= board["schemaVersion"] <= 43  # Grafana 11 and 12; later versions migrate it on load
    assert board["uid"] and len(board["uid"]) <= 40 and board["id"] is None and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert len(variables) == len(board["templating"]["list"])
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name, label in (("namespace", "namespace"), ("plan", "plan")):
        variable = variables[name]
        assert variable["type"] == "query" and variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert variable["definition"] == variable["query"]["query"]
        assert LABEL_VALUES.match(variable["query"]["query"])["label"] == label


def test_every_panel_queries_the_chosen_prometheus_and_ids_are_unique():
    board = dashboard()
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), ids
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        where = f"panel {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], where
        assert all(t["expr"].strip() and t["datasource"] == panel["datasource"] for t in panel["targets"]), where
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where


def test_every_variable_used_exists_and_every_variable_is_used():
    board = dashboard()
    defined = {v["name"] for v in board["templating"]["list"]}
    used = set()
    for text in _strings({"panels": board["panels"], "templating": board["templating"]}):
        used |= {next(g for g in match.groups() if g) for match in _VARIABLE_USE.finditer(text)}
    assert used - GRAFANA_BUILTINS <= defined, sorted(used - GRAFANA_BUILTINS - defined)
    assert defined <= used, sorted(defined - used)


def test_the_dashboard_covers_progress_gate_times_failures_and_stalls():
    names = {name for where, expr in queries() if where.startswith("dashboard") for name in metric_names(expr)}
    assert {"cniupgrade_nodes", "cniupgrade_plan_phase", "cniupgrade_node_upgrade_duration_seconds_bucket",
            "cniupgrade_reconcile_errors_total", "cniupgrade_preflight_findings",
            "cniupgrade_last_progress_timestamp_seconds", "cniupgrade_plan_stalled"} <= names
    exprs = [expr for where, expr in queries() if where.startswith("dashboard panel")]
    assert any("histogram_quantile(0.5," in e for e in exprs) and any("histogram_quantile(0.95," in e for e in exprs)


def _as_prometheus_sees_it(expr: str) -> str:
    """Grafana's variables as Prometheus receives them for 'All' and a 5m rate interval."""
    return re.sub(r"\$__rate_interval|\$__interval|\$__range", "5m", expr).replace("$namespace", ".*").replace(
        "$plan", ".*")


def test_promtool_parses_every_dashboard_query(tmp_path):
    """Each query as a recording rule: promtool's parser is Prometheus's own."""
    rules = [{"record": f"dashboard:query_{index}", "expr": _as_prometheus_sees_it(expr)}
             for index, (where, expr) in enumerate(queries()) if where.startswith("dashboard")]
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    check = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
