"""The plugin's command line. kubectl hands a plugin its arguments and none of its own flags' effects, so -n,
--kubeconfig and --context are read here, before or after the subcommand as kubectl users place them."""
from __future__ import annotations

import argparse

from cniupgrade import __version__, cli

PROG = "kubectl cniupgrade"
EXIT_CODES = ("exit codes: 0 done; 1 blocked (plan: a failed check; status --watch: the plan ended Failed or "
              "RolledBack; retry: the plan is not Failed or RolledBack); 2 bad input (no such plan or namespace, "
              "a bad plan file, a change the API server refused); 3 no cluster to ask (no kubeconfig, "
              "unreachable, credentials refused, forbidden, UpgradePlans not served)")
APPROVE_WAIT_SECONDS = 60.0


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """SUPPRESS: a flag given before the subcommand is not reset by the subcommand's default."""
    parser.add_argument("-n", "--namespace", default=argparse.SUPPRESS,
                        help="the plan's namespace (default: the context's, else default)")
    parser.add_argument("--kubeconfig", default=argparse.SUPPRESS,
                        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context (default: the current one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Follow and steer cniupgrade.io UpgradePlans.",
                                     epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"kubectl-cniupgrade {__version__}")
    add_cluster_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, plan: bool = True) -> argparse.ArgumentParser:
        parsed = sub.add_parser(name, help=help_, description=help_, epilog=EXIT_CODES)
        add_cluster_options(parsed)
        if plan:
            parsed.add_argument("plan", metavar="PLAN", help="the UpgradePlan's name")
        return parsed

    status = command("status", "the plan's phase, progress, current batch, nodes in flight and failed, counts")
    status.add_argument("-w", "--watch", action="store_true",
                        help="follow it until it ends (Succeeded, Failed, RolledBack): redrawn in place on a "
                             "terminal, one line per change otherwise")

    preview = command("plan", "preview a plan file against the cluster, changing nothing (as `cniupgrade plan`; "
                              "the file names the namespace)", plan=False)
    preview.add_argument("-f", "--filename", required=True, help="UpgradePlan manifest ('-' for stdin)")
    preview.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text",
                         help="text for people; yaml or json: the status the operator would write")
    preview.add_argument("--plugin-module", action="append", default=None, metavar="MODULE",
                         help="import MODULE, which registers a plugin of its own (repeatable)")
    cli.add_policy_arguments(preview)

    approve = command("approve", "set spec.approved: true (an approval left from an earlier spec is renewed)")
    approve.add_argument("--timeout", type=float, default=APPROVE_WAIT_SECONDS,
                         help="seconds to wait for the operator to take approved: false when renewing")
    command("pause", "set spec.paused: true: nodes in flight finish, no new node starts")
    command("resume", "set spec.paused: false")
    command("retry", "retry a Failed or RolledBack plan (a new cniupgrade.io/retry value)")
    rollback = command("rollback", "roll the plan back, in any phase (a new cniupgrade.io/rollback value)")
    rollback.add_argument("--reason", default="", help="why, kept in status.rollback.reason with who asked")
    return parser
