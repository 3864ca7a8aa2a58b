"""``python -m motifbench``: the ``motifbench`` command."""

import sys

from .cli import main

if __name__ == "__main__":  # a spawned worker imports this module as __mp_main__ and must not run it
    sys.exit(main())
