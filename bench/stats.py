"""How sure a ratio of medians is: a percentile bootstrap over the runs of each kind."""
from __future__ import annotations

import random
import statistics
from typing import Sequence


def ratio_interval(numerators: Sequence[float], denominators: Sequence[float], confidence: float = 0.95,
                   resamples: int = 4000, seed: int = 7) -> tuple[float, float]:
    """The interval holding `confidence` of median(numerators)/median(denominators) when each kind's runs are
    drawn again with replacement. With five runs a kind it is wide; it says when a difference is noise."""
    rng = random.Random(seed)
    return _central(sorted(statistics.median(rng.choices(numerators, k=len(numerators)))
                           / statistics.median(rng.choices(denominators, k=len(denominators)))
                           for _ in range(resamples)), confidence)


def pooled_ratio(sessions: Sequence[tuple[Sequence[float], Sequence[float]]], confidence: float = 0.95,
                 resamples: int = 4000, seed: int = 7) -> tuple[float, tuple[float, float]]:
    """Several bench sessions' (numerators, denominators), read together. The machine's speed drifts between
    sessions (native medians of 6.2 and 6.9 s an hour apart), so each run is divided by its own session's
    denominator median first; the point is the median of those, the interval a bootstrap within each session."""
    def normalised(drawn: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
        return statistics.median(x / statistics.median(den) for num, den in drawn for x in num)

    rng = random.Random(seed)
    return normalised(sessions), _central(sorted(normalised([(rng.choices(num, k=len(num)),
                                                              rng.choices(den, k=len(den))) for num, den in sessions])
                                                 for _ in range(resamples)), confidence)


def _central(ordered: Sequence[float], confidence: float) -> tuple[float, float]:
    """The range holding the middle `confidence` of sorted bootstrap values."""
    tail = (1 - confidence) / 2
    return ordered[int(tail * len(ordered))], ordered[min(len(ordered) - 1, int((1 - tail) * len(ordered)))]
