"""The bench's bootstrap interval for a ratio of medians."""
from __future__ import annotations

import json
import random

from bench.pool import report, rollouts
from bench.stats import pooled_ratio, ratio_interval


def test_the_interval_holds_the_ratio_of_medians_and_narrows_with_more_runs():
    rng = random.Random(1)
    few_native = [6.2 + rng.gauss(0, 0.2) for _ in range(5)]
    few_operator = [6.5 + rng.gauss(0, 0.2) for _ in range(5)]
    many_native = [6.2 + rng.gauss(0, 0.2) for _ in range(60)]
    many_operator = [6.5 + rng.gauss(0, 0.2) for _ in range(60)]
    low, high = ratio_interval(few_operator, few_native)
    assert low < 6.5 / 6.2 < high
    many_low, many_high = ratio_interval(many_operator, many_native)
    assert many_low < 6.5 / 6.2 < many_high
    assert many_high - many_low < (high - low) / 2


def test_identical_runs_give_a_point():
    assert ratio_interval([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]) == (2.0, 2.0)


def session(rng, native_speed, ratio, runs):
    native = [native_speed + rng.gauss(0, 0.15) for _ in range(runs)]
    return [native_speed * ratio + rng.gauss(0, 0.15) for _ in range(runs)], native


def test_pooled_sessions_read_each_run_against_its_own_session_and_narrow_the_interval():
    rng = random.Random(3)
    # the machine's speed drifts between sessions; the operator is 3% over native in each
    sessions = [session(rng, speed, 1.03, 8) for speed in (6.2, 6.9, 6.4)]
    point, (low, high) = pooled_ratio(sessions)
    assert low < 1.03 < high and abs(point - 1.03) < 0.02
    one_low, one_high = ratio_interval(*sessions[0])
    assert high - low < one_high - one_low
    # pooling raw runs instead would mix the sessions' speeds: a fast session's native against a slow operator
    assert pooled_ratio([([2.0, 2.0], [1.0, 1.0]), ([4.0], [2.0, 2.0])]) == (2.0, (2.0, 2.0))


def test_bench_pool_reports_each_session_and_the_pooled_ratio(tmp_path):
    rng = random.Random(5)
    files = []
    for index, speed in enumerate((6.2, 6.8)):
        operator, native = session(rng, speed, 1.04, 6)
        result = {"nodes": 100, "native": native, "operator": operator, "floor": native, "ratio": 1.04,
                  "floorRatio": 1.0}
        path = tmp_path / f"run{index}.json"
        path.write_text(json.dumps([result, {"preflight": []}] if index else result))
        files.append(path)
    lines = report(rollouts(files))
    assert lines[0] == "nodes=100: 2 session(s), 12 operator runs"
    assert lines[1].startswith("  run0.json: operator/native 1.040")
    pooled = next(line for line in lines if "pooled operator/native" in line)
    assert abs(float(pooled.split()[2]) - 1.04) < 0.03
    assert lines[-2].startswith("  pooled floor/native 1.000 (95% bootstrap interval")
    assert lines[-1].startswith("  pooled operator/floor ")
