"""Status writes are coalesced, and the loop never decides from a status older than its own."""
from __future__ import annotations

from cniupgrade.api.status import Counts, NodeResult, NodeState, Phase, UpgradePlanStatus
from cniupgrade.engine import parse_status
from cniupgrade.status_book import NODES_PER_INTERVAL, WRITE_INTERVAL, StatusBook, resource_version


def body(version: str, status: UpgradePlanStatus | None = None) -> dict:
    return {"metadata": {"name": "p", "resourceVersion": version},
            "status": status.model_dump(mode="json", by_alias=True) if status else {}}


S1 = UpgradePlanStatus(phase=Phase.rolling, progress="1/10")
S2 = UpgradePlanStatus(phase=Phase.rolling, progress="2/10")
S3 = UpgradePlanStatus(phase=Phase.rolling, progress="3/10")


def test_progress_is_written_at_most_every_interval_and_urgent_changes_at_once():
    book = StatusBook()
    assert book.base(body("1"), parse_status) == UpgradePlanStatus()
    assert book.due(urgent=False, now=100.0) is None  # nothing decided yet
    book.record(S1)
    assert book.due(urgent=False, now=100.0) == 0.0  # first write: no write happened in the last interval
    book.wrote("2", now=100.0)
    book.record(S2)
    assert abs(book.due(urgent=False, now=100.1) - (WRITE_INTERVAL - 0.1)) < 1e-9  # deferred
    assert book.due(urgent=True, now=100.1) == 0.0
    assert book.due(urgent=False, now=100.0 + WRITE_INTERVAL) == 0.0
    book.wrote("3", now=100.6)
    assert book.due(urgent=True, now=100.7) is None  # written: nothing pending


def test_a_large_plans_progress_is_written_less_often_and_its_failures_at_once():
    nodes = [NodeResult(name=f"n{i}", state=NodeState.upgraded) for i in range(1000)]
    book = StatusBook()
    book.base(body("1"), parse_status)
    book.record(S1.model_copy(update={"nodes": nodes}))
    book.wrote("2", now=100.0)
    book.record(S2.model_copy(update={"nodes": nodes}))
    assert abs(book.due(urgent=False, now=100.0) - 4 * WRITE_INTERVAL) < 1e-9  # 1000 / NODES_PER_INTERVAL
    assert book.due(urgent=False, now=100.0 + 4 * WRITE_INTERVAL) == 0.0
    assert book.due(urgent=True, now=100.1) == 0.0
    book.record(S2.model_copy(update={"nodes": nodes[:NODES_PER_INTERVAL]}))
    assert abs(book.due(urgent=False, now=100.0) - WRITE_INTERVAL) < 1e-9  # up to 250 nodes: every second


def test_the_interval_follows_the_plans_size_from_its_first_nodes_on():
    book = StatusBook()
    book.base(body("1"), parse_status)
    book.record(S1.model_copy(update={"counts": Counts(total=1000, pending=1000)}))
    book.wrote("2", now=100.0)
    started = [NodeResult(name=f"n{i}", state=NodeState.upgrading) for i in range(10)]
    book.record(S2.model_copy(update={"nodes": started, "counts": Counts(total=1000, pending=990)}))
    assert abs(book.due(urgent=False, now=100.0) - 4 * WRITE_INTERVAL) < 1e-9


def test_the_loop_decides_from_its_own_unwritten_status_while_the_watch_lags():
    book = StatusBook()
    book.base(body("1"), parse_status)
    book.record(S1)
    book.wrote("2")
    book.record(S2)  # decided, not written yet
    assert book.base(body("1"), parse_status) == S2  # the cache has not seen our write
    assert book.base(body("2", S1), parse_status) == S2  # it has; S2 is still ahead
    # someone else changed the object (say the spec) without touching the status: still ours
    assert book.base(body("7", S1), parse_status) == S2


def test_a_status_written_by_someone_else_wins():
    book = StatusBook()
    book.base(body("1"), parse_status)
    book.record(S1)
    book.wrote("2")
    book.record(S2)
    assert book.base(body("9", S3), parse_status) == S3
    assert book.due(urgent=True) is None  # their status is what is stored: nothing of ours to write


def test_a_version_older_than_our_write_never_replaces_our_status():
    """The user's spec patch (or kopf's finalizer) lands just before our write; the watch delivers it after the
    write returned. Its stored status predates ours: taking it would forget nodes we already started."""
    book = StatusBook()
    book.base(body("10", S1), parse_status)
    book.record(S2)
    book.wrote("12")  # their patch made version 11 (status still S1); ours made 12
    book.record(S3)
    assert book.base(body("11", S1), parse_status) == S3
    assert book.base(body("12", S2), parse_status) == S3  # the watch caught up: still ours, S3 not written yet
    assert book.base(body("100", S1), parse_status) == S1  # later than our write: someone else wrote S1


def test_resource_versions_compare_as_integers_only_when_canonical():
    assert resource_version("123") == 123 and resource_version("99") < resource_version("100")
    assert resource_version("") is None and resource_version("0012") is None and resource_version("a1") is None
    book = StatusBook()
    book.base(body("x1", S1), parse_status)
    book.record(S2)
    book.wrote("x3")
    # versions that do not compare: only a different stored status is news (the behaviour before KEP-5504)
    assert book.base(body("x2", S2), parse_status) == S2
    assert book.base(body("x4", S3), parse_status) == S3


def test_each_stored_version_is_parsed_once():
    """The loop runs on every pod event; parsing a 1000-node status each time cost ~10 ms a pass."""
    parsed = []

    def counting_parse(plan: dict) -> UpgradePlanStatus:
        parsed.append(plan["metadata"]["resourceVersion"])
        return parse_status(plan)

    book = StatusBook()
    for _ in range(3):
        book.base(body("10", S1), counting_parse)
    book.record(S2)
    book.wrote("12")
    for version in ("11", "12", "12", "12"):  # older than our write, then our own write's echo
        assert book.base(body(version, S2 if version == "12" else S1), counting_parse) == S2
    for _ in range(2):
        book.base(body("13", S2), counting_parse)  # a metadata change after our write: read once
    assert parsed == ["10", "13"]
