"""Error statistics of one comparison, the way a numerics reviewer reads them (Polygraphy's habit).

A pass/fail verdict says whether the tolerance holds; these figures say by how much, where, and what
tolerance *would* hold: max, mean, median and p99 of the absolute and relative error, the worst element's
place (time step, output), the smallest ``atol`` (with ``rtol`` 0) and ``rtol`` (with ``atol`` 0) that pass,
and the signal-to-noise ratio in dB (reference power over error power) for people who think in audio.

``error_series`` keeps what the HTML report draws: the worst error of each time step against the tolerance
there, and a histogram of the element errors. Both are bounded in size whatever the number of steps.

Infinite or undefined figures are ``None`` (JSON has no NaN/Infinity): an SNR of ``None`` with a max error
of 0 means the outputs are identical; a ``min_rtol`` of ``None`` means no relative tolerance alone passes
(an expected zero with a non-zero error).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from verifier.checks.passrule import allowance

__all__ = ["MAX_SERIES_POINTS", "error_series", "error_statistics"]

#: Per-step series longer than this are reduced to this many points, each the worst of its span of steps.
MAX_SERIES_POINTS = 512
HISTOGRAM_BINS = 24


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _as_2d(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(array.shape[0], -1) if array.ndim else array.reshape(1, 1)


def _relative(error: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Relative error over the elements with a non-zero expected value (others have none)."""
    nonzero = expected != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return error[nonzero] / np.abs(expected[nonzero])


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"max": None, "mean": None, "median": None, "p99": None}
    if np.isnan(values).any():  # a NaN output makes every statistic meaningless; say so rather than hide it
        return {"max": None, "mean": None, "median": None, "p99": None}
    return {
        "max": _finite(values.max()),
        "mean": _finite(values.mean()),
        "median": _finite(float(np.median(values))),
        "p99": _finite(float(np.percentile(values, 99))),
    }


def error_statistics(expected: np.ndarray, actual: np.ndarray, *, rtol: float = 0.0) -> dict[str, Any]:
    """The statistics of ``actual`` against ``expected`` (same shape, axis 0 the time step)."""
    e = _as_2d(expected)
    a = _as_2d(actual).reshape(e.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(a - e)
    relative = _relative(error, e)
    has_nan = bool(np.isnan(error).any())
    worst_abs = int(np.argmax(error)) if error.size and not has_nan else None
    stats: dict[str, Any] = {
        "abs": _summary(error.ravel()),
        "rel": _summary(relative),
        "worst_abs_at": None if worst_abs is None else [int(i) for i in np.unravel_index(worst_abs, e.shape)],
        "worst_rel_at": None,
        "min_atol": None,
        "min_rtol": None,
        "min_atol_at_rtol": None,
        "snr_db": None,
        "nan": has_nan,
    }
    if error.size == 0 or has_nan:
        return stats
    if relative.size and np.isfinite(relative).all():
        where = np.flatnonzero(e.ravel() != 0)[int(np.argmax(relative))]
        stats["worst_rel_at"] = [int(i) for i in np.unravel_index(int(where), e.shape)]
    stats["min_atol"] = _finite(error.max())
    zero_expected_errs = bool((error[e == 0] > 0).any())
    stats["min_rtol"] = None if zero_expected_errs else (_finite(relative.max()) if relative.size else 0.0)
    stats["min_atol_at_rtol"] = _finite(max(0.0, float((error - rtol * np.abs(e)).max())))
    noise = float(np.sum(error**2))
    signal = float(np.sum(e**2))
    if noise > 0 and signal > 0:
        stats["snr_db"] = _finite(10.0 * math.log10(signal / noise))
    return stats


def _reduce(values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """(first step of each span, worst value of the span) with at most ``points`` spans."""
    steps = values.shape[0]
    if steps <= points:
        return np.arange(steps), values
    edges = np.linspace(0, steps, points + 1).astype(int)
    return edges[:-1], np.maximum.reduceat(values, edges[:-1])


def error_series(expected: np.ndarray, actual: np.ndarray, *, atol: float, rtol: float) -> dict[str, Any]:
    """Worst absolute error per step, the tolerance at that element, and a histogram of element errors."""
    e = _as_2d(expected)
    a = _as_2d(actual).reshape(e.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(a - e)
    if error.size == 0 or np.isnan(error).any():
        return {"steps": [], "max_abs_error": [], "allowed": [], "histogram": None}
    worst_column = np.argmax(error, axis=1)
    per_step = error[np.arange(e.shape[0]), worst_column]
    allowed = allowance(e[np.arange(e.shape[0]), worst_column], atol, rtol)
    steps, reduced = _reduce(per_step, MAX_SERIES_POINTS)
    _, reduced_allowed = _reduce(-allowed, MAX_SERIES_POINTS)  # the tightest allowance of each span
    return {
        "steps": steps.tolist(),
        "max_abs_error": reduced.tolist(),
        "allowed": (-reduced_allowed).tolist(),
        "histogram": _histogram(error.ravel()),
    }


def _histogram(error: np.ndarray) -> dict[str, Any]:
    """Counts over log-spaced bins (errors span decades); exact zeros are counted apart."""
    nonzero = error[error > 0]
    zeros = int(error.size - nonzero.size)
    if nonzero.size == 0:
        return {"edges": [], "counts": [], "zeros": zeros}
    low, high = float(nonzero.min()), float(nonzero.max())
    if low == high:
        low, high = low / 2, high * 2
    counts, edges = np.histogram(nonzero, bins=np.geomspace(low, high, HISTOGRAM_BINS + 1))
    return {"edges": edges.tolist(), "counts": counts.astype(int).tolist(), "zeros": zeros}
