"""Figures of a check read for a report, whatever a JSON report holds.

The report schema fixes a few figures of a few checks; the rest of ``figures`` is any JSON (a report may
come from another version, or be written by hand), and even a fixed number may be NaN, infinite or an
integer beyond a double. A report is drawn from what is there: each reader here answers ``None`` (or
nothing) for a value of another shape instead of raising, so a format shows less, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["finite", "mapping", "place_number", "real", "reals"]


def real(value: Any) -> float | None:
    """A JSON number as a float (an integer beyond a double is infinite); ``None`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def finite(value: Any) -> float | None:
    """:func:`real` when it is finite, else ``None``."""
    number = real(value)
    return number if number is not None and math.isfinite(number) else None


def reals(value: Any) -> list[float] | None:
    """A list of numbers as floats, ``null`` read as NaN (strict JSON's place of a NaN or an infinity);
    ``None`` when it is not a list of numbers and nulls."""
    if not isinstance(value, list | tuple):
        return None
    out = []
    for item in value:
        number = math.nan if item is None else real(item)
        if number is None:
            return None
        out.append(number)
    return out


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is an object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def place_number(value: Any) -> int | None:
    """A line or column: a positive integer, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value
