"""The pass rule every check, diagnosis and report figure uses: an element passes when
``|actual - expected| <= atol + rtol * |expected|``.

A NaN never passes (in either array, or an infinity compared with itself: ``inf - inf`` is NaN), so a run that
produced no number cannot agree with anything; nor does an infinite expected value, whose allowance
``rtol * inf`` would otherwise let any finite actual value pass. The C++ golden checker
(``rtneural_verifier/golden.hpp``) holds its own copy of this rule; ``tests/test_pass_rule.py`` pins the two
together.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.typing import ArrayLike


def allowance(expected: ArrayLike, atol: float, rtol: float) -> np.ndarray:
    """The error each element may have: ``atol + rtol * |expected|`` (in float64)."""
    with np.errstate(over="ignore"):
        return atol + rtol * np.abs(np.asarray(expected, dtype=np.float64))


def outside(expected: ArrayLike, actual: ArrayLike, atol: float, rtol: float) -> np.ndarray:
    """Per element, whether it fails the rule (a NaN error fails); the arrays must have one shape."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        within = (np.abs(a - e) <= allowance(e, atol, rtol)) & np.isfinite(e)
    return cast(np.ndarray, ~within)


def failing_steps(expected: ArrayLike, actual: ArrayLike, atol: float, rtol: float) -> np.ndarray:
    """Per step (axis 0), whether any element of it fails; every step fails when the shapes differ."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        return np.ones(len(e), dtype=bool)
    return np.asarray(outside(e, a, atol, rtol).reshape(len(e), -1).any(axis=1), dtype=bool)
