"""Property-based: on generated models with each known export mistake, the first diverging layer is never
upstream of the corrupted entry, and reduce keeps the corrupted entry in its window.

Entries before the corrupted one are the correct export, so their engine outputs agree with the module:
naming one of them would be a false accusation. The named layer may lie downstream when the corrupted
entry's own output change stays inside the tolerance and a later layer amplifies it (coremltools' rule then
rightly names the later one); how often it is exactly the corrupted entry is recorded as an event.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from verifier.checks.diagnose.diverge import first_divergence
from verifier.checks.diagnose.reduce import ReduceError, reduce
from verifier.checks.passrule import failing_steps
from verifier.checks.tolerance import tolerance_for
from verifier.engine.model import load
from verifier.format.validate import validate
from verifier.pytorch.layerwise import run_units, units
from verifier.testing import mistakes
from verifier.testing.strategies import corrupted_exports, describe, smooth_inputs

STEPS = 16


def _possible_places(case) -> tuple[int, int]:
    """The first and last entry the mistake can be placed at: for a dropped entry, the run of identical
    entries it belonged to (dropping any one of them gives the same file)."""
    if case.mistake != "dropped_layer":
        return case.index, case.index
    layers = case.doc["layers"]
    lo = hi = case.index
    while lo > 0 and layers[lo - 1] == layers[case.index]:
        lo -= 1
    while hi + 1 < len(layers) and layers[hi + 1] == layers[case.index]:
        hi += 1
    return lo, hi


def _numeric_failure(case) -> tuple[str, np.ndarray, tuple[float, float]]:
    """(pattern, inputs, tolerance) of the corrupted export's first failing numeric check, or reject."""
    if any(f.severity == "error" for f in validate(case.bad)):
        event("caught by validate: not numeric")
        assume(False)
    model = load(case.bad)
    xs = smooth_inputs(case.spec["in_size"], steps=STEPS, seed=case.spec["seed"])
    atol, rtol = tolerance_for(case.bad, "float32")
    chain = units(case.module, model.in_size)
    for pattern in ("frame", "stream"):
        expected = run_units(chain, xs, frame=pattern == "frame")[-1]
        model.reset()
        actual = model.run_frames(xs) if pattern == "frame" else model.run(xs)
        if failing_steps(expected, actual, atol, rtol).any():
            return pattern, xs, (atol, rtol)
    event("masked on this input: no numeric failure")
    assume(False)
    raise AssertionError("unreachable")


# A transposed kernel is numeric only when square, and most generated mistakes are caught by validate:
# filtering them out is the point, not a slow generator.
@pytest.mark.parametrize("mistake", [m for m in mistakes.MISTAKES if m != "missing_groups"])
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_the_first_diverging_layer_is_never_upstream_of_the_mistake(mistake, data):
    case = data.draw(corrupted_exports(mistake), label="case")
    pattern, xs, (atol, rtol) = _numeric_failure(case)
    model = load(case.bad)
    found = first_divergence(
        model, case.bad, units(case.module, model.in_size), xs, atol=atol, rtol=rtol, pattern=pattern
    )
    where = f"{mistake} at /layers/{case.index}, architecture {describe(case.spec)}: {found.summary()}"
    if found.index is None:  # the lost layer is last, or as last as its identical successors
        assert mistake == "dropped_layer", where
        assert _possible_places(case)[1] == len(case.doc["layers"]) - 1, where
        return
    assert found.index >= _possible_places(case)[0], where
    event(f"{mistake}: named {'the corrupted entry' if found.index == case.index else 'another entry'}")


@pytest.mark.parametrize("mistake", mistakes.MISTAKES)
@settings(
    max_examples=min(settings.default.max_examples, 20),
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(data=st.data())
def test_reduce_keeps_the_corrupted_entry(mistake, data):
    case = data.draw(corrupted_exports(mistake), label="case")
    try:
        reduction = reduce(case.bad, case.module, steps=STEPS)
    except ReduceError as exc:
        event(f"not reduced: {str(exc)[:40]}")
        assume(False)
        raise
    a, b = reduction.layers
    n = len(case.bad["layers"])
    where = f"{mistake} at /layers/{case.index}, kept [{a}, {b}), architecture {describe(case.spec)}"
    lo, hi = _possible_places(case)
    assert a <= min(hi, n - 1), where  # the window holds the mistake (or an identical twin's place)
    assert b > min(lo, n - 1), where
    event(f"{mistake}: reduced to {b - a} entr{'y' if b - a == 1 else 'ies'}")
