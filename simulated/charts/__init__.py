"""Spiderpool-shaped test charts of our own (not the vendor's), in three versions that change the way the vendor's
chart does (shared/reference/spiderpool-chart.md): 1.0.0 adds an init container and env to the agent, a
ConfigMap and ClusterRole rules, renames a values key (ipam.enableSpiderSubnet -> ipam.spiderSubnet.enable) and
pins the plugins image to a commit tag; 1.2.2 adds more env. `write(version, folder)` writes one chart's source;
`repository(folder, helm)` packages all three and indexes them, for a loopback HTTP server or a ConfigMap."""
from __future__ import annotations

import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from simulated.charts.templates import TEMPLATES

NAME = "spiderpool"
VERSIONS = ("0.9.5", "1.0.0", "1.2.2")
REGISTRY = "ghcr.io"


def values(version: str) -> dict:
    """The chart's default values at `version`."""
    new = version != "0.9.5"
    ipam = {"spiderSubnet": {"enable": False}} if new else {"enableSpiderSubnet": False}
    return {
        "global": {"imageRegistryOverride": ""},
        "ipam": ipam,
        "multus": {"image": {"registry": REGISTRY, "repository": "k8snetworkplumbingwg/multus-cni",
                             "tag": "v4.1.4" if new else "v3.9.3"}},
        "plugins": {"image": {"registry": REGISTRY, "repository": "spidernet-io/spiderpool/spiderpool-plugins",
                              "tag": "3e7d4f1" if new else "v0.9.2"}},  # pinned: v<appVersion> does not exist
        "spiderpoolAgent": {
            "image": {"registry": REGISTRY, "repository": "spidernet-io/spiderpool/spiderpool-agent", "tag": ""},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}},
        "spiderpoolController": {
            "replicas": 1,
            "image": {"registry": REGISTRY, "repository": "spidernet-io/spiderpool/spiderpool-controller",
                      "tag": ""}},
    }


def write(version: str, folder: Path) -> Path:
    """The chart's source at `version` in folder/spiderpool-<version>/; returns that path."""
    chart = folder / f"{NAME}-{version}"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": NAME, "version": version, "appVersion": version,
        "description": "A Spiderpool-shaped test chart (cni-upgrade-operator's own, not the vendor's)"}))
    (chart / "values.yaml").write_text(yaml.safe_dump(values(version), sort_keys=False))
    for name, render in TEMPLATES.items():
        text = render(version)
        if text:
            (chart / "templates" / name).write_text(text)
    if version != "0.9.5":  # a CRD new at 1.0.0, in crds/: helm installs it once and never upgrades it
        (chart / "crds").mkdir(exist_ok=True)
        (chart / "crds" / "spiderclaimparameters.yaml").write_text(yaml.safe_dump(claim_parameters_crd(version)))
    return chart


def claim_parameters_crd(version: str) -> dict:
    """A CRD of the chart's crds/ folder; each version's schema names the version (to tell which was applied)."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "spiderclaimparameters.spiderpool.spidernet.io",
                         "annotations": {"spiderpool.test/chart-version": version}},
            "spec": {"group": "spiderpool.spidernet.io", "scope": "Namespaced",
                     "names": {"kind": "SpiderClaimParameter", "plural": "spiderclaimparameters",
                               "singular": "spiderclaimparameter"},
                     "versions": [{"name": "v2beta1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def repository(folder: Path, helm: Path, url: str) -> Path:
    """Every version written, packaged (.tgz) and indexed for `url` in folder/repo/; returns that folder."""
    repo = folder / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    for version in VERSIONS:
        subprocess.run([str(helm), "package", str(write(version, folder / "src")), "-d", str(repo)],
                       check=True, capture_output=True, timeout=60)
    subprocess.run([str(helm), "repo", "index", str(repo), "--url", url], check=True, capture_output=True,
                   timeout=60)
    return repo


class LoopbackRepository:
    """A chart repository served over HTTP on 127.0.0.1 (a thread; stop() ends it)."""

    def __init__(self, folder: Path, helm: Path):
        self.folder = folder
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder / "repo")))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        repository(folder, helm, self.url)
        self.thread = threading.Thread(target=self.server.serve_forever, name="chart-repo", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass
