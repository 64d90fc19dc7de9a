"""Reading the largest production export (MelodyTransformer, 13.5 MB): time and peak memory of the native
reader beside Python's ``json.loads``, each in a fresh process so that the peak is the parse's own.

Run with ``tox -e bench`` or ``pytest tests/bench/test_reader_bench.py --benchmark-enable --benchmark-only``.
``extra_info`` holds the peak RSS growth over the file size (issue 11's goal: at most 3x) for both readers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.format.reader.document import read

# Peak RSS growth of one parse, in a fresh interpreter (Linux: /proc): the growth counts the bytes read (they
# are alive while the parse runs) but not the interpreter itself.
_PEAK = """
import resource, sys
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()
path, reader = sys.argv[1], sys.argv[2]
if reader == "native":
    import _verifier_engine as engine
    parse = lambda data: engine.read_json(data, 64)  # Limits().max_depth; the reader has no default
else:
    import json
    parse = json.loads
base = rss()
with open(path, "rb") as handle:
    document = parse(handle.read())
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would hold the peak of the process that started us.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(peak - base)
"""


def _peak_growth(path: str, reader: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, path, reader], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.fixture(scope="module")
def largest(production_exports):
    return max(production_exports.glob("*.json"), key=lambda p: p.stat().st_size)


def test_native_read_of_the_largest_export(benchmark, largest):
    if not Path("/proc/self/status").exists():
        pytest.skip("the peak is read from /proc (Linux)")
    document = benchmark(read, str(largest))
    assert document.native is not None
    size = largest.stat().st_size
    native, python = _peak_growth(str(largest), "native"), _peak_growth(str(largest), "json")
    benchmark.extra_info.update(
        {
            "file_mb": size / 2**20,
            "native_peak_over_size": native / size,
            "json_loads_peak_over_size": python / size,
        }
    )


def test_json_loads_of_the_largest_export(benchmark, largest):
    data = largest.read_bytes()
    assert isinstance(benchmark(json.loads, data), dict)
