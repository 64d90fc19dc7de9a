"""Issue 26's side-by-side run under pytest-benchmark: the engine beside RTNeural's dynamic model and ModelT,
Eigen and xsimd, plain and AVX flags, interleaved on one core (the design and the statistical rule:
tests/bench/side_by_side.py, which also runs alone and prints the same tables).

    RTNEURAL_DIR=../shared/rtneural pytest tests/bench/test_rtneural_builds_bench.py --benchmark-enable \\
        --benchmark-only -s

Environment: RTV_BENCH_ROUNDS (default 15), RTV_BENCH_CASES (comma-separated, default every case:
"stream,frame,silence,silence +FTZ"), RTV_BENCH_BASELINE_ENGINE (a git revision or checkout of an
older engine, timed in the same rounds as ``engine-before``), RTV_BENCH_SIDE_BY_SIDE_JSON (a file to write
every figure and the machine to; they are also in the benchmark's ``extra_info``). Skips, saying why, when
RTNEURAL_DIR names no RTNeural checkout or no compiler or CMake is there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from side_by_side import CASES, campaign, case_name, report
from timing_workers import compiler


def test_engine_beside_every_rtneural_build(benchmark, capsys: pytest.CaptureFixture[str]) -> None:
    named = os.environ.get("RTNEURAL_DIR", "")
    if not named or not (Path(named) / "RTNeural" / "RTNeural.h").is_file():
        pytest.skip(f"RTNEURAL_DIR={named!r} names no RTNeural checkout: nothing to time the engine beside")
    if compiler() is None or shutil.which("cmake") is None:
        pytest.skip("no C++ compiler or no cmake to build the timing workers")
    rounds = int(os.environ.get("RTV_BENCH_ROUNDS", "15"))
    baseline = os.environ.get("RTV_BENCH_BASELINE_ENGINE") or None
    known = {case_name(*case): case for case in CASES}
    wanted = [c.strip() for c in os.environ.get("RTV_BENCH_CASES", ",".join(known)).split(",")]
    if any(c not in known for c in wanted):
        pytest.fail(f"RTV_BENCH_CASES={wanted}: each must be one of {sorted(known)}", pytrace=False)

    with capsys.disabled():  # the campaign's progress lines, a round at a time
        result = benchmark.pedantic(
            campaign,
            args=(rounds, Path(named)),
            kwargs={"baseline": baseline, "cases": [known[c] for c in wanted]},
            rounds=1,
            iterations=1,
        )

    figures = result.as_json()
    benchmark.extra_info["side_by_side"] = figures
    if os.environ.get("RTV_BENCH_SIDE_BY_SIDE_JSON"):
        Path(os.environ["RTV_BENCH_SIDE_BY_SIDE_JSON"]).write_text(json.dumps(figures, indent=1) + "\n")
    with capsys.disabled():
        print("\n" + report(result))
