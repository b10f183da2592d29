"""`status --watch`: the plan followed through its watch (no polling) until it ends. On a terminal one screen is
redrawn in place; otherwise (a pipe, a CI log) one line is written per change."""
from __future__ import annotations

import time
from typing import Callable, TextIO

from cniupgrade.kubectl_plugin import ended, summary
from cniupgrade.kubectl_plugin.failures import EXIT_BLOCKED, PluginError
from cniupgrade.kubectl_plugin.plan_api import PlanApi

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen


class Printer:
    """Writes each version of the plan in the form `out` calls for, a log line only when it says something new."""

    def __init__(self, out: TextIO, clock: Callable[[], str] = lambda: time.strftime("%H:%M:%S")):
        self.out, self.clock = out, clock
        self.interactive = out.isatty()
        self.last_line: str | None = None

    def show(self, plan: dict) -> None:
        if self.interactive:
            self.out.write(f"{CLEAR}{summary.screen(plan)}\n\n  {self.clock()}  watching until the plan ends; "
                           f"Ctrl-C stops watching (not the plan)\n")
        else:
            line = summary.change_line(plan)
            if line == self.last_line:
                return
            self.last_line = line
            self.out.write(f"{self.clock()} {line}\n")
        self.out.flush()


def follow(plans: PlanApi, printer: Printer) -> dict:
    """Show the plan now and at each change; return it once finished (summary.finished)."""
    plan = plans.get()
    printer.show(plan)
    if ended.finished(plan):
        return plan
    for kind, plan in plans.changes(plan["metadata"]["resourceVersion"]):
        if kind == "DELETED":
            raise PluginError(EXIT_BLOCKED, f'upgradeplan "{plans.name}" was deleted before it ended')
        printer.show(plan)
        if ended.finished(plan):
            return plan
    raise PluginError(EXIT_BLOCKED, f'the watch of upgradeplan "{plans.name}" ended')  # not reached: it resumes
