"""The metric names, labels and values a PromQL expression (in the Grafana dashboard and the alert rules) asks
for, and whether a /metrics exposition serves them: shared by the dashboard's unit and e2e tests."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator, NamedTuple

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RULE_FILES = (MONITORING / "alerts.rules.yaml", MONITORING / "prometheusrule.yaml")

# --- reading PromQL ----------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[[\w:.]+\]\])            # Grafana's, replaced before Prometheus sees them
  | (?P<number>(?:\d+(?:ms|[smhdwy]))+|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>@,:(){}\[\]])
""", re.X)
# Keywords are case-insensitive in PromQL; by/without/on/ignoring/group_left/group_right take a list of labels.
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"} | _LABEL_LISTS
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCH_OPS = {"=", "!=", "=~", "!~"}


class Selector(NamedTuple):
    """One vector selector: the metric names it reads (one, or several from a __name__ regex alternation) and its
    other label matchers as (label, op, value)."""
    names: tuple[str, ...]
    matchers: tuple[tuple[str, str, str], ...]


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(expr):
        match = _TOKEN.match(expr, at)
        if not match:
            raise ValueError(f"cannot read PromQL at {expr[at:at + 30]!r} in {expr!r}")
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group()))
        at = match.end()
    return tokens


def _unquote(text: str) -> str:
    return text[1:-1] if text[0] == "`" else re.sub(r"\\(.)", r"\1", text[1:-1])


