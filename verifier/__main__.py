"""``python -m verifier``: the same as the ``verify`` command."""

import sys

from verifier.cli import console_main

sys.exit(console_main())
