"""The operator's container image, built here without a registry or a daemon:
`python -m localcluster.image build` (make image) makes the Debian base with mmdebstrap (cached), the wheels and
helm (localcluster.image_context), then runs `buildah bud` on the Dockerfile with that base, and prints the size;
`python -m localcluster.image context` (make image-context) only prepares what a plain `docker build` copies in.

Images live in buildah's own storage under the build cache (vfs driver, chroot isolation: root, no daemon), and
an image is tagged by a digest of everything that goes in, so an unchanged tree reuses it."""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from localcluster import build, buildah, image_base, image_context, versions
from localcluster import deployment as deployment_manifests

REPO = image_context.REPO
NAME = "localhost/cniupgrade"
BASE_NAME = "localhost/cniupgrade-base"
# What goes into the image besides the base and helm (whose cache keys join the digest).
INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "operator")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def deployed_tag() -> str:
    """The image deploy/deployment.yaml runs: the name an archive loads as."""
    deployment = yaml.safe_load((deployment_manifests.DEPLOY / "deployment.yaml").read_text())
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def inputs_digest() -> str:
    digest = hashlib.sha256(f"{image_base.cache_key()}\n{versions.helm_cache_key()}\n".encode())
    for top in INPUTS:
        path = REPO / top
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or any(part.endswith(".egg-info") for part in file.parts):
                continue
            digest.update(str(file.relative_to(REPO)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:12]


def base_image_name() -> str:
    return f"{BASE_NAME}:{image_base.cache_key().removeprefix('image-base-')}"


def ensure_base_image(log) -> str:
    """The mmdebstrap tarball as an image in buildah's storage (seconds once the tarball is cached)."""
    name = base_image_name()
    if buildah.exists(name):
        return name
    tarball = image_base.ensure_rootfs(log)
    container = buildah.run("from", "scratch").stdout.strip()
    try:
        buildah.run("add", container, str(tarball), "/")  # a tarball is unpacked
        buildah.run("config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--cmd", "/bin/bash", container)
        buildah.run("commit", "--quiet", container, name)
    finally:
        buildah.run("rm", container, check=False)
    return name


@dataclass(frozen=True)
class Image:
    name: str  # NAME:<inputs digest>
    size: int  # bytes, uncompressed, all layers
    base_size: int

    def describe(self) -> str:
        mb = 1000 ** 2
        return (f"{self.name}: {self.size / mb:.0f} MB uncompressed "
                f"(Debian base {self.base_size / mb:.0f} MB + {(self.size - self.base_size) / mb:.0f} MB venv and helm)")


def _remove_older(*keep: str) -> None:
    """One image and one base of ours at a time in the storage: vfs copies every layer in full."""
    for entry in buildah.images():
        names = entry.get("names") or []
        ours = any(n.startswith((f"{NAME}:", f"{BASE_NAME}:")) for n in names)
        if ours and not set(keep) & set(names):
            buildah.run("rmi", entry["id"], check=False)  # refused while a container uses it: kept then
    buildah.run("rmi", "--prune", check=False)  # and the untagged one a rebuild of the same tree leaves


def ensure_image(rebuild: bool = False, log=_log) -> Image:
    """The image of the tree as it is, built first when no image has its inputs' digest."""
    buildah.ensure_tools(log)
    name = f"{NAME}:{inputs_digest()}"
    buildah.storage().mkdir(parents=True, exist_ok=True)
    with open(build.cache_root() / ".image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a waiter then finds it done
        if rebuild or not buildah.exists(name):
            started = time.monotonic()
            base = ensure_base_image(log)
            image_context.make_context(log)
            log(f"building {name} on {base} (buildah bud)...")
            buildah.run("bud", "--isolation", "chroot", "--pull=never", "--build-arg", f"BASE={base}",
                    "--file", str(REPO / "Dockerfile"), "--tag", name, "--tag", f"{NAME}:latest", str(REPO))
            _remove_older(name, base)
            log(f"image built in {time.monotonic() - started:.0f}s")
        base = base_image_name()
        return Image(name, buildah.size(name), buildah.size(base) if buildah.exists(base) else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster.image", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    built = sub.add_parser("build", help="build the image (buildah, mmdebstrap base) and print its size")
    built.add_argument("--rebuild", action="store_true", help="build even when an image of this tree exists")
    sub.add_parser("context", help="prepare .cache/image (wheels, helm) for a plain `docker build`")
    archive = sub.add_parser("archive", help="write the image (built first if needed) as a docker-archive tarball "
                                             "for `docker load`, `kind load image-archive` or `ctr images import`")
    archive.add_argument("output", type=Path)
    archive.add_argument("--tag", help="the name it loads as (default: deploy/deployment.yaml's image)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.command == "context":
            print(image_context.make_context(_log))
            return 0
        image = ensure_image(rebuild=getattr(args, "rebuild", False))
        if args.command == "archive":
            args.output.unlink(missing_ok=True)
            tag = args.tag or deployed_tag()
            buildah.run("push", "--quiet", image.name, f"docker-archive:{args.output.resolve()}:{tag}")
            print(f"{args.output} ({args.output.stat().st_size / 1000 ** 2:.0f} MB, loads as {tag})")
            return 0
    except build.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(image.describe())
    print(f"took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
