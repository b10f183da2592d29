"""Our own chart upgrade, interrupted (the operator's pod died under `helm upgrade`), leaves its revision pending,
and helm refuses every later operation on the release. helm marks such a revision failed when it fails on its own;
this does the same for the revision it could not, so the upgrade can run again. Nothing else is touched: a
pending revision of another chart or version is someone else's operation in progress."""
from __future__ import annotations

from cniupgrade.api.status import ChartRelease
from cniupgrade.kube.helm_cli import HelmCli
from cniupgrade.plugins.helm import decode_release, encode_release
from cniupgrade.seams.cluster import SECRETS, ClusterAccess

PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})
IN_PROGRESS = "another operation (install/upgrade/rollback) is in progress"


def unlock_interrupted(cluster: ClusterAccess, helm: HelmCli, chart: ChartRelease) -> bool:
    """Mark the release's last revision failed if it is our upgrade left pending; True if it did."""
    history = helm.history(chart.release, chart.namespace)
    last = history[-1] if history else None
    if last is None or last.status not in PENDING or last.chart != f"{chart.chart}-{chart.version}":
        return False
    name = f"sh.helm.release.v1.{chart.release}.v{last.revision}"
    secret = cluster.get(SECRETS, name, chart.namespace)
    if secret is None:
        return False
    release = decode_release(secret["data"]["release"])
    release["info"] = {**release.get("info", {}), "status": "failed",
                       "description": "interrupted upgrade, marked failed by cniupgrade to upgrade again"}
    cluster.patch(SECRETS, name, chart.namespace, {
        "metadata": {"resourceVersion": secret["metadata"]["resourceVersion"], "labels": {"status": "failed"}},
        "data": {"release": encode_release(release)}})
    return True
