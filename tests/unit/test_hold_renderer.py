"""The post-renderer that holds a chart's agent at OnDelete where the chart has no value for it."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from cniupgrade.kube.hold_renderer import held, post_renderer

RENDERED = """---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}
  template: {spec: {containers: [{name: a, image: r/a:2}]}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: other}
spec: {updateStrategy: {type: RollingUpdate}}
"""


def test_only_the_named_daemonset_is_held_and_the_rest_is_as_rendered():
    agent, other = yaml.safe_load_all(held(RENDERED, "agent"))
    assert agent["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert agent["spec"]["template"] == {"spec": {"containers": [{"name": "a", "image": "r/a:2"}]}}
    assert other["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


def test_a_chart_without_the_daemonset_fails_helm_instead_of_rolling_it_ungated():
    with pytest.raises(SystemExit, match="renders no DaemonSet missing"):
        held(RENDERED, "missing")


def test_helm_runs_it_as_this_interpreter_with_the_module():
    done = subprocess.run(post_renderer("agent"), input=RENDERED, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert next(yaml.safe_load_all(done.stdout))["spec"]["updateStrategy"] == {"type": "OnDelete"}
