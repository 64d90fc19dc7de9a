"""Issue 11's table: the README main job beside ``python -c "import torch"``, on one core, side by side.

    python tools/speed_table.py --rounds 3                                  # this checkout's `verify`
    python tools/speed_table.py --before OLD_VENV/bin/verify --rounds 2     # and an older build beside it

Run from the checkout, after ``verify-production --write fixtures/production/models``. Every command runs
``--rounds`` times, interleaved (torch, then each variant of each build), pinned to one core with
``taskset -c 0`` and measured by ``/usr/bin/time -v`` (GNU time: wall and the peak RSS of the process tree's
largest process). Interleaving keeps a machine's changing load from favouring one command; the table shows
the minimum and the median wall, each over torch's own. The last lines say whether both builds gave the
same verdicts (status and name of every check line). Linux only.
"""

from __future__ import annotations

import argparse
import glob
import re
import statistics
import subprocess
import sys
from pathlib import Path

MANIFEST = "fixtures/production/manifest.json"
VARIANTS = {
    "main job": [],
    "--no-timing": ["--no-timing"],
    "--no-timing --rss-copies 0": ["--no-timing", "--rss-copies", "0"],
}


def _measure(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes, and stdout of one pinned run."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", "taskset", "-c", "0", *command], capture_output=True, text=True, check=False
    )
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if wall is None or peak is None:
        raise SystemExit(f"no measurement for {command[0]}: {done.stderr[-400:]}")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return seconds, int(peak.group(1)) * 1024, done.stdout


def _verdicts(stdout: str) -> list[list[str]]:
    return [line.split()[:2] for line in stdout.splitlines() if line.startswith("  ")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after", default="verify", help="the verify command to measure (default: verify)")
    parser.add_argument("--before", help="an older build's verify command, measured beside it")
    args = parser.parse_args(argv)
    files = sorted(glob.glob("fixtures/production/models/*.json"))
    if not Path(MANIFEST).is_file() or not files:
        raise SystemExit("run from the checkout after verify-production --write fixtures/production/models")
    builds = {"after": args.after, **({"before": args.before} if args.before else {})}
    commands = {"import torch": [sys.executable, "-c", "import torch"]}
    for variant, extra in VARIANTS.items():
        for build, verify in sorted(builds.items(), reverse=len(builds) > 1):
            label = f"{variant} ({build})" if len(builds) > 1 else variant
            commands[label] = [verify, "--manifest", MANIFEST, *extra, *files]
    runs: dict[str, list[tuple[float, int, str]]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            runs[name].append(_measure(command))
    torch_min = min(wall for wall, _, _ in runs["import torch"])
    torch_median = statistics.median(wall for wall, _, _ in runs["import torch"])
    heading = f"run ({args.rounds} rounds interleaved, taskset -c 0)"
    print(f"| {heading} | wall min | wall median | x torch (min / median) | peak RSS |")
    print("|---|---|---|---|---|")
    for name, measured in runs.items():
        walls = [wall for wall, _, _ in measured]
        low, middle = min(walls), statistics.median(walls)
        peak = max(rss for _, rss, _ in measured) / 2**20
        ratios = f"{low / torch_min:.2f}x / {middle / torch_median:.2f}x"
        print(f"| {name} | {low:.2f} s | {middle:.2f} s | {ratios} | {peak:.0f} MiB |")
    if args.before:
        for variant in VARIANTS:
            same = _verdicts(runs[f"{variant} (before)"][0][2]) == _verdicts(runs[f"{variant} (after)"][0][2])
            print(f"{variant}: verdicts {'identical' if same else 'DIFFER'} before and after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
