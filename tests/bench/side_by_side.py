"""Issue 26's side-by-side table: the engine beside every way a plugin builds RTNeural, one run, one core.

    python tests/bench/side_by_side.py --rounds 21 --json build/side_by_side.json

Runtimes (each a C++ worker with one timing loop, tests/bench/cpp/harness.h; see tests/timing_workers.py):
``engine`` (native/ of this checkout, compiled with native/engine.cmake's options), ``engine-before`` when
$RTV_BENCH_BASELINE_ENGINE names a git revision of this repository (or a checkout holding native/), and
RTNeural from $RTNEURAL_DIR (default ../shared/rtneural) as each production model's dynamic ``Model<float>``
and its ``ModelT`` (the type ``verify modelt`` prints), each built four ways: Eigen or xsimd backend, with
RTNeural's plain flags (-O3) or its RTNEURAL_USE_AVX flags (-mavx2 -mfma).

Cases: ``stream`` (random [-1, 1] inputs, state carried: the plugin's call), ``frame`` (reset before each
step, outside the timed span), and ``silence`` (200 steps of signal, then the timed steps all zeros: hidden
states decaying towards zero is where denormals appear) with flush-to-zero/denormals-are-zero off and on.
Every timed span starts and stops ``steady_clock`` inside C++. A model whose step takes under
``BLOCK_BELOW_NS`` (calibrated on the engine at start) is timed over spans of ``BLOCK`` forward() calls,
divided, so that the ~30 ns of clock reads do not decide the ratio; its p99 is then the p99 of those block
means. Each measurement takes 1,000 spans of one call, or 250 spans of ``BLOCK`` calls.

The statistical rule. All workers are pinned to the same single core and started afresh every round
(where a process's weights land in memory changes its speed for its whole life: two processes of one and
the same engine differed by 13 % when kept for the whole run). In each of R rounds, every (case, model,
runtime) is measured once, in an order shuffled per round by a seeded RNG, so that a change of the
machine's load during the run falls on every runtime alike. A measurement's figure is its p50 (and p99).
Per round, the ratio engine p50 / runtime p50 pairs two measurements made seconds apart; the reported
ratio is the geometric mean over rounds, with a 95 % confidence interval from Student's t on the log
ratios (R - 1 degrees of freedom): ratios are multiplicative, their logs are close to normal with
symmetric noise, and t is exact for small R where a bootstrap's percentile interval is too narrow. Verdict
per model and runtime: "faster" when the interval's upper bound is below 1, "slower" when its lower bound
is above 1, else "indistinguishable". The p50 and p99 shown are medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing_workers import (
    BUILDS,
    ROOT,
    RTNeuralBuild,
    Worker,
    WorkerError,
    build_engine_worker,
    build_rtneural_worker,
    compiler,
    compiler_version,
    engine_arguments,
    native_of_revision,
    rtneural_commit,
)

MANIFEST = ROOT / "fixtures" / "production" / "manifest.json"
BLOCK = 64
BLOCK_BELOW_NS = 1000.0
SPANS = 1000  # per measurement of one call per span
BLOCK_SPANS = 250  # per measurement of BLOCK calls per span
SEED = 26
CASES = (("stream", False), ("frame", False), ("silence", False), ("silence", True))
ENGINE = "engine"
BASELINE = "engine-before"
# Student's t, two-sided 95 %, by degrees of freedom; above 30 the normal's 1.96 is within 4 %.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def t975(df: int) -> float:
    return _T975[df - 1] if df <= len(_T975) else 1.96


@dataclass(frozen=True)
class Runtime:
    label: str  # "engine", "engine-before", "eigen-avx ModelT", ...
    worker: str  # key of the worker that runs it
    kind: str  # the worker's KIND: engine, dynamic, modelt


@dataclass(frozen=True)
class Ratio:
    """engine p50 / runtime p50: geometric mean over rounds and its 95 % interval."""

    mean: float
    low: float
    high: float
    rounds: int

    @property
    def verdict(self) -> str:
        if self.high < 1.0:
            return "faster"
        if self.low > 1.0:
            return "slower"
        return "indistinguishable"

    def text(self) -> str:
        return f"{self.mean:.2f}x [{self.low:.2f}, {self.high:.2f}]"


def paired_ratio(engine: Sequence[float], other: Sequence[float]) -> Ratio:
    """The rule of the module docstring, over per-round p50s measured in the same rounds."""
    logs = [math.log(a / b) for a, b in zip(engine, other, strict=True)]
    mean = statistics.fmean(logs)
    half = t975(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else math.inf
    return Ratio(math.exp(mean), math.exp(mean - half), math.exp(mean + half), len(logs))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics, as numpy's default."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Campaign:
    """Everything one run measured, and the machine it ran on."""

    machine: dict[str, Any]
    runtimes: list[Runtime]
    models: list[str]
    blocks: dict[str, int]
    rounds: int
    # case -> model -> runtime label -> per-round (p50, p99) in ns
    figures: dict[str, dict[str, dict[str, list[tuple[float, float]]]]] = field(default_factory=dict)

    def p50s(self, case: str, model: str, runtime: str) -> list[float]:
        return [p50 for p50, _ in self.figures[case][model][runtime]]

    def median(self, case: str, model: str, runtime: str, index: int) -> float:
        return statistics.median(f[index] for f in self.figures[case][model][runtime])

    def ratio(self, case: str, model: str, runtime: str) -> Ratio:
        return paired_ratio(self.p50s(case, model, ENGINE), self.p50s(case, model, runtime))

    def fastest_rtneural(self, case: str, model: str) -> str:
        rtneural = [r.label for r in self.runtimes if r.kind in ("dynamic", "modelt")]
        return min(rtneural, key=lambda label: self.median(case, model, label, 0))

    def as_json(self) -> dict[str, Any]:
        rows = []
        for case in self.figures:
            for model in self.models:
                for runtime in self.runtimes:
                    row: dict[str, Any] = {
                        "case": case,
                        "model": model,
                        "runtime": runtime.label,
                        "p50_ns": self.median(case, model, runtime.label, 0),
                        "p99_ns": self.median(case, model, runtime.label, 1),
                        "per_round": self.figures[case][model][runtime.label],
                    }
                    if runtime.label != ENGINE:
                        ratio = self.ratio(case, model, runtime.label)
                        row["engine_over_runtime"] = {**asdict(ratio), "verdict": ratio.verdict}
                    rows.append(row)
        return {
            "machine": self.machine,
            "rounds": self.rounds,
            "models": self.models,
            "runtimes": [asdict(r) for r in self.runtimes],
            "rule": "geometric mean of per-round engine/runtime p50 ratios, 95% Student t interval on logs",
            "blocks": self.blocks,
            "rows": rows,
        }


def campaign_from_json(data: dict[str, Any]) -> Campaign:
    """A campaign written by :meth:`Campaign.as_json`, for printing its tables again without a run."""
    runtimes = [Runtime(**r) for r in data["runtimes"]]
    result = Campaign(
        data["machine"], runtimes, list(data["models"]), dict(data["blocks"]), int(data["rounds"])
    )
    for row in data["rows"]:
        cells = result.figures.setdefault(row["case"], {}).setdefault(row["model"], {})
        cells[row["runtime"]] = [(float(p50), float(p99)) for p50, p99 in row["per_round"]]
    return result


def case_name(pattern: str, ftz: bool) -> str:
    return f"{pattern}{' +FTZ' if ftz else ''}"


def production_models(folder: Path) -> list[tuple[str, Path]]:
    """The five production exports: fixtures/production/models when written, else written into *folder*."""
    entries = json.loads(MANIFEST.read_text())["models"]
    shipped = [(e["name"], MANIFEST.parent / e["file"]) for e in entries]
    if all(path.is_file() for _, path in shipped):
        return shipped
    from verifier.production import write_exports

    written = {w.model: w.path for w in write_exports(folder)}
    return [(e["name"], written[e["name"]]) for e in entries]


def baseline_native(spec: str) -> Path:
    """native/ of $RTV_BENCH_BASELINE_ENGINE: a checkout (or its native/) or a git revision of this repo."""
    path = Path(spec)
    for candidate in (path / "native", path):
        if (candidate / "engine.cmake").is_file():
            return candidate
    if path.exists():
        raise WorkerError(
            f"RTV_BENCH_BASELINE_ENGINE={spec}: no native/engine.cmake there; the baseline is compiled from "
            "source with the same timing loop, so name a checkout or a git revision (e.g. main~3), not a "
            "built module"
        )
    return native_of_revision(spec)


def machine(rtneural_dir: Path, builds: Sequence[RTNeuralBuild], core: int) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cxx = compiler() or "none"
    try:  # the engine workers pick the level the module picks: same dispatch code, CPU and environment
        import _verifier_engine

        level = str(_verifier_engine.simd_level())
    except ImportError:
        level = "unknown (_verifier_engine not importable)"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "pinned_core": core,
        "load_average_before": os.getloadavg(),
        "compiler": compiler_version(cxx),
        "rtneural_dir": str(rtneural_dir),
        "rtneural_commit": rtneural_commit(rtneural_dir),
        "rtneural_flags": {b.name: " ".join(b.flags(Path("$RTNEURAL_DIR"))) for b in builds},
        "engine_level": level,
        "engine_flags": "engine.cmake: -O3 -fno-math-errno -ffp-contract=off; kernels dispatched at load",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def prepare_workers(
    rtneural_dir: Path,
    models: list[tuple[str, Path]],
    builds: Sequence[RTNeuralBuild],
    baseline: str | None,
) -> tuple[dict[str, tuple[Path, list[str]]], list[Runtime]]:
    """Each worker's program (built or reused) and arguments, and the runtimes they serve."""
    pairs = [f"{name}={path}" for name, path in models]
    engine = [*engine_arguments(), *pairs]
    commands = {ENGINE: (build_engine_worker(ROOT / "native"), engine)}
    runtimes = [Runtime(ENGINE, ENGINE, "engine")]
    if baseline:
        commands[BASELINE] = (build_engine_worker(baseline_native(baseline)), engine)
        runtimes.append(Runtime(BASELINE, BASELINE, "engine"))
    for build in builds:
        commands[build.name] = (build_rtneural_worker(build, rtneural_dir, models), pairs)
        runtimes.append(Runtime(f"{build.name} dynamic", build.name, "dynamic"))
        runtimes.append(Runtime(f"{build.name} ModelT", build.name, "modelt"))
    return commands, runtimes


