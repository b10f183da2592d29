"""A live view of an UpgradePlan: one screen redrawn in place (or one line per change when not a terminal)."""
from __future__ import annotations

import sys
import time
from typing import Callable

from cniupgrade.kubectl_plugin.summary import LEGEND, SYMBOLS, node_states

__all__ = ["follow", "node_states", "render"]


def render(name: str, status: dict, events: list[str], width: int = 10) -> str:
    """A frame: headline, node grid in batch order, and the latest events."""
    plan = status.get("plan") or {}
    batches = plan.get("batches", [])
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    current = status.get("currentBatch")
    batch_text = "-" if current is None else f"{current + 1}/{len(batches)}"
    lines = [f"UpgradePlan {name}   phase: {status.get('phase', '...'):<12} upgraded: "
             f"{status.get('progress', '0/0'):<7} batch: {batch_text}",
             f"  {ready.get('message', '')}", ""]
    states = node_states(status)
    order = [n for batch in batches for n in batch]
    for row in range(0, len(order), width):
        cells = [f"{SYMBOLS.get(states[n], '?')} {n}" for n in order[row:row + width]]
        lines.append("  " + "  ".join(cells))
    lines += ["", LEGEND, "", "  recent events:"] + [f"    {e}" for e in events[-6:]]
    return "\n".join(lines)


def follow(name: str, read_status: Callable[[], dict], read_events: Callable[[], list[str]],
           done: Callable[[dict], bool], timeout: float, out=sys.stdout) -> dict:
    """Redraw until `done(status)` or the timeout; return the last status."""
    interactive = out.isatty()
    last_key = None
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = read_status()
        events = read_events()
        if interactive:
            out.write("\x1b[H\x1b[2J" + render(name, status, events) + "\n")
        else:  # a log, not a screen: one line per change of phase or progress
            key = (status.get("phase"), status.get("progress"))
            if key != last_key:
                out.write(f"  {time.strftime('%H:%M:%S')} phase={status.get('phase')} "
                          f"upgraded={status.get('progress')}\n")
                last_key = key
        out.flush()
        if done(status):
            break
        time.sleep(0.5)
    return status
