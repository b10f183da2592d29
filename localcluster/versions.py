"""Pinned versions of the control plane; the build cache is keyed by them and by the Go sources."""
import hashlib
from pathlib import Path

KUBERNETES = "v1.36.3"
ETCD = "v3.6.8"
KWOK = "v0.8.0"
HELM = "v3.22.0"  # the chart path's helm CLI, cached apart from the control plane
REGISTRY = "v0.22.1"  # go-containerregistry's registry: oci:// chart sources in tests

GO_MODULES_DIR = Path(__file__).parent / "go"
GO_MODULES = ("kube", "etcd", "kwok")


def _sources_digest(modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for module in modules:
        for path in sorted((GO_MODULES_DIR / module).glob("*")):
            if path.suffix in {".go", ".mod", ".sum"}:
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_key() -> str:
    """Versions plus a digest of the Go module sources, so any change to them rebuilds."""
    return f"k8s-{KUBERNETES}_etcd-{ETCD}_kwok-{KWOK}_{_sources_digest(GO_MODULES)}"


def helm_cache_key() -> str:
    return f"helm-{HELM}_{_sources_digest(('helm',))}"


def registry_cache_key() -> str:
    return f"registry-{REGISTRY}_{_sources_digest(('registry',))}"
