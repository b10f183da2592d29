"""python -m bench.pool RESULT.json...: several `python -m bench --json` results read together, per node count.

One session's interval is wide and sessions drift; this prints each session's ratios and the pooled ones
(bench/stats.py pooled_ratio), so a verdict on a 5% target rests on all the runs of the same code.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from bench.stats import pooled_ratio


def rollouts(paths: list[Path]) -> dict[int, list[dict]]:
    """Each file's rollout results (not its pre-flight ones), by node count."""
    by_nodes: dict[int, list[dict]] = defaultdict(list)
    for path in paths:
        loaded = json.loads(path.read_text())
        for result in loaded if isinstance(loaded, list) else [loaded]:
            if "native" in result:
                by_nodes[result["nodes"]].append({**result, "file": path.name})
    return by_nodes


def report(by_nodes: dict[int, list[dict]]) -> list[str]:
    lines = []
    for nodes, sessions in sorted(by_nodes.items()):
        lines.append(f"nodes={nodes}: {len(sessions)} session(s), "
                     f"{sum(len(s['operator']) for s in sessions)} operator runs")
        for s in sessions:
            lines.append(f"  {s['file']}: operator/native {s['ratio']:.3f}, floor/native {s['floorRatio']:.3f} "
                         f"({len(s['operator'])} trials)")
        for label, kind, reference in (("operator/native", "operator", "native"), ("floor/native", "floor", "native"),
                                       ("operator/floor", "operator", "floor")):
            point, (low, high) = pooled_ratio([(s[kind], s[reference]) for s in sessions])
            lines.append(f"  pooled {label} {point:.3f} (95% bootstrap interval {low:.3f}-{high:.3f})")
    return lines


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    print("\n".join(report(rollouts([Path(a) for a in argv]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
