"""How much a piece of code grows a fresh interpreter's memory: the peak (VmHWM) over the resident size
once the modules it uses are imported and warmed up, so that the figure is what the code itself costs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MEASURABLE = pytest.mark.skipif(
    not Path("/proc/self/status").exists() or "asan" in os.environ.get("LD_PRELOAD", ""),
    reason="peak memory is read from /proc (Linux), and means nothing under AddressSanitizer's allocator",
)

_PRELUDE = """
import sys
import verifier
from verifier.format.validate import validate
def status(field):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(field))
validate('{"in_shape": [null, 1], "layers": [{"type": "activation", "shape": [null, 1], "weights": []}]}')
base = status("VmRSS:")
"""
_EPILOGUE = """
print(status("VmHWM:") - base, *answer)
"""


def memory_growth(body: str, *args: str) -> tuple[int, list[str]]:
    """Bytes by which ``body`` grows the peak memory of a fresh interpreter (``sys.argv[1:]`` is ``args``;
    ``verifier``, ``validate`` are imported), and the words of the ``answer`` list ``body`` sets."""
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + body + _EPILOGUE, *args], capture_output=True, text=True, check=True
    )
    growth, *answer = done.stdout.split()
    return int(growth), answer
