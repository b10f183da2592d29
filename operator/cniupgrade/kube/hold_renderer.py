"""A helm post-renderer that holds one DaemonSet at OnDelete in what a chart renders: the chart path's hold for
charts with no value for the agent's update strategy (the generic profile). helm pipes the rendered manifests
through it: `python -m cniupgrade.kube.hold_renderer <daemonset name>`."""
from __future__ import annotations

import sys
from typing import Sequence

import yaml

ON_DELETE = {"type": "OnDelete"}


def held(manifests: str, daemon_set: str) -> str:
    documents = [d for d in yaml.safe_load_all(manifests) if d]
    found = False
    for document in documents:
        if document.get("kind") == "DaemonSet" and document.get("metadata", {}).get("name") == daemon_set:
            document.setdefault("spec", {})["updateStrategy"] = dict(ON_DELETE)
            found = True
    if not found:
        raise SystemExit(f"cniupgrade hold: the chart renders no DaemonSet {daemon_set}")
    return yaml.safe_dump_all(documents, sort_keys=False)


def post_renderer(daemon_set: str) -> list[str]:
    """helm's --post-renderer and its args: this module, run by this very interpreter."""
    return [sys.executable, "-m", __name__, daemon_set]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m cniupgrade.kube.hold_renderer <daemonset name>")
    sys.stdout.write(held(sys.stdin.read(), args[0]))


if __name__ == "__main__":
    main()