def measure(
    worker: Worker, runtime: Runtime, model: str, pattern: str, ftz: bool, block: int
) -> tuple[float, float]:
    block = 1 if pattern == "frame" else block
    ns = worker.time(model, runtime.kind, pattern, SPANS if block == 1 else BLOCK_SPANS, block, ftz)
    return percentile(ns, 0.5), percentile(ns, 0.99)


def campaign(
    rounds: int,
    rtneural_dir: Path,
    builds: Sequence[RTNeuralBuild] = BUILDS,
    baseline: str | None = None,
    cases: Sequence[tuple[str, bool]] = CASES,
    core: int | None = None,
    progress: bool = True,
) -> Campaign:
    """Builds (or reuses) every worker and runs *rounds* interleaved rounds."""
    core = max(os.sched_getaffinity(0)) if core is None else core
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as folder:
        models = production_models(Path(folder))
        info = machine(rtneural_dir, builds, core)
        commands, runtimes = prepare_workers(rtneural_dir, models, builds, baseline)
        names = [name for name, _ in models]
        result = Campaign(info, runtimes, names, {}, rounds)
        cells = [(case, n, r) for case in cases for n in names for r in runtimes]
        for case in cases:
            result.figures[case_name(*case)] = {n: {r.label: [] for r in runtimes} for n in names}
        rng = random.Random(SEED)
        for round_ in range(rounds):
            # Fresh processes every round (module docstring): the memory layout a process drew becomes
            # part of each round's noise instead of a bias paired into every round.
            workers: dict[str, Worker] = {}
            try:
                for key, (program, arguments) in commands.items():
                    workers[key] = Worker(program, arguments, core)
                if not result.blocks:
                    for name in names:
                        calibration = workers[ENGINE].time(name, "engine", "stream", 200, 1, False)
                        result.blocks[name] = BLOCK if percentile(calibration, 0.5) < BLOCK_BELOW_NS else 1
                rng.shuffle(cells)
                for (pattern, ftz), name, runtime in cells:
                    figure = measure(
                        workers[runtime.worker], runtime, name, pattern, ftz, result.blocks[name]
                    )
                    result.figures[case_name(pattern, ftz)][name][runtime.label].append(figure)
            finally:
                for worker in workers.values():
                    worker.close()
            if progress:
                print(f"round {round_ + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    result.machine["load_average_after"] = os.getloadavg()
    return result


def _us(ns: float) -> str:
    return f"{ns / 1000:.3g} µs" if ns < 1e5 else f"{ns / 1e6:.3g} ms"


def _short(label: str) -> str:
    return label.replace(" dynamic", " dyn")


def table_speed(result: Campaign, case: str = "stream") -> str:
    """Per model: every runtime's p50 per step (median over rounds)."""
    labels = [r.label for r in result.runtimes]
    lines = [
        f"| {case}: p50 per step | " + " | ".join(_short(label) for label in labels) + " |",
        "|---" * (len(labels) + 1) + "|",
    ]
    for model in result.models:
        block = f" (blocks of {result.blocks[model]})" if result.blocks[model] > 1 else ""
        cells = [_us(result.median(case, model, label, 0)) for label in labels]
        lines.append(f"| {model}{block} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_verdicts(result: Campaign, case: str = "stream") -> str:
    """The engine against the fastest RTNeural build of each model, the default build, and the baseline."""
    default = "eigen dynamic"  # what `RTNEURAL_DIR=... pip install` and a plugin without a ModelT get
    labels = [r.label for r in result.runtimes]
    compared = [label for label in (default, BASELINE) if label in labels]
    heading = " | ".join(f"engine / {_short(label)} [95% CI]" for label in compared)
    lines = [
        f"| {case} | fastest RTNeural build (p50) | engine / fastest [95% CI] | verdict | {heading} |",
        "|---" * (4 + len(compared)) + "|",
    ]
    for model in result.models:
        fastest = result.fastest_rtneural(case, model)
        ratio = result.ratio(case, model, fastest)
        others = [result.ratio(case, model, label) for label in compared]
        p50 = _us(result.median(case, model, fastest, 0))
        lines.append(
            f"| {model} | {_short(fastest)} ({p50}) | {ratio.text()} | {ratio.verdict} | "
            + " | ".join(f"{o.text()} {o.verdict}" for o in others)
            + " |"
        )
    return "\n".join(lines)


def table_ratios(result: Campaign, case: str = "stream") -> str:
    """engine / runtime with its interval and verdict, for every runtime."""
    others = [r.label for r in result.runtimes if r.label != ENGINE]
    lines = [
        f"| {case}: engine / runtime | " + " | ".join(_short(label) for label in others) + " |",
        "|---" * (len(others) + 1) + "|",
    ]
    for model in result.models:
        cells = []
        for label in others:
            ratio = result.ratio(case, model, label)
            cells.append(f"{ratio.text()} {ratio.verdict}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_silence(result: Campaign) -> str:
    """Signal then silence: p50 / p99 per step of every runtime, flush-to-zero off, then on."""
    cases = [c for c in result.figures if c.startswith("silence")]
    lines = [
        "| silence after signal: p50 / p99 | " + " | ".join(result.models) + " |",
        "|---" * (len(result.models) + 1) + "|",
    ]
    for runtime in result.runtimes:
        for case in cases:
            cells = [
                " / ".join(_us(result.median(case, m, runtime.label, i)) for i in (0, 1))
                for m in result.models
            ]
            lines.append(f"| {_short(runtime.label)}, {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(result: Campaign) -> str:
    m = result.machine
    head = (
        f"{m['cpu']}, {m['cores']} cores, all workers pinned to core {m['pinned_core']}; load average "
        f"{m['load_average_before'][0]:.2f} before, {m['load_average_after'][0]:.2f} after; {m['compiler']}; "
        f"RTNeural {m['rtneural_commit']}; engine level {m['engine_level']}; {result.rounds} rounds; "
        f"started {m['started']}"
    )
    parts = [head]
    for case in result.figures:
        if not case.startswith("silence"):
            parts += [table_speed(result, case), table_verdicts(result, case), table_ratios(result, case)]
    if any(c.startswith("silence") for c in result.figures):
        parts.append(table_silence(result))
    parts.append(
        "RTNeural flags per build: " + "; ".join(f"{k}: {v}" for k, v in m["rtneural_flags"].items())
    )
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", type=Path, help="also write every figure and the machine as JSON here")
    parser.add_argument("--core", type=int, help="the core to pin every worker to (default: the last one)")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="print the tables of a run written by --json, run nothing",
    )
    parser.add_argument(
        "--cases",
        default=",".join(case_name(*c) for c in CASES),
        help="comma-separated, e.g. 'stream,silence +FTZ'",
    )
    args = parser.parse_args(argv)
    if args.from_json is not None:
        return _print_saved(args.from_json)
    known = {case_name(*c): c for c in CASES}
    wanted = [c.strip() for c in args.cases.split(",")]
    if args.rounds < 2 or any(c not in known for c in wanted):
        parser.error(f"--rounds must be at least 2 and --cases among {sorted(known)}")
    rtneural_dir = Path(os.environ.get("RTNEURAL_DIR", ROOT.parent / "shared" / "rtneural"))
    if not (rtneural_dir / "RTNeural" / "RTNeural.h").is_file():
        parser.error(f"RTNEURAL_DIR={rtneural_dir} is not an RTNeural checkout (no RTNeural/RTNeural.h)")
    try:
        result = campaign(
            args.rounds,
            rtneural_dir,
            baseline=os.environ.get("RTV_BENCH_BASELINE_ENGINE") or None,
            cases=[known[c] for c in wanted],
            core=args.core,
        )
    except WorkerError as error:
        print(f"side_by_side: {error}", file=sys.stderr)
        return 1
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.as_json(), indent=1) + "\n")
    return 0


MAX_SAVED_BYTES = 64 * 1024 * 1024  # a 21-round run of every case writes about 0.3 MB


def _print_saved(path: Path) -> int:
    try:
        if not path.is_file():
            raise ValueError("not a regular file")
        if path.stat().st_size > MAX_SAVED_BYTES:
            raise ValueError(f"larger than {MAX_SAVED_BYTES} bytes")
        result = campaign_from_json(json.loads(path.read_text(encoding="utf-8")))
        text = report(result)
    except (OSError, ValueError, KeyError, TypeError, IndexError, StopIteration, ZeroDivisionError) as error:
        print(
            f"side_by_side: {path}: not a run written by --json: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
