"""The image's base: a minimal Debian root filesystem made by mmdebstrap (no container registry needed), cached
as a tarball under the build cache, keyed by everything that goes into it."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from localcluster import build

SUITE = "bookworm"  # its python3 is 3.11, as the project's
VARIANT = "minbase"  # Essential and Priority:required packages plus apt: debootstrap's minimal base
PACKAGES = ("python3", "python3-venv")
# merged /usr the way bookworm expects it, without the usrmerge package (and the perl it pulls in)
HOOK_DIRS = ("/usr/share/mmdebstrap/hooks/merged-usr",)
# Documentation, manuals and translations nobody reads in a container (licences stay).
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
# The build machine's resolver and name must not end up in the image.
CUSTOMIZE_HOOKS = ('rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',)
# Device nodes come from the container runtime.
SKIP = ("output/dev",)
RECIPE_VERSION = "1"  # bump when the way the base is made changes in a way the lists above do not show


def architecture() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def mmdebstrap_args(target: Path) -> list[str]:
    args = ["mmdebstrap", f"--variant={VARIANT}", f"--include={','.join(PACKAGES)}",
            *(f"--hook-dir={d}" for d in HOOK_DIRS), *(f"--dpkgopt={o}" for o in DPKG_OPTIONS),
            *(f"--customize-hook={h}" for h in CUSTOMIZE_HOOKS), *(f"--skip={s}" for s in SKIP)]
    return [*args, SUITE, str(target)]


def cache_key() -> str:
    recipe = "\n".join([RECIPE_VERSION, architecture(), *mmdebstrap_args(Path("rootfs.tar"))])
    return f"image-base-{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def ensure_rootfs(log) -> Path:
    """The cached base tarball, made first (about a minute) when the key has none."""
    return build.cached(cache_key(), _make_base, "Debian base", log, needs_go=False) / "rootfs.tar"


def _make_base(staging: Path, log) -> None:
    staging.mkdir(parents=True)
    log(f"making the Debian {SUITE} base with mmdebstrap ({', '.join(PACKAGES)})...")
    # stdin closed: mmdebstrap would otherwise read a sources.list from a pipe
    proc = subprocess.run(mmdebstrap_args(staging / "rootfs.tar"), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise build.BuildError(f"mmdebstrap failed:\n{proc.stderr[-4000:]}")
