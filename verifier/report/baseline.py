"""Compare a run with an earlier JSON report: parameter changes, error growth, latency regressions, and every
way the gate itself was loosened.

Each file gets one ``baseline`` check. The margins below separate a regression from run-to-run noise:

* **Parameters** are exact: any change in the numbers the JSON carries is flagged (a retrained model with
  another architecture must be an intended change, recorded by refreshing the baseline).
* **Numeric error** is deterministic for the same file, inputs and build, so it only moves when the export
  or the engine's arithmetic changes. A compiler or BLAS-free reordering of sums moves it by round-off, so
  growth is flagged when the error more than doubles *and* grows by more than ``error_floor_fraction``
  (1%) of the check's own ``atol`` (1e-7 for float32's 1e-5: about one float32 ulp at 1.0; below that it is
  rounding, not a defect).
* **Latency** is compared on the median (p50) of each call pattern, never on p99: on a shared machine
  p99 is the scheduler's figure more than the model's (it varied up to 1.6x between repetitions in the
  measurement below, p50 at most 1.09x). A regression is a p50 more than ``latency_ratio`` (1.25, +25%)
  above the baseline *and* more than ``latency_floor_ns`` (100 ns) slower. Measured on the development
  machine (2 cores, shared; six separate processes, ``Model.time_forward(2000, 200, ...)`` per model and
  call pattern): p50 varied by at most 8.5% between runs (DynamicsEngine, 351-381 ns) and by at most
  0.82 µs absolute (MelodyTransformer, ~21 µs). +25% is about three times the worst relative variation;
  the 100 ns floor is three times the largest absolute variation of the sub-µs models, where 25% would
  be a few timer ticks.
* **Loosening** is a pull request making the gate easier to pass while every figure looks fine: a larger
  ``atol``/``rtol`` (beyond 1% of the baseline's: the tolerance policy moves it only with the model), a
  tolerance from another origin (the manifest or the command line instead of the policy), another reference
  (a swapped factory, a checkpoint, the JSON's own rebuild), another ``plugin_call``/``torch_call``, fewer
  compared steps, or a check the baseline judged that is now skipped. Each is flagged (the check fails, like a
  regression) and listed under ``figures.loosened``; reports list them first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from verifier.checks.results import FAIL, PASS, SKIP, Check, FileResult, RunResult


@dataclass(frozen=True)
class Margins:
    latency_ratio: float = 1.25
    latency_floor_ns: float = 100.0
    error_ratio: float = 2.0
    error_floor_fraction: float = 0.01


def _figure(result: FileResult, check: str, *keys: str) -> Any:
    found = result.check(check)
    value: Any = None if found is None else found.figures
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _matching(baseline: RunResult, current: FileResult) -> FileResult | None:
    by_path = {f.path: f for f in baseline.files}
    if current.path in by_path:
        return by_path[current.path]
    if current.model:
        named = [f for f in baseline.files if f.model == current.model]
        if len(named) == 1:
            return named[0]
    return None


def compare_file(before: FileResult, now: FileResult, margins: Margins = Margins()) -> Check:
    """One ``baseline`` check: every regression of ``now`` against ``before``, each with its figures."""
    problems: list[str] = []
    figures: dict[str, Any] = {"margins": asdict(margins), "baseline_path": before.path}

    old_params, new_params = _figure(before, "parameters", "json"), _figure(now, "parameters", "json")
    figures["parameters"] = {"before": old_params, "now": new_params}
    if old_params is not None and new_params is not None and old_params != new_params:
        problems.append(f"parameters changed {old_params:,} -> {new_params:,} ({new_params - old_params:+,})")

    for name in ("numeric-frame", "numeric-stream"):
        old, new = _figure(before, name, "max_abs_error"), _figure(now, name, "max_abs_error")
        figures[name] = {"before": old, "now": new}
        if (
            old is not None
            and new is not None
            and new > old * margins.error_ratio
            and new - old > margins.error_floor_fraction * (_figure(now, name, "atol") or 0.0)
        ):
            problems.append(
                f"{name} error grew {old:.3g} -> {new:.3g} ({new / old if old else float('inf'):.1f}x)"
            )

    # A report written before the silence pattern existed has no silence figure: it is compared from the
    # first report that has one on both sides.
    for pattern in ("frame", "stream", "silence"):
        old, new = _figure(before, "latency", pattern, "p50_ns"), _figure(now, "latency", pattern, "p50_ns")
        if pattern == "silence" and old is None:
            continue
        figures[f"latency_{pattern}_p50_ns"] = {"before": old, "now": new}
        if (
            old
            and new is not None
            and new > old * margins.latency_ratio
            and new - old > margins.latency_floor_ns
        ):
            problems.append(
                f"{pattern} p50 latency {old / 1000:.1f} -> {new / 1000:.1f} µs "
                f"({100 * (new / old - 1):+.0f}%, margin +{100 * (margins.latency_ratio - 1):.0f}% "
                f"and {margins.latency_floor_ns / 1000:g} µs)"
            )

    newly_failing = [
        c.name
        for c in now.checks
        if c.failed and (prior := before.check(c.name)) is not None and not prior.failed
    ]
    figures["newly_failing"] = newly_failing
    if newly_failing:
        problems.append("newly failing: " + ", ".join(newly_failing))

    loosened = loosenings(before, now)
    figures["loosened"] = loosened
    if loosened:
        problems.insert(0, "gate loosened: " + "; ".join(loosened))

    if problems:
        return Check("baseline", FAIL, "regressed since the baseline: " + "; ".join(problems), figures)
    return Check(
        "baseline", PASS, "no regression against the baseline (parameters, error, p50 latency)", figures
    )


# A tolerance this much larger than the baseline's is a loosening (the policy's own figure moves with the
# model only, and by far less than this when the model is unchanged).
_TOLERANCE_SLACK = 1.01


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _reference(result: FileResult) -> tuple[Any, ...]:
    reference = result.reference if isinstance(result.reference, Mapping) else {}
    return tuple(reference.get(key) for key in ("kind", "factory", "path"))


def loosenings(before: FileResult, now: FileResult) -> list[str]:
    """Every way ``now`` is held to less than ``before`` was: tolerance, reference, call pattern, steps,
    skipped checks (one line each)."""
    found: list[str] = []
    for name in ("numeric-frame", "numeric-stream"):
        for key in ("atol", "rtol"):
            old, new = _number(_figure(before, name, key)), _number(_figure(now, name, key))
            if old is not None and new is not None and new > old * _TOLERANCE_SLACK and new > old:
                found.append(f"{name} {key} raised {old:g} -> {new:g}")
        old_origin = _figure(before, name, "tolerance_origin")
        new_origin = _figure(now, name, "tolerance_origin")
        if old_origin is not None and new_origin is not None and old_origin != new_origin:
            found.append(f"{name} tolerance now from {new_origin!s:.60} (was {old_origin!s:.60})")
        old_steps = _number(_figure(before, name, "n_compared"))
        new_steps = _number(_figure(now, name, "n_compared"))
        if old_steps is not None and new_steps is not None and new_steps < old_steps:
            found.append(f"{name} compares {new_steps:,.0f} values (was {old_steps:,.0f})")
    if _reference(before) != _reference(now):
        found.append(f"reference changed {_reference(before)} -> {_reference(now)}")
    for key in ("plugin_call", "torch_call"):
        old, new = _figure(before, "plugin-state", key), _figure(now, "plugin-state", key)
        if old != new and (old is not None or new is not None):
            found.append(f"plugin-state {key} changed {old!s:.40} -> {new!s:.40}")
    judged = {c.name for c in before.checks if c.status != SKIP}
    skipped = [c.name for c in now.checks if c.status == SKIP and c.name in judged]
    if skipped:
        found.append("now skipped: " + ", ".join(skipped))
    return found


def apply_baseline(current: RunResult, baseline: RunResult, margins: Margins = Margins()) -> RunResult:
    """``current`` with a ``baseline`` check on every file (``skip`` for a file the baseline lacks)."""
    files = []
    for f in current.files:
        before = _matching(baseline, f)
        check = (
            compare_file(before, f, margins)
            if before is not None
            else Check("baseline", SKIP, "not in the baseline report (a new file?)", {})
        )
        checks = (*tuple(c for c in f.checks if c.name != "baseline"), check)
        files.append(FileResult(f.path, checks, f.model, f.reference))
    return RunResult(tuple(files), current.suite, current.tool, current.machine, current.settings)
