"""The composition root's one job: register the built-in plugins and mechanisms, and any plugin modules the
admin names (CNIUPGRADE_PLUGIN_MODULES, comma-separated, or `cniupgrade run --plugin-module`)."""
from __future__ import annotations

import importlib
import os
from typing import Iterable

from cniupgrade import mechanisms, plugins  # noqa: F401 - importing them registers them

PLUGIN_MODULES_ENV = "CNIUPGRADE_PLUGIN_MODULES"


def load_plugin_modules(modules: Iterable[str] | None = None) -> list[str]:
    """Import each module (it registers its plugin); returns the names imported."""
    names = [m.strip() for m in (modules if modules is not None
                                 else os.environ.get(PLUGIN_MODULES_ENV, "").split(",")) if m.strip()]
    for name in names:
        importlib.import_module(name)
    return names
