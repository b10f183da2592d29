"""Runs one subcommand; every failure ends as one line on stderr and its exit code (failures.py)."""
from __future__ import annotations

import argparse
import sys

from cniupgrade.kubectl_plugin import arguments, control, follow, summary
from cniupgrade.kubectl_plugin.connection import Target, connect, namespace_of
from cniupgrade.kubectl_plugin.failures import EXIT_BLOCKED, EXIT_OK, PluginError
from cniupgrade.kubectl_plugin.plan_api import PlanApi

INTERRUPTED = 130  # as a shell reports Ctrl-C


def target_of(args: argparse.Namespace) -> Target:
    return Target(getattr(args, "kubeconfig", None), getattr(args, "context", None), getattr(args, "namespace", None))


def run(args: argparse.Namespace) -> int:
    target = target_of(args)
    if args.command == "plan":
        from cniupgrade.kubectl_plugin.preview_command import preview
        return preview(args, target)
    plans = PlanApi(connect(target), namespace_of(target), args.plan)
    out = sys.stdout
    if args.command == "status":
        if not args.watch:
            out.write(summary.describe(plans.get()) + "\n")
            return EXIT_OK
        ended = follow.follow(plans, follow.Printer(out))
        return EXIT_OK if (ended.get("status") or {}).get("phase") == "Succeeded" else EXIT_BLOCKED
    if args.command == "approve":
        return control.approve(plans, out, args.timeout)
    if args.command == "rollback":
        return control.rollback(plans, out, args.reason)
    return {"pause": control.pause, "resume": control.resume, "retry": control.retry}[args.command](plans, out)


def main(argv: list[str] | None = None) -> int:
    args = arguments.build_parser().parse_args(argv)
    try:
        return run(args)
    except PluginError as exc:
        print(exc.line, file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return INTERRUPTED
