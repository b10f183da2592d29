"""`python -m cniupgrade.kubectl_plugin`: the plugin without its console script."""
import sys

from cniupgrade.kubectl_plugin.entry import main

sys.exit(main())
