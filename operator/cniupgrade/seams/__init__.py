"""The seams between the core and its variants: what a plugin is, how a version is put in place (mechanism),
how either reads or changes the cluster, and the names and types they share. Core code and plugins both import
from here; nothing here imports a plugin, the rollout or kube/."""
