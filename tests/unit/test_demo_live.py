"""The demo's live view."""
from __future__ import annotations

import io

from demo.live import follow, node_states, render

STATUS = {
    "phase": "Rolling", "progress": "2/5", "currentBatch": 1,
    "plan": {"batches": [["a"], ["b", "c"], ["d", "e"]], "canaryBatches": 1},
    "nodes": [{"name": "c", "state": "Upgrading"}],
    "upgradedNodes": ["a 2026-12-01T12:00:00Z 2026-12-01T12:00:02Z", "b 2026-12-01T12:00:01Z 2026-12-01T12:00:04Z"],
    "conditions": [{"type": "Ready", "status": "False", "message": "batch 2/3"}],
}


def test_every_planned_node_has_a_state():
    assert node_states(STATUS) == {"a": "Upgraded", "b": "Upgraded", "c": "Upgrading", "d": "Pending",
                                   "e": "Pending"}


def test_frame_shows_phase_progress_batch_grid_and_events():
    frame = render("up", STATUS, [f"e{i}" for i in range(10)], width=3)
    lines = frame.splitlines()
    assert "phase: Rolling" in lines[0] and "2/5" in lines[0] and "batch: 2/3" in lines[0]
    assert lines[1].strip() == "batch 2/3"
    assert "# a  # b  ~ c" in frame and ". d  . e" in frame
    assert "e9" in frame and "e3" not in frame  # only the latest events


def test_not_a_terminal_prints_one_line_per_change():
    statuses = iter([{"phase": "Canary", "progress": "0/5"}] * 3 + [{"phase": "Succeeded", "progress": "5/5"}])
    out = io.StringIO()
    last = follow("up", lambda: next(statuses), lambda: [], lambda s: s["phase"] == "Succeeded", 10, out=out)
    assert last["phase"] == "Succeeded"
    assert len(out.getvalue().splitlines()) == 2
