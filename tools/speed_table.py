"""Issue 11's table: the README main job beside ``python -c "import torch"``, on one core, side by side.

    python tools/speed_table.py --rounds 3                     # this checkout's `verify`
    python tools/speed_table.py --before "OLD/bin/python -m verifier" --rounds 2   # an older build beside it

Run from the checkout, after ``verify-production --write fixtures/production/models``. Every command runs
``--rounds`` times, interleaved (torch, then each variant of each build), pinned to one core with
``taskset -c 0`` and measured by ``/usr/bin/time -v`` (GNU time: wall, user and system CPU, and the peak RSS
of the process tree's largest process). Interleaving keeps a machine's changing load from favouring one
command; the table shows the minimum and the median wall, each over torch's own, and the median CPU time
(user + system, children included) over torch's: on a machine other jobs share, CPU time moves much less
with the load than wall time does. The last lines say whether both builds gave the same verdicts (status
and name of every check line). Linux only.
"""

from __future__ import annotations

import argparse
import glob
import re
import shlex
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


def _seconds(text: str) -> float:
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _measure(command: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in bytes, and stdout of one pinned run."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", "taskset", "-c", "0", *command], capture_output=True, text=True, check=False
    )
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    user = re.search(r"User time \(seconds\): (\S+)", done.stderr)
    system = re.search(r"System time \(seconds\): (\S+)", done.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if wall is None or peak is None or user is None or system is None:
        raise SystemExit(f"no measurement for {command[0]}: {done.stderr[-400:]}")
    cpu = float(user.group(1)) + float(system.group(1))
    return _seconds(wall.group(1)), cpu, int(peak.group(1)) * 1024, done.stdout


def _verdicts(stdout: str) -> list[list[str]]:
    return [line.split()[:2] for line in stdout.splitlines() if line.startswith("  ")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--after", default="verify", help="the verify command to measure, split as a shell does"
    )
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
            commands[label] = [*shlex.split(verify), "--manifest", MANIFEST, *extra, *files]
    runs: dict[str, list[tuple[float, float, int, str]]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            runs[name].append(_measure(command))
    torch_walls = [wall for wall, _, _, _ in runs["import torch"]]
    torch_min, torch_median = min(torch_walls), statistics.median(torch_walls)
    torch_cpu = statistics.median(cpu for _, cpu, _, _ in runs["import torch"])
    torch_peak = statistics.median(rss for _, _, rss, _ in runs["import torch"]) / 2**20
    heading = f"run ({args.rounds} rounds interleaved, taskset -c 0)"
    print(
        f"| {heading} | wall min | wall median | x torch (min / median) | CPU median | x torch CPU "
        "| peak RSS (max / median) | over torch's (median) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, measured in runs.items():
        walls = [wall for wall, _, _, _ in measured]
        low, middle = min(walls), statistics.median(walls)
        cpu = statistics.median(c for _, c, _, _ in measured)
        peaks = [rss / 2**20 for _, _, rss, _ in measured]
        ratios = f"{low / torch_min:.2f}x / {middle / torch_median:.2f}x"
        print(
            f"| {name} | {low:.2f} s | {middle:.2f} s | {ratios} | {cpu:.2f} s | {cpu / torch_cpu:.2f}x "
            f"| {max(peaks):.0f} / {statistics.median(peaks):.0f} MiB "
            f"| {statistics.median(peaks) - torch_peak:+.0f} MiB |"
        )
    if args.before:
        for variant in VARIANTS:
            same = _verdicts(runs[f"{variant} (before)"][0][3]) == _verdicts(runs[f"{variant} (after)"][0][3])
            print(f"{variant}: verdicts {'identical' if same else 'DIFFER'} before and after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
