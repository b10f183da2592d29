"""`kubectl cniupgrade`: a kubectl plugin (the console script kubectl-cniupgrade) to follow and steer UpgradePlans.

It writes what README.md documents (spec.approved, spec.paused, the cniupgrade.io/retry and cniupgrade.io/rollback
annotations) as the field manager kubectl-cniupgrade, so a plan's status names it as who asked."""
from cniupgrade.kubectl_plugin.entry import main

__all__ = ["main"]
