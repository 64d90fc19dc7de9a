"""Measurements behind two figures of the docs: the tolerance policy and the detection rate of mistakes.

    python tools/measure.py tolerance --models 500      # engine error vs depth/width, fitted coefficient
    python tools/measure.py detection --examples 200    # per known export mistake: how it was caught

Both draw generated models from verifier.testing.strategies with a fixed Hypothesis seed (derandomized), so
the same command prints the same figures on the same code. Nothing here is used by the verifier at run time.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from verifier.checks.tolerance import COEFFICIENT, model_shape, tolerance_for

SAFETY = 8.0  # tolerance = SAFETY x the worst measured error ratio, rounded up to a power of two


@dataclass(frozen=True)
class ErrorSample:
    """Worst engine-vs-float64-torch error of one generated model in one dtype and one mode."""

    dtype: str
    mode: str  # "stream" | "frames"
    depth: int
    width: int
    steps: int
    max_abs_error: float
    ratio: float  # max over elements of err / (tol / C * (1 + |expected|)): the C this run needs
    spec: str


def _settings(n: int):
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def measure_errors(n_models: int, steps: int | None = None) -> list[ErrorSample]:
    """Engine output (float32 and float64) against the float64 torch module over *n_models* generated models,
    each with a drawn input stream (of *steps* steps if given), as a stream and frame by frame."""
    import torch
    from hypothesis import given
    from hypothesis import strategies as st

    from verifier.engine.model import load
    from verifier.pytorch.export import export
    from verifier.pytorch.run import frames, stream
    from verifier.testing.strategies import architectures, describe, inputs, modules

    samples: list[ErrorSample] = []

    @_settings(n_models)
    @given(spec=architectures(), data=st.data())
    def run(spec: dict[str, Any], data: Any) -> None:
        module = modules(spec)
        doc = export(module, in_size=spec["in_size"])
        xs = data.draw(inputs(spec["in_size"], steps))
        shape = model_shape(doc)
        expected = {
            "stream": stream(module, xs, dtype=torch.float64),
            "frames": frames(module, xs, dtype=torch.float64),
        }
        for dtype in ("float32", "float64"):
            model = load(doc, dtype)
            model.reset()
            actual = {"stream": model.run(xs), "frames": model.run_frames(xs)}
            for mode in ("stream", "frames"):
                err = np.abs(actual[mode] - expected[mode])
                # the policy's tolerance in units of C: the ratio is the C this run alone would need
                length = len(xs) if mode == "stream" else None
                unit = tolerance_for(doc, dtype, length)[0] / COEFFICIENT[dtype]
                ratio = float((err / (unit * (1 + np.abs(expected[mode])))).max())
                samples.append(
                    ErrorSample(
                        dtype,
                        mode,
                        shape.depth,
                        shape.width,
                        len(xs),
                        float(err.max()),
                        ratio,
                        describe(spec),
                    )
                )

    run()
    return samples


def fitted_coefficient(samples: Sequence[ErrorSample], dtype: str) -> float:
    worst = max(s.ratio for s in samples if s.dtype == dtype)
    return 2.0 ** math.ceil(math.log2(max(worst * SAFETY, 1.0)))


def tolerance_report(samples: Sequence[ErrorSample]) -> str:
    lines = [f"{len(samples) // 4} generated models, engine vs float64 torch; runs = stream + frames", ""]
    for dtype in ("float32", "float64"):
        mine = [s for s in samples if s.dtype == dtype]
        worst = max(mine, key=lambda s: s.ratio)
        lines.append(
            f"{dtype}: max abs error {max(s.max_abs_error for s in mine):.3g}; "
            f"worst ratio {worst.ratio:.3g} (depth {worst.depth}, width {worst.width}, {worst.mode}); "
            f"fitted C = {fitted_coefficient(samples, dtype):g} (in use: {COEFFICIENT[dtype]:g}); "
            f"median ratio {np.median([s.ratio for s in mine]):.3g}"
        )
        lines.append(f"  worst model: {worst.spec}")
        header = "depth |   runs | max abs error | max ratio"
        lines.append(f"  {header:<45}{header.replace('depth', 'width')}")
        by_depth = _buckets(mine, lambda s: s.depth, (1, 2, 3, 4, 6, 8, 12, 99))
        by_width = _buckets(mine, lambda s: s.width, (1, 2, 4, 8, 16, 32, 99))
        for row in range(max(len(by_depth), len(by_width))):
            left = by_depth[row] if row < len(by_depth) else ""
            right = by_width[row] if row < len(by_width) else ""
            lines.append(f"  {left:<45}{right}")
        lines.append("")
    return "\n".join(lines)


def _buckets(samples, key, edges) -> list[str]:
    rows = []
    lo = 1
    for hi in edges:
        inside = [s for s in samples if lo <= key(s) <= hi]
        if inside:
            label = f"{lo}" if lo == hi else f"{lo}-{hi}" if hi < 99 else f"{lo}+"
            rows.append(
                f"{label:>5} | {len(inside):>6} | {max(s.max_abs_error for s in inside):>13.3g} | "
                f"{max(s.ratio for s in inside):>9.3g}"
            )
        lo = hi + 1
    return rows


@dataclass
class DetectionTally:
    """Per mistake: cases caught at each stage ("validate", "load", "compare"), "missed", "masked"."""

    counts: Counter
    missed: list[dict[str, Any]]
    margins: list[float]  # caught by compare: worst stream error / atol


def measure_detection(n_examples: int) -> dict[str, DetectionTally]:
    """For every known export mistake, over *n_examples* generated cases: how many were caught at each stage,
    missed, or excluded (no-op on that model, or masked on that input; the reason is counted)."""

    from verifier.testing import mistakes

    results: dict[str, DetectionTally] = {}
    for mistake in mistakes.MISTAKES:
        results[mistake] = _detect(mistake, n_examples)
    return results


def _detect(mistake: str, n_examples: int) -> DetectionTally:
    from hypothesis import given, reject
    from hypothesis import strategies as st

    from verifier.testing import mistakes
    from verifier.testing.strategies import corrupted_exports, smooth_inputs

    tally = DetectionTally(Counter(), [], [])

    @_settings(n_examples)
    @given(data=st.data())
    def run(data: Any) -> None:
        case = data.draw(corrupted_exports(mistake))
        xs = smooth_inputs(case.spec["in_size"], steps=16, seed=case.spec["seed"])
        found = mistakes.detection(case.bad, case.module, xs)
        if found.masked:
            tally.counts["masked"] += 1
            reject()
        tally.counts[found.stage or "missed"] += 1
        if found.margin is not None:
            tally.margins.append(found.margin)
        if not found.detected:
            tally.missed.append(case.spec)

    run()
    return tally


def detection_report(results: dict[str, DetectionTally]) -> str:
    lines = [
        "mistake                   | applicable | validate | load | compare | missed | rate   | masked "
        "| smallest caught error (x atol)"
    ]
    for mistake, tally in results.items():
        counts = tally.counts
        caught = sum(counts[s] for s in ("validate", "load", "compare"))
        total = caught + counts["missed"]
        rate = f"{100 * caught / total:.1f}%" if total else "n/a"
        smallest = f"{min(tally.margins):.3g}" if tally.margins else "-"
        lines.append(
            f"{mistake:<25} | {total:>10} | {counts['validate']:>8} | {counts['load']:>4} | "
            f"{counts['compare']:>7} | {counts['missed']:>6} | {rate:>6} | {counts['masked']:>6} | {smallest}"
        )
        for spec in tally.missed[:3]:
            lines.append(f"    missed: {json.dumps(spec)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/measure.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    tol = sub.add_parser("tolerance", help="engine error over generated models; fits the coefficient")
    tol.add_argument("--models", type=int, default=500)
    tol.add_argument("--steps", type=int, help="stream length (default: drawn within the schema's bounds)")
    tol.add_argument("--json", help="also write every sample to this file")
    det = sub.add_parser("detection", help="detection rate of each known export mistake")
    det.add_argument("--examples", type=int, default=200)
    args = parser.parse_args(argv)
    if args.what == "tolerance":
        samples = measure_errors(args.models, args.steps)
        print(tolerance_report(samples))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump([asdict(s) for s in samples], handle)
    else:
        print(detection_report(measure_detection(args.examples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
