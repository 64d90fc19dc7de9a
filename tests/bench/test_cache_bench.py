"""A second ``verify`` with nothing changed (every file served by the result cache) against
``python -c "import torch"``, side by side in one run, on one core (issue 21 item 8's goal: under 0.5x).

    pytest tests/bench/test_cache_bench.py --benchmark-enable --benchmark-only -s

The job is the README's main job on the five production models (their manifest, factories, timing and
the RSS cross-check), run once to fill the cache and then timed; each round runs ``import torch`` and the
job as fresh processes pinned to the same core. The ratio prints and lands in ``extra_info``; nothing is
asserted about time (the machines are shared and noisy), only that the timed job was served every file.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "fixtures" / "production" / "manifest.json"
VERIFY = [sys.executable, "-c", "import sys; from verifier.cli import console_main; sys.exit(console_main())"]
# --cache: the figure is the cached run's, also where CI=true would turn the cache off.
JOB_OPTIONS = ["--manifest", str(MANIFEST), "--cache"]


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_one_core,
        check=False,
    )
    return time.perf_counter() - start


def test_a_second_verify_with_nothing_changed_against_import_torch(benchmark, production_exports):
    files = sorted(str(p) for p in production_exports.glob("*.json"))
    job = [*VERIFY, *JOB_OPTIONS, *files]
    subprocess.run(job, cwd=ROOT, capture_output=True, check=False)  # fills the cache (or finds it full)
    second = subprocess.run(job, cwd=ROOT, capture_output=True, text=True, check=False)
    assert second.stdout.count("(cached:") == len(files), second.stdout + second.stderr
    pairs: list[tuple[float, float]] = []

    def round_() -> None:
        pairs.append((_wall([sys.executable, "-c", "import torch"]), _wall(job)))

    benchmark.pedantic(round_, rounds=7, iterations=1)
    torch_median = statistics.median(t for t, _ in pairs)
    job_median = statistics.median(j for _, j in pairs)
    ratio = job_median / torch_median
    benchmark.extra_info.update(
        {"import_torch_s": torch_median, "cached_job_s": job_median, "ratio_of_medians": ratio}
    )
    print(
        f"\nsecond verify, nothing changed: {job_median * 1e3:.0f} ms median; import torch: "
        f"{torch_median * 1e3:.0f} ms median; ratio {ratio:.2f}x (goal < 0.5x)"
    )
