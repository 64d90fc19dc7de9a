"""``python -m verifier``: the same as the ``verify`` command."""

import sys

from verifier.cli import main

sys.exit(main())
