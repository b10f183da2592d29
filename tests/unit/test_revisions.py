"""A DaemonSet's current revision is the owned ControllerRevision holding its template, as the controller decides.

The data file is a DaemonSet and its two ControllerRevisions read from the local control plane (Kubernetes 1.36)
after an image change: what the real controller stores, not what we think it stores.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from cniupgrade.kube.revisions import RevisionView, matching_revision, newest_revision

CAPTURED = json.loads((Path(__file__).parent / "data" / "daemonset_revisions.json").read_text())


def captured() -> tuple[dict, list[dict]]:
    return copy.deepcopy(CAPTURED["daemonset"]), copy.deepcopy(CAPTURED["revisions"])


def views(revisions: list[dict]) -> list[RevisionView]:
    return [RevisionView.from_api(r) for r in revisions]


def by_number(revisions: list[dict], number: int) -> dict:
    return next(r for r in revisions if r["revision"] == number)


def test_the_controllers_own_revision_of_the_current_template_matches():
    ds, revisions = captured()
    newest = by_number(revisions, 2)["metadata"]["labels"]["controller-revision-hash"]
    assert matching_revision(ds, views(revisions)) == newest == newest_revision(ds, views(revisions))


def test_a_template_no_cached_revision_holds_matches_nothing_so_the_caller_lists():
    ds, revisions = captured()
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/cni/agent:v2.0.0"
    assert matching_revision(ds, views(revisions)) is None
    assert newest_revision(ds, views(revisions)) is not None  # what a stale cache would wrongly have said


def test_a_rollback_matches_the_old_revision_before_the_controller_renumbers_it():
    ds, revisions = captured()
    old = by_number(revisions, 1)
    ds["spec"]["template"] = {k: v for k, v in old["data"]["spec"]["template"].items() if k != "$patch"}
    assert matching_revision(ds, views(revisions)) == old["metadata"]["labels"]["controller-revision-hash"]


def test_key_order_does_not_matter_but_ownership_does():
    ds, revisions = captured()
    for revision in revisions:
        template = revision["data"]["spec"]["template"]
        revision["data"]["spec"]["template"] = dict(reversed(list(template.items())))
    assert matching_revision(ds, views(revisions)) is not None
    ds["metadata"]["uid"] = "another-daemonset-of-the-same-name"
    assert matching_revision(ds, views(revisions)) is None and newest_revision(ds, views(revisions)) is None
