"""Long, realistic streams: the engine against the reference over seconds of audio at 48 kHz, not 256 steps.

256 random steps do not show what a plugin meets: a recurrent state that drifts over 100,000 steps, a tail
that never decays after the signal stops, a bias that shows only on DC, saturation at full scale. The cases
(:func:`long_stream_cases`) are:

* ``sweep``: a logarithmic sine sweep from 20 Hz to 20 kHz at half scale (every frequency the model sees);
* ``silence_after_signal``: the sweep's first half, then silence (the state must decay to what the
  reference decays to);
* ``dc``: a constant half-scale input (a bias or a slow state error accumulates);
* ``full_scale``: a 100 Hz square wave between -1 and +1 (both rails, hard edges).

Every value is exact in float32, so a float32 and a float64 engine see the same numbers. Each case is one
stream from zero state; the verdict is the pass rule of the numeric checks (``|a - e| <= atol + rtol |e|``),
and the figures add the error-to-signal ratio in dB (``10 log10(sum (a - e)^2 / sum e^2)``), the measure
audio people read: -100 dB is an error a hundred-thousandth of the signal's amplitude.

The check takes the two streams as callables, so it runs anything (our engine, RTNeural, a torch module in
its child process) and costs what the model costs on ``4 x seconds x 48,000`` steps: opt-in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from verifier.checks.agreement import check_agreement
from verifier.checks.catalogue import LONG_STREAM_SECONDS
from verifier.checks.results import FAIL, PASS, Check

__all__ = [
    "CASES",
    "LONG_STREAM_SECONDS",
    "NAME",
    "SAMPLE_RATE",
    "check_long_streams",
    "error_to_signal_db",
    "judge_long_streams",
    "long_stream_cases",
]

NAME = "long-streams"
SAMPLE_RATE = 48_000
CASES = ("sweep", "silence_after_signal", "dc", "full_scale")
# The sweep's range: the audible band.
SWEEP_HZ = (20.0, 20_000.0)
SQUARE_HZ = 100.0
HALF_SCALE = 0.5


def long_stream_cases(
    in_size: int, seconds: float = 2.0, sample_rate: int = SAMPLE_RATE
) -> dict[str, np.ndarray]:
    """The cases, ``name -> [steps, in_size]`` float64 arrays of exact float32 values (the same signal on
    every input feature)."""
    steps = max(round(seconds * sample_rate), 2)
    t = np.arange(steps) / sample_rate
    duration = steps / sample_rate
    low, high = SWEEP_HZ
    growth = math.log(high / low)
    # Instantaneous frequency low * (high/low)^(t/duration): the phase is its integral.
    phase = 2 * math.pi * low * duration / growth * (np.exp(t / duration * growth) - 1.0)
    sweep = HALF_SCALE * np.sin(phase)
    silence_after = sweep.copy()
    silence_after[steps // 2 :] = 0.0
    square = np.where(np.sin(2 * math.pi * SQUARE_HZ * t) >= 0.0, 1.0, -1.0)
    signals = {
        "sweep": sweep,
        "silence_after_signal": silence_after,
        "dc": np.full(steps, HALF_SCALE),
        "full_scale": square,
    }
    return {
        name: np.repeat(signal.astype(np.float32).astype(np.float64)[:, None], in_size, axis=1)
        for name, signal in signals.items()
    }


def error_to_signal_db(expected: np.ndarray, actual: np.ndarray) -> float | None:
    """``10 log10(sum (actual - expected)^2 / sum expected^2)``; None when the reference is silent (no signal
    to relate the error to) or either side is not finite; ``-inf`` when the two are equal."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if not (np.isfinite(e).all() and np.isfinite(a).all()):
        return None
    energy = float(np.sum(e * e))
    if energy == 0.0:
        return None
    error = float(np.sum((a - e) ** 2))
    return -math.inf if error == 0.0 else 10.0 * math.log10(error / energy)


def check_long_streams(
    engine: Callable[[np.ndarray], np.ndarray],
    reference: Callable[[np.ndarray], np.ndarray],
    in_size: int,
    *,
    atol: float,
    rtol: float,
    dtype: str,
    seconds: float = 2.0,
) -> Check:
    """The ``long-streams`` check: ``engine(xs)`` against ``reference(xs)`` (each a stream of ``[T, in]`` from
    zero state -> ``[T, out]``) on every case of :func:`long_stream_cases`."""
    cases = long_stream_cases(in_size, seconds)
    expected = {name: reference(xs) for name, xs in cases.items()}
    actual = {name: engine(xs) for name, xs in cases.items()}
    return judge_long_streams(expected, actual, atol=atol, rtol=rtol, dtype=dtype, seconds=seconds)


def judge_long_streams(
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    *,
    atol: float,
    rtol: float,
    dtype: str,
    seconds: float,
) -> Check:
    """The verdict and figures of :func:`check_long_streams` from outputs already computed."""
    figures: dict[str, Any] = {"sample_rate": SAMPLE_RATE, "seconds": seconds, "atol": atol, "rtol": rtol}
    per_case: dict[str, dict[str, Any]] = {}
    failing: list[str] = []
    for name in expected:
        check = check_agreement(name, expected[name], actual[name], atol=atol, rtol=rtol, dtype=dtype)
        esr = error_to_signal_db(expected[name], actual[name])
        per_case[name] = {
            "esr_db": esr if esr is not None and math.isfinite(esr) else None,
            "exact": esr == -math.inf,
            "max_abs_error": check.figures["max_abs_error"],
            "first_failing_step": check.figures["first_failing_step"],
            "n_failing": check.figures["n_failing"],
            "steps": len(expected[name]),
        }
        if check.failed:
            failing.append(f"{name}: {check.summary}")
    figures["cases"] = per_case
    said = "; ".join(
        f"{name} {_esr_text(case)}, max abs {case['max_abs_error']:.3g}" for name, case in per_case.items()
    )
    length = f"{len(per_case)} streams of {seconds:g} s at {SAMPLE_RATE // 1000} kHz"
    if failing:
        return Check(NAME, FAIL, f"{length}: {'; '.join(failing)} (ESR: {said})", figures)
    return Check(NAME, PASS, f"{length} within atol={atol:g} rtol={rtol:g} (ESR: {said})", figures)


def _esr_text(case: Mapping[str, Any]) -> str:
    if case["exact"]:
        return "exact"
    if case["esr_db"] is None:
        return "ESR n/a (silent reference or not finite)"
    return f"{case['esr_db']:.1f} dB"
