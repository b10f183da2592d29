"""buildah on storage of our own under the build cache (vfs driver: works as root anywhere, no overlay, fuse or
daemon), and the Debian packages the image build and its e2e test run, installed when missing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from localcluster import build

TOOLS = {"buildah": "buildah", "mmdebstrap": "mmdebstrap", "runc": "runc"}  # command: Debian package
SIZE_UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def ensure_tools(log) -> None:
    """buildah, mmdebstrap (the base) and runc (the e2e test runs the image), from Debian's packages when missing:
    CI's machine is fresh and nothing is installed by hand."""
    missing = [package for command, package in TOOLS.items() if not shutil.which(command)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise build.BuildError(f"the image build needs {', '.join(missing)} (Debian packages); install them")
    log(f"installing {', '.join(missing)} (apt-get)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise build.BuildError(f"`{' '.join(argv)}` failed:\n{proc.stderr[-4000:]}")


def storage() -> Path:
    return build.cache_root() / "image-storage"


def argv(*args: str) -> list[str]:
    return ["buildah", "--root", str(storage() / "root"), "--runroot", str(storage() / "run"),
            "--storage-driver", "vfs", *args]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise build.BuildError(f"`buildah {' '.join(args)}` failed:\n{(proc.stderr or proc.stdout)[-4000:]}")
    return proc


def exists(name: str) -> bool:
    return run("inspect", "--type", "image", name, check=False).returncode == 0


def config(name: str) -> dict:
    """The image's OCI config: Entrypoint, Cmd, Env, User, WorkingDir, ExposedPorts."""
    return json.loads(run("inspect", "--type", "image", name).stdout)["OCIv1"]["config"]


def size(name: str) -> int:
    """Bytes, all layers uncompressed (buildah gives it rounded, in decimal units: "358 MB")."""
    number, unit = json.loads(run("images", "--json", name).stdout)[0]["size"].split()
    return int(float(number) * SIZE_UNITS[unit])


def images() -> list[dict]:
    return json.loads(run("images", "--json").stdout or "[]")
