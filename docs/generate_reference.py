"""Writes the reference pages generated from the code (docs/reference/configuration.md and
docs/reference/cli.md); ``--check`` only reports the pages that are out of date (status 1).

Run from the repository's root: ``python docs/generate_reference.py [--check]``.
"""

import sys
from pathlib import Path

from minidl._reference import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], Path(__file__).resolve().parents[1]))
