"""Element-wise comparison of an expected and an actual array, with the statistics a report needs.

An element passes by the one pass rule (:mod:`verifier.checks.passrule`): NaN (in either array, or an
infinity compared with itself) never passes. Axis 0 is the time step: ``worst_step`` and
``first_failing_step`` name a row of a ``[steps, width]`` array (or an element of a per-step vector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from verifier.checks.passrule import outside

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """Outcome of one comparison; the worst element is the one with the largest absolute error."""

    passed: bool
    atol: float
    rtol: float
    max_abs_error: float  # NaN when any compared element is NaN
    max_rel_error: float  # over elements whose expected value is non-zero (0.0 when there are none)
    worst_index: tuple[int, ...]  # () when nothing was compared
    worst_step: int | None
    first_failing_step: int | None
    n_failing: int
    n_compared: int
    expected_at_worst: float
    actual_at_worst: float

    def summary(self) -> str:
        """One line: verdict, tolerance, worst error and where it is."""
        verdict = "PASS" if self.passed else "FAIL"
        tolerance = f"atol={self.atol:g}" + (f" rtol={self.rtol:g}" if self.rtol else "")
        if self.n_compared == 0:
            return f"{verdict} {tolerance}: nothing compared"
        text = (
            f"{verdict} {tolerance}: max abs error {self.max_abs_error:.3g} at {list(self.worst_index)} "
            f"(expected {self.expected_at_worst:.9g}, actual {self.actual_at_worst:.9g}), "
            f"max rel error {self.max_rel_error:.3g}, {self.n_failing}/{self.n_compared} failing"
        )
        if self.first_failing_step is not None:
            text += f", first failing step {self.first_failing_step}"
        return text


def compare(expected: ArrayLike, actual: ArrayLike, atol: float, rtol: float = 0.0) -> Comparison:
    """Compare element-wise; raises ValueError when the shapes differ or a tolerance is negative/NaN."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"shapes differ: expected {e.shape}, actual {a.shape}")
    atol, rtol = float(atol), float(rtol)
    if not (atol >= 0.0 and rtol >= 0.0):  # also refuses NaN
        raise ValueError(f"tolerances must be non-negative numbers, got atol={atol}, rtol={rtol}")
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(a - e)
    failing = outside(e, a, atol, rtol)
    if e.size == 0:
        return Comparison(True, atol, rtol, 0.0, 0.0, (), None, None, 0, 0, math.nan, math.nan)
    worst = _worst_flat_index(error)
    index = tuple(int(i) for i in np.unravel_index(worst, e.shape))
    failing_steps: Any = np.flatnonzero(failing.reshape(e.shape[0], -1).any(axis=1)) if e.ndim else []
    return Comparison(
        passed=not bool(failing.any()),
        atol=atol,
        rtol=rtol,
        max_abs_error=float(error.flat[worst]),
        max_rel_error=_max_relative(error, e),
        worst_index=index,
        worst_step=index[0] if e.ndim else None,
        first_failing_step=int(failing_steps[0]) if len(failing_steps) else None,
        n_failing=int(failing.sum()),
        n_compared=int(e.size),
        expected_at_worst=float(e.flat[worst]),
        actual_at_worst=float(a.flat[worst]),
    )


def _worst_flat_index(error: np.ndarray) -> int:
    nan = np.isnan(error)
    if nan.any():  # a NaN is worse than any number: report the first one
        return int(np.flatnonzero(nan)[0])
    return int(np.argmax(error))


def _max_relative(error: np.ndarray, expected: np.ndarray) -> float:
    nonzero = expected != 0
    if not nonzero.any():
        return 0.0
    with np.errstate(invalid="ignore"):
        relative = error[nonzero] / np.abs(expected[nonzero])
    return math.nan if np.isnan(relative).any() else float(relative.max())
