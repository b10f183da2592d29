"""The built-in plugins, one folder each; importing this package registers them (seams.plugin's registry).

A new plugin is a package like these that calls seams.plugin.register(); outside this tree, name its module in
CNIUPGRADE_PLUGIN_MODULES (or --plugin-module) and the operator imports it at start.
"""
from cniupgrade.plugins import generic, spiderpool, uk8s  # noqa: F401
