"""The built-in mechanisms; importing this package registers them."""
from cniupgrade.mechanisms import chart, images  # noqa: F401
