"""cniupgrade: run the operator, preview a plan, or print the CRD."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from cniupgrade import __version__

EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT, EXIT_NO_CLUSTER = 0, 1, 2, 3
EXIT_RUNNER_SECONDS = 10.0  # a step in flight gets this long to end (an API call's timeout is shorter)
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
    plan.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text",
                      help="text for people; yaml or json: the status the operator would write")
    plan.epilog = ("exit codes: 0 the plan would start; 1 it is blocked (a failed check, a DaemonSet or namespace "
                   "not found); 2 bad input; 3 no cluster to ask (unreachable, no kubeconfig, a read refused)")

    crd = sub.add_parser("crd", help="print a CRD generated from the models (the UpgradePlan's by default)")
    crd.add_argument("--kind", choices=("UpgradePlan", "UpgradePlanRoster"), default="UpgradePlan")
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


def plan_preview(args: argparse.Namespace, connect=None) -> int:
    """Exit codes: 0 the plan would start, 1 it is blocked (a failed check, a DaemonSet or namespace not found),
    2 bad input (the plan file), 3 no cluster to ask (unreachable, no kubeconfig, a read refused). `connect` makes
    the API client (default: in-cluster, else $KUBECONFIG); kubectl-cniupgrade passes one for --kubeconfig and
    --context."""
    from kubernetes.config import ConfigException

    from cniupgrade import builtins, preview
    from cniupgrade.kube.client import api_client

    builtins.load_plugin_modules(args.plugin_module)
    try:
        text = sys.stdin.read() if args.filename == "-" else open(args.filename).read()
        preview.load_plan(text)  # a bad file is reported before any connection is made
    except (OSError, preview.PlanFileError, ValueError) as exc:
        return fail(EXIT_BAD_INPUT, f"error: {exc}")
    try:
        result = preview.preview((connect or api_client)(), text, security_policy(args))
    except ConfigException as exc:
        return fail(EXIT_NO_CLUSTER, f"error: no cluster to preview against (set KUBECONFIG): {exc}")
    except (preview.ClusterUnavailable, TimeoutError) as exc:
        return fail(EXIT_NO_CLUSTER, f"error: {exc}")
    except (preview.PlanFileError, ValueError) as exc:
        return fail(EXIT_BAD_INPUT, f"error: {exc}")
    status = {"status": result.decision.status.model_dump(mode="json", by_alias=True, exclude_none=True),
              **({"notes": result.notes} if result.notes else {})}
    if args.output == "yaml":
        import yaml
        yaml.safe_dump(status, sys.stdout, sort_keys=False)
    elif args.output == "json":
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        preview.render(result, sys.stdout)
    return EXIT_BLOCKED if result.blocked else EXIT_OK


def fail(code: int, message: str) -> int:
    print(message.splitlines()[0] if message else message, file=sys.stderr)
    return code


def run_operator(args: argparse.Namespace) -> int:
    from cniupgrade import malloc_arenas
    malloc_arenas.cap()  # before any thread starts

    import kopf

    from cniupgrade import builtins, policy
    from cniupgrade import handlers  # registers the handlers on import

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
    elector = None
    if args.leader_elect:
        from cniupgrade import leader
        from cniupgrade.kube.client import api_client

        elector = leader.LeaderElector(api_client(), args.leader_election_namespace, args.lease_duration,
                                       args.lease_renew_interval)
        elector.wait_for_leadership()
        elector.keep_renewing(on_lost=leader.exit_now)
    kopf.run(clusterwide=True, standalone=args.standalone, liveness_endpoint=args.liveness or None)
    # SIGTERM (kopf stops on it): every plan ends its current step and writes its status; only then is the
    # Lease given up, so the next replica starts at once and never acts beside a step of ours still running.
    log = logging.getLogger(__name__)
    if unfinished := handlers.stop_all_runners(EXIT_RUNNER_SECONDS):
        log.warning("exiting with %d plan loop(s) still in a step", unfinished)
    if elector is not None and not unfinished:
        elector.release()
    from cniupgrade.kube import event_queue
    if left := event_queue.shared().drain(EXIT_EVENT_SECONDS):
        log.warning("exiting with %d Event(s) not posted", left)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run_operator(args)
    if args.command == "plan":
        return plan_preview(args)
    if args.command == "crd":
        from cniupgrade import builtins
        from cniupgrade.api import crd
        from cniupgrade.seams.plugin import plugin_names
        builtins.load_plugin_modules(args.plugin_module)
        sys.stdout.write(crd.render(plugin_names(), args.kind))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
