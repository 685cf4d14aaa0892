"""``python -m jpki_fast.synth OUT [options]``: the same as ``jpki-fast synth``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
