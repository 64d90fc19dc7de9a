"""The verify command freezes the heap right after torch's import (verifier.cli.heap), and only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout.split()


def test_the_heap_is_frozen_once_the_module_has_been_imported_and_not_before():
    words = _run(
        "import gc, sys\n"
        "from verifier.cli.heap import freeze_after_import\n"
        "freeze_after_import('json.tool')\n"
        "import json\n"  # the parent package alone does not count
        "print(gc.get_freeze_count())\n"
        "import json.tool\n"
        "print(gc.get_freeze_count() > 0, 'json.tool' in sys.modules)\n"
        "print(any(type(f).__name__ == '_FreezeAfter' for f in sys.meta_path))\n"
    )
    assert words == ["0", "True", "True", "False"]


def test_a_module_imported_before_is_frozen_at_once():
    words = _run(
        "import gc, json\n"
        "from verifier.cli.heap import freeze_after_import\n"
        "freeze_after_import('json')\n"
        "print(gc.get_freeze_count() > 0)\n"
    )
    assert words == ["True"]


def test_a_module_that_cannot_be_found_still_fails_to_import_as_it_would():
    words = _run(
        "from verifier.cli.heap import freeze_after_import\n"
        "freeze_after_import('no_such_module_here')\n"
        "try:\n    import no_such_module_here\nexcept ModuleNotFoundError as e:\n    print(e.name)\n"
    )
    assert words == ["no_such_module_here"]


def test_the_verify_command_freezes_after_importing_torch():
    words = _run(
        "import gc, sys\n"
        "import verifier.cli as cli\n"
        "seen = []\n"
        "def main():\n"
        "    seen.append(gc.get_freeze_count())\n"
        "    import torch\n"
        "    seen.append(gc.get_freeze_count())\n"
        "    return 0\n"
        "cli.main = main\n"
        "cli.console_main()\n"
        "print(seen[0], seen[1] > 0)\n"
    )
    assert words == ["0", "True"]
