"""The bench's bootstrap interval for a ratio of medians."""
from __future__ import annotations

import random

from bench.stats import ratio_interval


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
