import sys

from cniupgrade.cli import main

sys.exit(main())
