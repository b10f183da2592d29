"""A finding's objects: how many, and the first few names."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS


@dataclass
class Sample:
    """How many, and the first MAX_NAMED_OBJECTS names in name order (whatever order they were fed in:
    lists fetched at once interleave)."""
    count: int = 0
    names: list[str] = field(default_factory=list)

    def add(self, name: str) -> None:
        self.count += 1
        if len(self.names) < MAX_NAMED_OBJECTS:
            bisect.insort(self.names, name)
        elif name < self.names[-1]:
            bisect.insort(self.names, name)
            self.names.pop()
