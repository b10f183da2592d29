"""cniupgrade: a Kubernetes operator that upgrades CNI plugins declaratively and safely."""

__version__ = "0.1.0"
