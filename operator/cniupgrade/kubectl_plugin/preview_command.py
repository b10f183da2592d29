"""`kubectl cniupgrade plan -f FILE`: `cniupgrade plan` itself (cli.plan_preview: the same output, -o and exit
codes), connected to the cluster this plugin's --kubeconfig and --context name."""
from __future__ import annotations

import argparse

from cniupgrade import cli
from cniupgrade.kubectl_plugin.connection import Target, connect


def preview(args: argparse.Namespace, target: Target) -> int:
    return cli.plan_preview(args, connect=lambda: connect(target))
