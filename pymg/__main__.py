"""``python -m pymg``: the same command as the ``pymg`` console script."""

import sys

from pymg.cli import main

if __name__ == "__main__":
    sys.exit(main())
