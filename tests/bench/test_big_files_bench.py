"""Cost in proportion to the file (issue 16): ``validate``, ``load`` float32/float64 and ``verify
--no-manifest`` on generated files of 1, 20 and 200 MB of each class of verifier.testing.big_files (a valid
model, a valid model plus a large array under an unknown key, a wrongly shaped kernel, rows under a width
beyond the limit). Each run is a fresh process; its peak RSS (VmHWM, read by the child itself) and that of
the same command on a tiny file of the same class (the interpreter's baseline) go into ``extra_info``.
Files are written into a temporary folder at bench time, never committed.

    pytest tests/bench/test_big_files_bench.py --benchmark-enable --benchmark-only [-k "20mb"]

Timings are recorded, never asserted; ``tools/measure_big.py`` prints the same figures as a table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from verifier.testing.big_files import CLASSES, model_text, write

# The command runs in the child, which reports its own peak (VmHWM: ru_maxrss would survive exec and hold
# the peak of the process that started it).
_CHILD = """
import sys
command, path = sys.argv[1], sys.argv[2]
if command == "validate":
    from verifier.format.validate import validate
    validate(path)
elif command.startswith("load"):
    import verifier
    try:
        verifier.load(path, "float32" if command == "load32" else "float64")
    except verifier.ModelFormatError:
        pass
else:
    from verifier.cli import main
    try:
        main(["--no-manifest", "--no-timing", "--format", "json", "--output", "/dev/null", path])
    except SystemExit:
        pass
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""
COMMANDS = ("validate", "load32", "load64", "verify")


def _peak(command: str, path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, command, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tmp_path_factory.mktemp("big")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", CLASSES)
@pytest.mark.parametrize("megabytes", [1, 20, 200], ids=lambda mb: f"{mb}mb")
def test_cost_of_a_large_file(benchmark, files, megabytes, kind, command):
    path = files / f"{kind}-{megabytes}mb.json"
    if not path.exists():
        write(files, kind, megabytes)
    # The baseline runs the same code path: a file of the same class a few bytes long (a refused file never
    # imports torch, an accepted one does).
    baseline_file = files / f"{kind}-baseline.json"
    if not baseline_file.exists():
        baseline_file.write_text(model_text(kind, 10))
    peaks: list[int] = []
    benchmark.pedantic(lambda: peaks.append(_peak(command, path)), rounds=1, iterations=1)
    baseline = _peak(command, baseline_file)
    size = path.stat().st_size
    benchmark.extra_info.update(
        {
            "file_mb": size / 2**20,
            "peak_rss_mb": peaks[-1] / 2**20,
            "baseline_rss_mb": baseline / 2**20,
            "peak_over_baseline_per_file_size": (peaks[-1] - baseline) / size,
        }
    )
