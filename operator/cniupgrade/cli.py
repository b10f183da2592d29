"""cniupgrade: run the operator, preview a plan, or print the CRD."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from cniupgrade import __version__

EXIT_EVENT_SECONDS = 5.0  # Events still queued at exit get this long, then are dropped (logged)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cniupgrade", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cniupgrade {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator (kopf), cluster-wide")
    run.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                     help="liveness endpoint URL (empty to disable)")
    run.add_argument("--standalone", action="store_true", help="no peering with other operator replicas")
    run.add_argument("--metrics-port", type=int, default=9090, help="Prometheus metrics port (0: off)")
    run.add_argument("--leader-elect", action="store_true",
                     help="act only while holding a Lease (for several replicas)")
    run.add_argument("--leader-election-namespace", default="cniupgrade-system")
    run.add_argument("--lease-duration", type=int, default=15, help="seconds a leader's Lease lasts unrenewed")
    run.add_argument("--lease-renew-interval", type=float, default=5.0)
    run.add_argument("--verbose", "-v", action="store_true")
    run.add_argument("--log-format", choices=("text", "json"), default="text",
                     help="json: one JSON object per line, with plan, node and action as fields")

    add_policy_arguments(run)

    plan = sub.add_parser("plan", help="preview a plan against the current cluster, changing nothing")
    add_policy_arguments(plan)
    plan.add_argument("-f", "--filename", required=True, help="UpgradePlan manifest ('-' for stdin)")
    plan.add_argument("-o", "--output", choices=("text", "yaml"), default="text",
                      help="text for people, yaml for the status the operator would write")

    crd = sub.add_parser("crd", help="print the UpgradePlan CRD generated from the models")
    for command in (run, plan, crd):
        command.add_argument("--plugin-module", action="append", default=None, metavar="MODULE",
                             help="import MODULE, which registers a plugin of its own (repeatable; default: "
                                  "$CNIUPGRADE_PLUGIN_MODULES, comma-separated)")
    return parser


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """The admin's security policy; defaults from the environment (deploy/policy.yaml's ConfigMap)."""
    from cniupgrade import policy

    default = policy.SecurityPolicy.from_env()
    parser.add_argument("--trusted-namespaces", type=policy.split_list,
                        default=tuple(sorted(default.trusted_namespaces)),
                        help="comma-separated namespaces whose plans may manage another namespace "
                             f"(default: ${policy.TRUSTED_NAMESPACES_ENV}, else cniupgrade-system)")
    parser.add_argument("--allowed-image-repositories", type=policy.split_list,
                        default=default.allowed_image_repositories,
                        help="comma-separated registries or repositories (e.g. registry.example.com/mirror) a plan's "
                             f"images may come from, beyond the plugin's own (default: ${policy.ALLOWED_IMAGES_ENV})")
    parser.add_argument("--require-image-digest", action=argparse.BooleanOptionalAction, default=default.require_digest,
                        help=f"generic-profile images must be pinned by digest (default: ${policy.REQUIRE_DIGEST_ENV})")


def security_policy(args: argparse.Namespace):
    from cniupgrade import policy

    return policy.SecurityPolicy(frozenset(args.trusted_namespaces), tuple(args.allowed_image_repositories),
                                 args.require_image_digest)


def plan_preview(args: argparse.Namespace) -> int:
    from cniupgrade import builtins, preview
    from cniupgrade.kube.client import api_client

    from kubernetes.config import ConfigException

    builtins.load_plugin_modules(args.plugin_module)
    text = sys.stdin.read() if args.filename == "-" else open(args.filename).read()
    try:
        preview.load_plan(text)  # a bad file is reported before any connection is made
        result = preview.preview(api_client(), text, security_policy(args))
    except (preview.PlanFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigException as exc:
        print(f"error: no cluster to preview against (set KUBECONFIG): {exc}", file=sys.stderr)
        return 2
    if args.output == "yaml":
        import yaml
        yaml.safe_dump({"status": result.decision.status.model_dump(mode="json", by_alias=True, exclude_none=True)},
                       sys.stdout, sort_keys=False)
    else:
        preview.render(result, sys.stdout)
    return 0


def run_operator(args: argparse.Namespace) -> int:
    import kopf

    from cniupgrade import builtins, policy
    from cniupgrade import handlers  # noqa: F401 - registers the handlers

    builtins.load_plugin_modules(args.plugin_module)
    policy.activate(security_policy(args))
    logging.getLogger(__name__).info("security policy: %s", policy.active())

    # kopf's formatter on the root logger serves kopf's own lines and ours alike.
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.JSON if args.log_format == "json"
                   else "%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.metrics_port:
        from prometheus_client import start_http_server

        from cniupgrade.metrics import REGISTRY
        start_http_server(args.metrics_port, registry=REGISTRY)
    if args.leader_elect:
        from cniupgrade import leader
        from cniupgrade.kube.client import api_client

        elector = leader.LeaderElector(api_client(), args.leader_election_namespace, args.lease_duration,
                                       args.lease_renew_interval)
        elector.wait_for_leadership()
        elector.keep_renewing(on_lost=leader.exit_now)
    kopf.run(clusterwide=True, standalone=args.standalone, liveness_endpoint=args.liveness or None)
    from cniupgrade.kube import event_queue
    if left := event_queue.shared().drain(EXIT_EVENT_SECONDS):
        logging.getLogger(__name__).warning("exiting with %d Event(s) not posted", left)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run_operator(args)
    if args.command == "plan":
        code = plan_preview(args)
        # The preview's watches (daemon threads) may still be reading their sockets: the interpreter's teardown
        # under them aborted the process (exit 134) after a complete preview. Nothing is left to clean up.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.command == "crd":
        from cniupgrade import builtins
        from cniupgrade.api import crd
        from cniupgrade.seams.plugin import plugin_names
        builtins.load_plugin_modules(args.plugin_module)
        sys.stdout.write(crd.render(plugin_names()))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
