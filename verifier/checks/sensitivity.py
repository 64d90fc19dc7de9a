"""Whether a module's own sensitivity to rounding explains a numeric failure.

A float32 engine rounds every value it computes by about one float32 ulp. A module that amplifies a change
of that size in its inputs past the tolerance (a chaotic recurrent network, streamed long enough) fails
against any reference whatever its export: no layer is at fault, and no reduction of it means anything.
The test runs the module twice in float64, on the inputs and on the inputs moved by one float32 ulp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from verifier.checks.diverge import failing_steps

__all__ = ["sensitivity"]


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
    if not failing_steps(a, b, atol, rtol).any():
        return None
    return float(np.max(np.abs(a - b)))
