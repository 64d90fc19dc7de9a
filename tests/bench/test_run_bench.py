"""The README main job against ``python -c "import torch"``, side by side in one run, on one core.

Run with ``tox -e bench`` or ``pytest tests/bench/test_run_bench.py --benchmark-enable --benchmark-only``.
Each round runs ``import torch`` and then the job as fresh processes pinned to the same core; the benchmark
times the job, and ``extra_info`` holds the two walls and their ratio per variant (issue 11's goals: the main
job <= 2.0x, ``--no-timing`` <= 1.3x), the same ratio in CPU time (user + system, the RSS cross-check's
process included: on a machine other jobs share, CPU time moves much less with the load than wall time) and
the peak RSS of each against torch's own (goal: + 64 MB at most). Nothing is asserted about time: the
figures are for the report (``tools/speed_table.py`` prints the same comparison as a table).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "fixtures" / "production" / "manifest.json"
VERIFY = [
    *[sys.executable, "-c", "import sys; from verifier.cli import console_main; sys.exit(console_main())"],
    "--no-cache",  # every round checks the files: the cached run has its own benchmark (test_cache_bench)
]
VARIANTS = {
    "main-job": [],
    "no-timing": ["--no-timing"],
    "no-timing-no-rss": ["--no-timing", "--rss-copies", "0"],
}


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _run(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (its waited-for children included) and peak RSS (bytes) of ``command`` as a
    fresh process on one core."""
    start = time.perf_counter()
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_one_core
    ) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def _median_ratio(pairs: list[tuple[float, float]]) -> float:
    """The job's median over torch's median (each of (torch, job) per round)."""
    return statistics.median(job for _, job in pairs) / statistics.median(torch for torch, _ in pairs)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_main_job_against_import_torch(benchmark, variant, production_exports):
    files = sorted(str(p) for p in production_exports.glob("*.json"))
    job = [*VERIFY, "--manifest", str(MANIFEST), *VARIANTS[variant], *files]
    walls: list[tuple[float, float]] = []
    cpus: list[tuple[float, float]] = []
    peaks: list[tuple[int, int]] = []

    def round_() -> None:
        torch_wall, torch_cpu, torch_peak = _run([sys.executable, "-c", "import torch"])
        job_wall, job_cpu, job_peak = _run(job)
        walls.append((torch_wall, job_wall))
        cpus.append((torch_cpu, job_cpu))
        peaks.append((torch_peak, job_peak))

    benchmark.pedantic(round_, rounds=3, iterations=1)
    best_torch = min(t for t, _ in walls)
    best_job = min(j for _, j in walls)
    benchmark.extra_info.update(
        {
            "import_torch_s": best_torch,
            "job_s": best_job,
            "ratio_of_best": best_job / best_torch,
            "ratio_of_medians": _median_ratio(walls),
            "ratios_per_round": [j / t for t, j in walls],
            "cpu_ratio_of_medians": _median_ratio(cpus),
            "torch_peak_mb": max(t for t, _ in peaks) / 2**20,
            "job_peak_mb": max(j for _, j in peaks) / 2**20,
            "job_peak_over_torch_mb": statistics.median((j - t) / 2**20 for t, j in peaks),
        }
    )
