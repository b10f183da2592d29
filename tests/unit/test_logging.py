"""Structured logs: with --log-format json every line is one JSON object naming the plan and node."""
from __future__ import annotations

import json
import logging

import kopf

from cniupgrade.cli import build_parser


def test_json_lines_carry_plan_node_and_action_as_fields(capsys):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        kopf.configure(log_format=kopf.LogFormat.JSON)  # what `cniupgrade run --log-format json` does
        logging.getLogger("cniupgrade.kube.apply").info(
            "plan %s: %s", "ops/up", "x", extra={"plan": "ops/up", "action": "DeletePod", "node": "node-0003"})
    finally:
        root.handlers[:], root.level = saved
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "plan ops/up: x"
    assert (line["plan"], line["action"], line["node"]) == ("ops/up", "DeletePod", "node-0003")


def test_run_offers_the_operating_options():
    args = build_parser().parse_args(["run", "--log-format", "json", "--leader-elect", "--metrics-port", "0"])
    assert args.log_format == "json" and args.leader_elect and args.metrics_port == 0
