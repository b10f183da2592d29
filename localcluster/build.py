"""Build the control-plane binaries from Go modules into a per-user cache, once per cache key."""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from localcluster import versions

MIN_GO = (1, 26)
KUBE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
KWOK_STAGES = (
    "stage/node/fast/node-initialize.yaml",
    "stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "stage/pod/general/pod-create.yaml",
    "stage/pod/general/pod-init-container-running.yaml",
    "stage/pod/general/pod-init-container-completed.yaml",
    "stage/pod/general/pod-ready.yaml",
    "stage/pod/general/pod-complete.yaml",
    "stage/pod/general/pod-delete.yaml",
)
KWOK_STAGE_CRD = "crd/bases/kwok.x-k8s.io_stages.yaml"


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Binaries:
    root: Path

    def path(self, name: str) -> Path:
        return self.root / "bin" / name

    @property
    def kwok_assets(self) -> Path:
        return self.root / "kwok"


def cache_root() -> Path:
    explicit = os.environ.get("CNIUPGRADE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cniupgrade" / "localcluster"


def _go_env() -> dict[str, str]:
    # Offline-safe: never try to download a toolchain; let go.sum come from the module proxy.
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}


def _check_go() -> None:
    go = shutil.which("go")
    if not go:
        raise BuildError(f"Go {MIN_GO[0]}.{MIN_GO[1]}+ is needed to build the local control plane; `go` is not on PATH")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    match = re.match(r"go(\d+)\.(\d+)", out.strip())
    if not match or (int(match[1]), int(match[2])) < MIN_GO:
        raise BuildError(f"Go {MIN_GO[0]}.{MIN_GO[1]}+ is needed to build the local control plane; found {out.strip()}")


def _go(args: list[str], module: str, log) -> str:
    cwd = versions.GO_MODULES_DIR / module
    started = time.monotonic()
    proc = subprocess.run(["go", *args], cwd=cwd, env=_go_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"`go {' '.join(args)}` in {cwd.name} failed:\n{proc.stderr[-4000:]}")
    log(f"  go {args[0]} ({module}) took {time.monotonic() - started:.0f}s")
    return proc.stdout


def _build_into(staging: Path, log) -> None:
    bin_dir = staging / "bin"
    bin_dir.mkdir(parents=True)
    version_pkg = "k8s.io/component-base/version"
    major, minor = versions.KUBERNETES.lstrip("v").split(".")[:2]
    ldflags = (
        f"-s -w -X {version_pkg}.gitVersion={versions.KUBERNETES} -X {version_pkg}.gitMajor={major}"
        f" -X {version_pkg}.gitMinor={minor} -X {version_pkg}.gitTreeState=clean"
    )
    log(f"building Kubernetes {versions.KUBERNETES} (apiserver, controller-manager, scheduler, kubectl)...")
    _go(["build", "-trimpath", "-tags", "selinux,notest", "-ldflags", ldflags, "-o", str(bin_dir / "kube"), "."], "kube", log)
    for component in KUBE_COMPONENTS:
        (bin_dir / component).symlink_to("kube")

    log(f"building etcd {versions.ETCD}...")
    _go(["build", "-trimpath", "-ldflags", "-s -w", "-o", str(bin_dir / "etcd"), "."], "etcd", log)

    log(f"building kwok {versions.KWOK}...")
    _go(["build", "-trimpath", "-ldflags", "-s -w", "-o", str(bin_dir) + "/", "sigs.k8s.io/kwok/cmd/kwok"], "kwok", log)

    # kwok v0.8 ships no built-in stages: take them (and the Stage CRD) from the module we built.
    module = json.loads(_go(["list", "-m", "-json", "sigs.k8s.io/kwok"], "kwok", log))
    source = Path(module["Dir"]) / "kustomize"
    assets = staging / "kwok"
    (assets / "stages").mkdir(parents=True)
    for rel in KWOK_STAGES:
        shutil.copyfile(source / rel, assets / "stages" / Path(rel).name)
    shutil.copyfile(source / KWOK_STAGE_CRD, assets / "stage-crd.yaml")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cached(key: str, build: Callable[[Path, Callable], None], what: str, log, needs_go: bool = True) -> Path:
    """The cache entry `key`, built first (by `build` into a staging folder) when it has none."""
    root = cache_root()
    target = root / key
    if (target / "complete").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a waiter then finds it done
        if (target / "complete").exists():
            return target
        if needs_go:
            _check_go()
        staging = root / f".building-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        try:
            build(staging, log)
            (staging / "complete").write_text(f"built in {time.monotonic() - started:.0f}s\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # atomic: a killed build never leaves a half cache behind
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log(f"{what} built in {time.monotonic() - started:.0f}s into {target}")
    return target


def ensure_built(log=_log) -> Binaries:
    """Return the cached control-plane binaries, building them first when the cache key has none."""
    return Binaries(cached(versions.cache_key(), _build_into, "control plane", log))


def _build_helm_into(staging: Path, log) -> None:
    log(f"building helm {versions.HELM}...")
    (staging / "bin").mkdir(parents=True)
    ldflags = f"-s -w -X helm.sh/helm/v3/internal/version.version={versions.HELM}"
    _go(["build", "-trimpath", "-ldflags", ldflags, "-o", str(staging / "bin" / "helm"), "helm.sh/helm/v3/cmd/helm"],
        "helm", log)


def ensure_helm(log=_log) -> Path:
    """The helm CLI, built from Go modules once into its own cache entry (the control plane's stays as it is)."""
    return cached(versions.helm_cache_key(), _build_helm_into, "helm", log) / "bin" / "helm"


def _build_registry_into(staging: Path, log) -> None:
    log(f"building the OCI registry (go-containerregistry {versions.REGISTRY})...")
    (staging / "bin").mkdir(parents=True)
    _go(["build", "-trimpath", "-ldflags", "-s -w", "-o", str(staging / "bin" / "registry"),
         "github.com/google/go-containerregistry/cmd/registry"], "registry", log)


def ensure_registry(log=_log) -> Path:
    """A small OCI registry (go-containerregistry's, in memory) for the chart path's oci:// sources in tests."""
    return cached(versions.registry_cache_key(), _build_registry_into, "OCI registry", log) / "bin" / "registry"
