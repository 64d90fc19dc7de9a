"""Chaotic recurrent models: how far into a stream the model itself is reproducible.

Some recurrent models (an LSTM with large recurrent weights feeding a softmax, say) amplify any change of
their state exponentially: a change of a few units in the last place of the input grows to O(1) within a
few hundred steps. Two correct engines then disagree with each other, and with PyTorch, beyond some step;
a streamed comparison failing there says nothing about the export. ``stream_horizon`` measures that step:
the engine is run on the input and on copies perturbed by ``ULPS`` units in the last place (random signs),
in the engine's own type and in float64; the first step where any perturbed stream leaves the tolerance
around the unperturbed one is the horizon. In the engine's own type the perturbed runs also take other
rounding paths at every step, which is what separates the engine under test from the float64 reference;
measured on eight chaotic LSTM models, the earliest of these runs never came after the engine's own first
failing step, where the float64 runs alone did once.

``judge_chaotic_stream`` then turns a failing ``numeric-stream`` into a ``warn`` when the engine agrees with
the reference over every step before the horizon: streamed agreement is checked up to that step only, and
the report names it. A failure before the horizon stays a failure: an export mistake shows from the first
steps, where the model is still reproducible.

``sensitivity`` asks the same question of a torch module (float64, inputs moved by one float32 ulp):
``verify reduce`` and the first-diverging-layer diagnosis use it to refuse to blame a layer for a failure
that is the model's own sensitivity to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from verifier.checks.agreement import check_agreement
from verifier.checks.passrule import failing_steps
from verifier.checks.results import FAIL, WARN, Check

__all__ = ["PERTURBATIONS", "ULPS", "Horizon", "judge_chaotic_stream", "sensitivity", "stream_horizon"]

ULPS = 4  # size of the input perturbation, in units in the last place of the type it runs in
PERTURBATIONS = 4  # perturbed runs per type; the earliest divergence is the horizon


@dataclass(frozen=True)
class Horizon:
    """The first step where the model's own stream is not reproducible (None: the whole stream is)."""

    step: int | None
    divergence: float  # largest |perturbed - unperturbed| over every perturbed run and step
    runs: int


def stream_horizon(
    source: Any, xs: np.ndarray, dtype: str, atol: float, rtol: float, seed: int = 0
) -> Horizon:
    """Where a few-ulp change of ``xs`` moves the engine's stream of ``source`` (a model file's path, or its
    :class:`~verifier.format.reader.document.Document` already read) past ``atol + rtol*|y|``."""
    from verifier.checks.compare import compare
    from verifier.engine.model import load

    earliest: int | None = None
    divergence = 0.0
    runs = 0
    for run_dtype in dict.fromkeys((dtype, "float64")):
        model = load(Path(source) if isinstance(source, str) else source, run_dtype)
        model.reset()
        base = np.asarray(model.run(xs), np.float64)
        ulp = float(np.finfo(np.dtype(run_dtype)).eps) / 2
        rng = np.random.default_rng(seed)
        for _ in range(PERTURBATIONS):
            signs = rng.choice((-1.0, 1.0), size=xs.shape)
            model.reset()
            moved = np.asarray(model.run(xs * (1.0 + ULPS * ulp * signs)), np.float64)
            runs += 1
            result = compare(base, moved, atol, rtol)
            divergence = max(divergence, float(np.nan_to_num(result.max_abs_error, nan=np.inf)))
            step = result.first_failing_step
            if step is not None and (earliest is None or step < earliest):
                earliest = step
    return Horizon(earliest, divergence, runs)


def judge_chaotic_stream(
    stream_check: Check,
    expected: np.ndarray,
    actual: np.ndarray,
    horizon: Horizon,
    *,
    atol: float,
    rtol: float,
    dtype: str,
) -> Check:
    """``stream_check`` (a failing ``numeric-stream``) judged only over the steps before ``horizon``.

    A NaN or an infinity in either stream is a failure whatever the model's sensitivity: a plugin fed one
    outputs silence or noise, and a non-finite run says nothing about where the model stops being
    reproducible."""
    if stream_check.status != FAIL or horizon.step is None or not _all_finite(expected, actual):
        return stream_check
    k = horizon.step
    figures: dict[str, Any] = {
        **stream_check.figures,
        "reproducible_steps": k,
        "sensitivity": {"ulps": ULPS, "perturbed_runs": horizon.runs, "divergence": horizon.divergence},
    }
    why = (
        f"the model itself is chaotic: a {ULPS}-ulp change of its input moves its own output past the "
        f"tolerance at step {k}"
    )
    within = check_agreement("numeric-stream", expected[:k], actual[:k], atol=atol, rtol=rtol, dtype=dtype)
    if within.status == FAIL or k == 0:
        return Check(
            "numeric-stream",
            FAIL,
            f"{stream_check.summary} (before step {k}, where the model is still reproducible; {why})",
            figures,
        )
    return Check(
        "numeric-stream",
        WARN,
        f"streamed agreement checked only up to step {k} of {len(expected)}: {why}; over steps 0..{k - 1} "
        f"{within.summary}",
        {**figures, "within_horizon": dict(within.figures)},
    )


def _all_finite(*arrays: np.ndarray) -> bool:
    return all(bool(np.isfinite(np.asarray(a, np.float64)).all()) for a in arrays)


def sensitivity(
    chain: Sequence[Any], xs: np.ndarray, *, frame: bool, atol: float, rtol: float
) -> float | None:
    """The worst output change of the module (float64) when every input moves by one float32 ulp, if that
    change is outside ``atol``/``rtol``; None when the module is not that sensitive.

    A float32 engine rounds every intermediate value by about that much, so a model that amplifies it past
    the tolerance fails against any reference, whatever its export: its own rounding is the cause.
    """
    from verifier.pytorch.layerwise import run_units

    base = np.asarray(xs, dtype=np.float64)
    nudged = np.nextafter(base.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    a = run_units(chain, base, frame=frame)[-1]
    b = run_units(chain, nudged, frame=frame)[-1]
    if not _all_finite(a, b):  # a NaN measures no sensitivity to rounding: it excuses nothing
        return None
    if not failing_steps(a, b, atol, rtol).any():
        return None
    return float(np.max(np.abs(a - b)))
