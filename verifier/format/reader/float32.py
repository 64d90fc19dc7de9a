"""What a float32 engine makes of a number of the file: the range a plugin's weights must fit in.

JSON numbers are doubles; RTNeural (and our float32 engine) converts each weight to float32 with
round-to-nearest-even. A double of magnitude at or beyond half an ulp past ``FLT_MAX`` (2^128 - 2^103)
becomes +-inf, and a layer holding an inf outputs inf or NaN; one below ``FLT_MIN`` (2^-126) becomes a
subnormal (slow on x86, flushed to zero by a plugin that sets FTZ/DAZ) and one at or below 2^-150 becomes
zero. These are the bounds of that rounding, exact in double precision; native/float32_range.h holds the
same three numbers for the C++ loader.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

#: |x| at or above this rounds to inf in float32 (FLT_MAX + half its ulp; the tie rounds to even, to inf)
OVERFLOW_AT = float.fromhex("0x1.ffffffp+127")
#: 0 < |x| at or below this rounds to zero in float32 (half the smallest subnormal; the tie rounds to zero)
ZERO_AT_OR_BELOW = float.fromhex("0x1p-150")
#: |x| below this rounds to a subnormal (FLT_MIN less half an ulp of the subnormals; the tie rounds up)
SUBNORMAL_BELOW = float.fromhex("0x1.fffffep-127")
#: the largest finite float32, for messages
FLOAT32_MAX = float(np.finfo(np.float32).max)

Dtype = Literal["float32", "float64"]
DTYPES: tuple[Dtype, ...] = ("float32", "float64")

Fate = Literal["ok", "overflow", "subnormal", "zero"]


def fate(value: float) -> Fate:
    """What float32 makes of the finite double ``value``."""
    size = abs(value)
    if size >= OVERFLOW_AT:
        return "overflow"
    if size == 0 or size >= SUBNORMAL_BELOW:
        return "ok"
    return "zero" if size <= ZERO_AT_OR_BELOW else "subnormal"


def overflows(values: np.ndarray) -> Any:
    """Element-wise: ``values`` (finite float64) that float32 turns into +-inf."""
    return np.abs(values) >= OVERFLOW_AT


def underflows(values: np.ndarray) -> Any:
    """Element-wise: non-zero ``values`` that float32 turns into a subnormal or zero."""
    size = np.abs(values)
    return (size < SUBNORMAL_BELOW) & (size != 0)


def check_dtype(dtype: str) -> Dtype:
    """``dtype`` when it is one the engine runs, else ValueError (a programmer's or a user's typo)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dtype
