"""The helm CLI, driven as a subprocess: argument lists (never a shell string), a timeout on every call, JSON
output parsed, and errors that carry helm's own message. The binary is built from Go modules (localcluster) and
shipped in the image; HELM_BINARY names it, else `helm` on PATH."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import yaml

from cniupgrade.seams.cluster import StepStuck

HELM_BINARY_ENV = "HELM_BINARY"
DEFAULT_TIMEOUT = 120.0
# `helm uninstall` and its aliases: never run. From Spiderpool 1.0.0 the chart's pre-delete hook deletes every
# Spider* object and the CRDs (all IP state); an upgrade never needs an uninstall.
NEVER_RUN = frozenset({"uninstall", "delete", "del", "un"})


class HelmError(StepStuck):
    """helm failed (its stderr), or could not be run."""
    reason = "HelmFailed"


@dataclass(frozen=True)
class Revision:
    revision: int
    status: str  # deployed, superseded, failed, pending-upgrade, ...
    chart: str  # "<name>-<version>"
    app_version: str
    description: str = ""  # e.g. "Upgrade complete", "Rollback to 1"


class HelmCli:
    def __init__(self, binary: str | Path | None = None, kubeconfig: str | Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT, as_user: str | None = None):
        """`as_user`: the user helm acts as (--kube-as-user), e.g. a plan's ServiceAccount."""
        found = binary or os.environ.get(HELM_BINARY_ENV) or shutil.which("helm")
        if not found:
            raise HelmError(f"no helm binary: set {HELM_BINARY_ENV} or put helm on PATH")
        self.binary, self.kubeconfig, self.timeout, self.as_user = str(found), kubeconfig, timeout, as_user

    def run(self, *args: str, stdin: str | None = None, timeout: float | None = None) -> str:
        if args and args[0] in NEVER_RUN:
            raise HelmError(f"helm {args[0]} refused: the operator never uninstalls a release (a chart's pre-delete "
                            f"hook may delete all the plugin's state)")
        command = [self.binary, *args, *(["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else []),
                   *(["--kube-as-user", self.as_user] if self.as_user else [])]
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, text=True,
                                  timeout=timeout or self.timeout, env=helm_env())
        except subprocess.TimeoutExpired as exc:
            raise HelmError(f"helm {args[0]} did not finish within {exc.timeout:.0f}s") from exc
        except OSError as exc:
            raise HelmError(f"cannot run {self.binary}: {exc}") from exc
        if done.returncode != 0:
            raise HelmError(f"helm {args[0]}: {done.stderr.strip() or f'exit {done.returncode}'}")
        return done.stdout

    def version(self) -> str:
        return self.run("version", "--short").strip()

    def history(self, release: str, namespace: str) -> list[Revision]:
        """Oldest first; [] when there is no such release."""
        try:
            rows = json.loads(self.run("history", release, "-n", namespace, "-o", "json", "--max", "256"))
        except HelmError as exc:
            if "release: not found" in str(exc):
                return []
            raise
        return [Revision(int(r["revision"]), r["status"], r["chart"], r.get("app_version", ""),
                         r.get("description", "")) for r in rows]

    def values(self, release: str, namespace: str) -> dict:
        """The user's values of the release's current revision (what `--reuse-values` would keep)."""
        return json.loads(self.run("get", "values", release, "-n", namespace, "-o", "json")) or {}

    def manifest(self, release: str, namespace: str) -> list[dict]:
        return [d for d in yaml.safe_load_all(self.run("get", "manifest", release, "-n", namespace)) if d]

    def template(self, release: str, namespace: str, chart: str, version: str | None = None,
                 values: dict | None = None, repo: str | None = None, post_renderer: Sequence[str] = ()) -> list[dict]:
        """The objects the chart renders for these values (no cluster change)."""
        return [d for d in yaml.safe_load_all(self.run(
            "template", release, chart, "-n", namespace, *_source(version, repo), "-f", "-",
            *_post_render(post_renderer), stdin=json.dumps(values or {}))) if d]

    def crds(self, chart: str, version: str | None = None, repo: str | None = None) -> list[dict]:
        """The manifests of the chart's crds/ folder (helm installs them once and never upgrades them)."""
        return [d for d in yaml.safe_load_all(self.run("show", "crds", chart, *_source(version, repo))) if d]

    def upgrade(self, release: str, namespace: str, chart: str, version: str | None = None,
                values: dict | None = None, repo: str | None = None, install: bool = False,
                post_renderer: Sequence[str] = ()) -> dict:
        """`helm upgrade` with exactly `values` (not merged with the release's: the caller carries them over);
        `post_renderer`: an executable and its arguments that rewrite what the chart renders."""
        out = self.run("upgrade", release, chart, "-n", namespace, *_source(version, repo), "-f", "-",
                       "--reset-values", "-o", "json", *(["--install"] if install else []),
                       *_post_render(post_renderer), stdin=json.dumps(values or {}))
        return json.loads(out)

    def pull(self, chart: str, version: str | None, repo: str, into: Path, plain_http: bool = False) -> Path:
        """The chart's archive downloaded into `into` (an empty folder): from an HTTP repository, or from an OCI
        registry (repo oci://host/path, the chart name appended)."""
        if repo.startswith("oci://"):
            args = [f"{repo.rstrip('/')}/{chart}", *(["--version", version] if version else []),
                    *(["--plain-http"] if plain_http else [])]
        else:
            args = [chart, *_source(version, repo)]
        self.run("pull", *args, "-d", str(into))
        archives = sorted(into.glob("*.tgz"))
        if len(archives) != 1:
            raise HelmError(f"helm pull {chart}: expected one archive in {into}, found {len(archives)}")
        return archives[0]

    def rollback(self, release: str, namespace: str, revision: int) -> None:
        self.run("rollback", release, str(revision), "-n", namespace)


def helm_env() -> dict[str, str]:
    """helm's caches and config under the temp folder unless set (the operator's root filesystem is read-only)."""
    home = Path(tempfile.gettempdir()) / "helm"
    return {**os.environ, "HELM_NO_PLUGINS": "1",
            **{key: os.environ.get(key) or str(home / sub) for key, sub in
               (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data"))}}


def _source(version: str | None, repo: str | None) -> list[str]:
    return [*(["--version", version] if version else []), *(["--repo", repo] if repo else [])]


def _post_render(command: Sequence[str]) -> list[str]:
    if not command:
        return []
    return ["--post-renderer", command[0], *[arg for a in command[1:] for arg in ("--post-renderer-args", a)]]
