"""Start-up cost, side by side in one run: ``verify --help`` and ``import verifier`` against
``python -c "import numpy"`` (issue 10's yardstick: within 2x).

    pytest tests/bench/test_startup_bench.py --benchmark-enable --benchmark-only -s

Each command is a fresh interpreter (what a user or a pre-commit hook pays). The ratios print as the last
test ends; they are reported, never asserted (the machines are shared and noisy).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = {
    "import numpy": [sys.executable, "-c", "import numpy"],
    "import verifier": [sys.executable, "-c", "import verifier"],
    "verify --help": [sys.executable, "-m", "verifier", "--help"],
}
_means: dict[str, float] = {}


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_startup(benchmark, name):
    benchmark.pedantic(_run, args=(COMMANDS[name],), rounds=15, warmup_rounds=2)
    _means[name] = benchmark.stats.stats.median
    if len(_means) == len(COMMANDS):
        base = _means["import numpy"]
        for other in ("import verifier", "verify --help"):
            ratio = _means[other] / base
            print(f"\n{other}: {_means[other] * 1e3:.1f} ms median = {ratio:.2f}x import numpy")
