"""What the Dockerfile copies in, made beforehand so that the image build needs no network: the package and its
dependencies as wheels for the image's Python (3.11, Linux, this machine's CPU), and the helm CLI built from
localcluster/go/helm. `python -m localcluster.image context` (make image-context) makes it for a plain
`docker build`; `python -m localcluster.image build` makes it too."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from localcluster import build, versions

REPO = Path(__file__).resolve().parents[1]
CONTEXT = REPO / ".cache" / "image"  # the Dockerfile names these paths; .dockerignore lets only them in
WHEELS, HELM = CONTEXT / "wheels", CONTEXT / "helm"
PACKAGE_FILES = ("pyproject.toml", "README.md")  # with operator/: what `pip wheel` needs of the tree
IMAGE_PYTHON = "3.11"
OLDEST_GLIBC_MINOR, IMAGE_GLIBC_MINOR = 5, 36  # bookworm's glibc is 2.36; the slim python images' is newer


def machine() -> str:
    arch = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)


def platform_args(arch: str) -> list[str]:
    # pip does not widen a target platform to older manylinux tags by itself: name each one.
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(IMAGE_GLIBC_MINOR, OLDEST_GLIBC_MINOR - 1, -1)]
    return [arg for tag in (*tags, "any") for arg in ("--platform", tag)]


def _pip(*args: str, cwd: Path = REPO) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise build.BuildError(f"`pip {args[0]}` failed:\n{proc.stderr[-4000:]}")


def _our_wheel() -> Path:
    """Built from a copy of the package's files: setuptools' build/ in the tree would keep modules since deleted."""
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "src"
        source.mkdir()
        for name in PACKAGE_FILES:
            shutil.copy2(REPO / name, source / name)
        shutil.copytree(REPO / "operator", source / "operator",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(WHEELS), str(source))
    return next(WHEELS.glob("cniupgrade-*.whl"))


def make_wheels(log) -> list[Path]:
    """Our wheel, then every dependency as a binary wheel for the image's Python (not this machine's)."""
    shutil.rmtree(WHEELS, ignore_errors=True)
    WHEELS.mkdir(parents=True)
    log("building the cniupgrade wheel and fetching its dependencies' wheels...")
    ours = _our_wheel()
    _pip("download", "--quiet", "--only-binary=:all:", "--python-version", IMAGE_PYTHON, "--implementation", "cp",
         "--abi", f"cp{IMAGE_PYTHON.replace('.', '')}", "--abi", "abi3", "--abi", "none",
         *platform_args(machine()), "--dest", str(WHEELS), str(ours))
    return sorted(WHEELS.glob("*.whl"))


def copy_helm(log) -> Path:
    """The helm `make test` builds and caches; on a machine that is not Linux (Docker on a Mac), one built for the
    image's Linux from the same module and flags."""
    HELM.parent.mkdir(parents=True, exist_ok=True)
    if platform.system() == "Linux":
        shutil.copy2(build.ensure_helm(log), HELM)
    else:
        cross_build_helm(machine(), log)
    return HELM


def cross_build_helm(arch: str, log) -> None:
    log(f"building helm {versions.HELM} for linux/{arch}...")
    env = {**os.environ, "GOOS": "linux", "GOARCH": {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch),
           "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    ldflags = f"-s -w -X helm.sh/helm/v3/internal/version.version={versions.HELM}"
    proc = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(HELM), "helm.sh/helm/v3/cmd/helm"],
                          cwd=versions.GO_MODULES_DIR / "helm", env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise build.BuildError(f"building helm for linux/{arch} failed:\n{proc.stderr[-4000:]}")


def make_context(log) -> Path:
    wheels = make_wheels(log)
    copy_helm(log)
    log(f"build context ready: {len(wheels)} wheels and helm {versions.HELM} in {CONTEXT.relative_to(REPO)}")
    return CONTEXT
