"""The built-in mechanisms; importing this package registers them."""
from cniupgrade.mechanisms import images  # noqa: F401
