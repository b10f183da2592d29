"""The bench's audit log reading: node writes during a run, by user, and the policy that logs them."""
from __future__ import annotations

import json

import yaml

from bench.audit import node_writes_between
from localcluster.cluster import audit_policy


def entry(user, verb, resource, at):
    return json.dumps({"user": {"username": user}, "verb": verb, "objectRef": {"resource": resource},
                       "requestReceivedTimestamp": at})


def test_node_writes_are_counted_by_user_within_the_run(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_text("\n".join([
        entry("system:node:kwok", "patch", "nodes", "2026-12-03T10:00:05Z"),
        entry("system:node:kwok", "update", "nodes", "2026-12-03T10:00:06Z"),
        entry("operator", "patch", "nodes", "2026-12-03T10:00:07Z"),
        entry("operator", "delete", "pods", "2026-12-03T10:00:07Z"),  # not a node write
        entry("system:node:kwok", "patch", "nodes", "2026-12-03T10:01:00Z"),  # after the run
    ]) + "\n")
    start = 1796292000.0  # 2026-12-03T10:00:00Z
    assert node_writes_between(log, start, start + 30) == {"system:node:kwok": 2, "operator": 1}


def test_the_policy_logs_node_writes_of_anyone_only_when_asked():
    rules = yaml.safe_load(audit_policy(("operator",), node_writes=True))["rules"]
    assert {"level": "Metadata", "verbs": ["update", "patch"],
            "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}]} in rules
    assert rules[-1] == {"level": "None"}
    assert len(yaml.safe_load(audit_policy(("operator",)))["rules"]) == 2