def _closing(tokens: list[tuple[str, str]], at: int, open_: str, close: str) -> int:
    """The index of the token closing the bracket opened at `at`."""
    depth = 0
    for index in range(at, len(tokens)):
        depth += {open_: 1, close: -1}.get(tokens[index][1], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced {open_!r} in {' '.join(t for _, t in tokens)!r}")


def _matchers(tokens: list[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The inside of {...}: the metric names it gives (quoted, or through __name__) and the other matchers."""
    names, matchers = [], []
    items, item = [], []
    for token in tokens:
        if token[1] == ",":
            items.append(item)
            item = []
        else:
            item.append(token)
    items.append(item)
    for item in (i for i in items if i):
        if len(item) == 1 and item[0][0] == "string":  # {"metric.name", ...}
            names.append(_unquote(item[0][1]))
            continue
        if len(item) != 3 or item[0][0] not in ("ident", "string") or item[1][1] not in _MATCH_OPS \
                or item[2][0] != "string":
            raise ValueError(f"cannot read the label matcher {' '.join(t for _, t in item)!r}")
        label = item[0][1] if item[0][0] == "ident" else _unquote(item[0][1])
        op, value = item[1][1], _unquote(item[2][1])
        if label != "__name__":
            matchers.append((label, op, value))
        elif op == "=":
            names.append(value)
        elif op == "=~":
            alternatives = value.split("|")
            if not all(_IDENT.fullmatch(a) for a in alternatives):
                raise ValueError(f"__name__=~{value!r}: only an alternation of plain names can be checked")
            names.extend(alternatives)
        # != and !~ on __name__ name no metric
    return names, matchers


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of a PromQL expression (Grafana variables allowed): functions, aggregations, keywords,
    label lists of by/without/on/ignoring/group_*, label matchers, ranges, strings and numbers are no names."""
    tokens, found, at = _tokens(expr), [], 0
    while at < len(tokens):
        kind, text = tokens[at]
        after = tokens[at + 1] if at + 1 < len(tokens) else ("", "")
        if text == "[":  # a range or subquery: durations and Grafana's $__rate_interval
            at = _closing(tokens, at, "[", "]")
        elif text == "{":  # a selector without a name before its braces
            end = _closing(tokens, at, "{", "}")
            names, matchers = _matchers(tokens[at + 1:end])
            if not names:
                raise ValueError(f"a selector without a metric name in {expr!r}")
            found.append(Selector(tuple(names), tuple(matchers)))
            at = end
        elif kind == "ident" and text.lower() in _LABEL_LISTS:
            if after[1] == "(":
                at = _closing(tokens, at + 1, "(", ")")
        elif kind == "ident" and text.lower() in _KEYWORDS:
            pass
        elif kind == "ident" and (after[1] == "(" or after[1].lower() in ("by", "without")):
            pass  # a function, or an aggregation with its grouping first: sum by (x) (...)
        elif kind == "ident":
            matchers: list[tuple[str, str, str]] = []
            names = [text]
            if after[1] == "{":
                end = _closing(tokens, at + 1, "{", "}")
                more, matchers = _matchers(tokens[at + 2:end])
                names += more
                at = end
            found.append(Selector(tuple(names), tuple(matchers)))
        at += 1
    return found


def metric_names(expr: str) -> set[str]:
    return {name for selector in selectors(expr) for name in selector.names}


# --- what the dashboard and the rules query ----------------------------------------------------------------------

def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(board: dict) -> Iterator[dict]:
    """Every panel, rows' nested panels included."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+),\s*)?(?P<label>\w+)\s*\)\s*$", re.S)


def variable_selector(query: str) -> str | None:
    """A Grafana label_values(selector, label) variable query as a PromQL selector that also asks for the label
    (label=~".+"), so the label is checked too; None for label_values(label), which reads every series."""
    match = LABEL_VALUES.match(query)
    if not match:
        raise ValueError(f"not a label_values() query: {query!r}")
    if not match["selector"]:
        return None
    selector, wanted = match["selector"].strip(), f'{match["label"]}=~".+"'
    return selector[:-1] + f", {wanted}}}" if selector.endswith("}") else selector + f"{{{wanted}}}"


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every query of the dashboard's panels and variables and of both alert rule files."""
    board, found = dashboard(), []
    for panel in panels(board):
        found += [(f"dashboard panel {panel['title']!r} {t['refId']}", t["expr"]) for t in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            selector = variable_selector(variable["query"]["query"])
            if selector:
                found.append((f"dashboard variable {variable['name']}", selector))
    for path in RULE_FILES:
        doc = yaml.safe_load(path.read_text())
        groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
        found += [(f"{path.name} {rule.get('alert') or rule.get('record')}", rule["expr"])
                  for group in groups for rule in group["rules"]]
    return found


# Series Prometheus itself adds to every scrape target: no exporter serves them.
PROMETHEUS_MADE = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
                   "scrape_samples_post_metric_relabeling"}
# The series names a family of each type puts in Prometheus (prometheus_client's parser drops a counter's _total).
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
             "gaugehistogram": ("_bucket", "_gcount", "_gsum"), "summary": ("", "_count", "_sum", "_created")}
_PLAIN_ALTERNATION = re.compile(r"[\w.-]+(\|[\w.-]+)*")


def exported(exposition: str, into: dict[str, dict[str, set[str]] | None] | None = None) \
        -> dict[str, dict[str, set[str]] | None]:
    """Series name -> label -> the values seen, from a /metrics text (merged into `into`). None: the family is
    declared but has no sample yet (a labelled counter before its first increment), so its labels are unknown."""
    series = {} if into is None else into
    for family in text_string_to_metric_families(exposition):
        for suffix in _SUFFIXES.get(family.type, ("",)):
            series.setdefault(family.name + suffix, None)
        for sample in family.samples:
            labels = series.get(sample.name) or {}
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(value)
            series[sample.name] = labels
    return series


def problems(queries_: list[tuple[str, str]], series: dict[str, dict[str, set[str]] | None]) -> list[str]:
    """What the queries read that the exposition does not give: a metric name, a label of it, or a literal label
    value (= or a plain a|b alternation) never seen. Values with Grafana variables are not checked."""
    found = []
    for where, expr in queries_:
        for selector in selectors(expr):
            for name in selector.names:
                if name in PROMETHEUS_MADE:
                    continue
                if name not in series:
                    found.append(f"{where}: {name} is not exported")
                    continue
                labels = series[name]
                for label, op, value in selector.matchers if labels is not None else ():
                    if label not in labels:
                        found.append(f"{where}: {name} has no label {label} (only {sorted(labels)})")
                    elif "$" not in value and (op == "=" or op == "=~" and _PLAIN_ALTERNATION.fullmatch(value)):
                        unseen = sorted(set(value.split("|")) - labels[label])
                        if unseen:
                            found.append(f"{where}: {name}{{{label}}} never has {unseen}")
    return found
