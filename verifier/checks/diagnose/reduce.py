"""Shrink a failing export to the smallest model and input that still fail the same check.

Like torch.onnx's ``find_mismatch`` and Polygraphy's ``debug reduce``: trailing layers are dropped, then
leading ones (bisection first, then one layer at a time), then the input sequence is narrowed to the first
failing step (and, for a stateful stream, its start moved up the same way). A sub-model ``layers[a:b]`` is
checked against the units of the reference module that its entries line up with
(:func:`verifier.checks.diagnose.diverge.align`): its input is what the module computes just before entry
``a`` on the
original inputs, its expected output what those units compute from it, at the original check's tolerance.
So the reduced case needs neither the module nor the rest of the model, and a layer the export dropped stays
in the reference side of the window that lacks it.

A file that fails validation or loading is reduced the same way on its layers, keeping the failure's rule id.

A model that amplifies a one-ulp change of its input beyond the tolerance (a chaotic recurrent network) is
not reduced: its failure is its own sensitivity to rounding, not an export mistake, and any sub-model of it
would "fail" for the same reason (:func:`sensitivity`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verifier.checks.diagnose.diverge import FRAME, STREAM, Divergence, align, first_divergence
from verifier.checks.diagnose.sensitivity import sensitivity
from verifier.checks.passrule import failing_steps
from verifier.errors import VerifierError

__all__ = ["ReduceError", "Reduction", "reduce", "sensitivity"]


class ReduceError(VerifierError):
    """Nothing to reduce: the file passes, or its failure is the model's own sensitivity."""


@dataclass(frozen=True)
class Reduction:
    """The smallest failing case found, and where it came from."""

    check: str  # "numeric-frame", "numeric-stream", "validate" or "load"
    doc: dict[str, Any]  # the reduced model
    layers: tuple[int, int]  # the original entries kept: layers[a:b]
    original_layers: int
    original_parameters: int
    parameters: int
    dtype: str
    atol: float | None = None
    rtol: float | None = None
    steps: tuple[int, int] | None = None  # original steps kept [s, t]; None for a format failure
    original_steps: int | None = None
    inputs: np.ndarray | None = None  # [steps, in] the reduced model's input
    expected: np.ndarray | None = None  # [steps, out] from the reference units, float64
    actual: np.ndarray | None = None  # [steps, out] from the engine at `dtype`
    rule: str | None = None  # validate/load: the rule id kept
    message: str | None = None  # validate/load: the finding on the reduced model
    divergence: Divergence | None = None  # on the reduced model, indices relative to it
    evaluations: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pattern(self) -> str | None:
        return {"numeric-frame": FRAME, "numeric-stream": STREAM}.get(self.check)

    @property
    def faulty_layer(self) -> int | None:
        """The original index of the layer the reduced case starts to diverge at (numeric), or the kept
        layer of a one-layer format case."""
        if self.divergence is not None and self.divergence.index is not None:
            return self.layers[0] + self.divergence.index
        return self.layers[0] if self.layers[1] - self.layers[0] == 1 else None


def parameter_count(doc: Mapping[str, Any]) -> int:
    """Numbers in the weight arrays of ``doc`` (what the file holds)."""

    def count(value: Any) -> int:
        if isinstance(value, list):
            return sum(count(v) for v in value)
        return 1 if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    return sum(count(e.get("weights", [])) for e in doc.get("layers", []) if isinstance(e, dict))


def sub_document(doc: Mapping[str, Any], a: int, b: int, in_width: int) -> dict[str, Any]:
    """``layers[a:b]`` of ``doc`` as a model of its own with input width ``in_width`` (other keys dropped).
    The entries are shared with ``doc``, not copied: neither is ever modified."""
    return {"in_shape": [None, None, in_width], "layers": list(doc["layers"][a:b])}


def _entry_in_widths(doc: Mapping[str, Any]) -> list[int | None]:
    from verifier.format.structure import layer_entries

    widths: list[int | None] = [None] * len(doc["layers"])
    try:
        for entry in layer_entries(dict(doc)):
            widths[entry.index] = entry.in_width
    except (KeyError, TypeError, AttributeError):
        pass
    return widths


# --- shrinking a window --------------------------------------------------------------------------------


def shrink(n: int, fails: Callable[[int, int], bool]) -> tuple[int, int]:
    """The smallest ``[a, b)`` inside ``[0, n)`` for which ``fails(a, b)`` holds (``fails(0, n)`` does):
    the end by bisection then one at a time, the start the same way."""
    b = _bisect(1, n, lambda end: fails(0, end), smallest=True)
    while b - 1 >= 1 and fails(0, b - 1):
        b -= 1
    a = _bisect(0, b - 1, lambda start: fails(start, b), smallest=False)
    while a + 1 < b and fails(a + 1, b):
        a += 1
    return a, b


def _bisect(lo: int, hi: int, holds: Callable[[int], bool], *, smallest: bool) -> int:
    """Bisection for the smallest (or largest) value in [lo, hi] where ``holds``, assuming it is monotone;
    ``hi`` (``lo``) is taken to hold. Where the assumption fails, the one-at-a-time pass after it recovers."""
    while lo < hi:
        if smallest:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if holds(mid) else (mid + 1, hi)
        else:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if holds(mid) else (lo, mid - 1)
    return lo


# --- the reduction --------------------------------------------------------------------------------------


def reduce(
    source: Any,
    torch_module: Any,
    *,
    dtype: str = "float32",
    atol: float | None = None,
    rtol: float | None = None,
    steps: int = 256,
    seed: int = 0,
) -> Reduction:
    """The smallest failing sub-model of ``source`` (path, text or dict) against ``torch_module``.

    Raises :class:`ReduceError` when the file passes every check reduce knows, or when its failure is the
    module's own sensitivity.
    """
    from verifier.format.reader.document import read_document
    from verifier.format.validate import validate

    started = time.perf_counter()
    doc = read_document(source)[0]
    errors = [f for f in validate(doc) if f.severity == "error"]
    if errors:
        return _finish(_reduce_format(doc, errors[0].rule, dtype), started)
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError

    try:
        load(doc, dtype)
    except ModelFormatError as exc:
        return _finish(_reduce_format(doc, exc.rule or "load", dtype), started)
    return _finish(_reduce_numeric(doc, torch_module, dtype, atol, rtol, steps, seed), started)


def _finish(reduction: Reduction, started: float) -> Reduction:
    from dataclasses import replace

    return replace(reduction, seconds=time.perf_counter() - started)


def format_failure(doc: Mapping[str, Any], dtype: str) -> tuple[str, str] | None:
    """(rule, message) of the first error validate or the loader reports for ``doc``, else None."""
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError
    from verifier.format.validate import validate

    errors = [f for f in validate(dict(doc)) if f.severity == "error"]
    if errors:
        return errors[0].rule, str(errors[0])
    try:
        load(dict(doc), dtype)
    except ModelFormatError as exc:
        return exc.rule or "load", f"{exc.pointer or '/'}: {exc.message}"
    return None


def _reduce_format(doc: dict[str, Any], rule: str, dtype: str) -> Reduction:
    n = len(doc["layers"])
    widths = _entry_in_widths(doc)
    seen: dict[tuple[int, int], tuple[str, str] | None] = {}

    def failure(a: int, b: int) -> tuple[str, str] | None:
        if (a, b) not in seen:
            width = widths[a] if a > 0 else None
            if a > 0 and width is None:
                seen[(a, b)] = None
            else:
                sub = dict(doc) if (a, b) == (0, n) else sub_document(doc, a, b, width or 0)
                if a == 0 and (a, b) != (0, n):
                    sub["in_shape"] = copy.deepcopy(doc["in_shape"])
                seen[(a, b)] = format_failure(sub, dtype)
        return seen[(a, b)]

    def fails(a: int, b: int) -> bool:
        found = failure(a, b)
        return found is not None and found[0] == rule

    a, b = shrink(n, fails) if n > 0 and fails(0, n) else (0, n)
    kept = dict(doc) if (a, b) == (0, n) else sub_document(doc, a, b, widths[a] or 0)
    if a == 0 and (a, b) != (0, n):
        kept["in_shape"] = copy.deepcopy(doc["in_shape"])
    found = failure(a, b)
    check = "validate" if rule.startswith("RTN-") and rule != "load" else "load"
    return Reduction(
        check=check,
        doc=kept,
        layers=(a, b),
        original_layers=n,
        original_parameters=parameter_count(doc),
        parameters=parameter_count(kept),
        dtype=dtype,
        rule=rule,
        message=found[1] if found else None,
        evaluations=len(seen),
    )


def _tolerance(
    doc: Mapping[str, Any], dtype: str, atol: float | None, rtol: float | None
) -> tuple[float, float]:
    if atol is not None or rtol is not None:
        return atol or 0.0, rtol or 0.0
    from verifier.checks.tolerance import tolerance_for

    return tolerance_for(dict(doc), dtype)


def _reduce_numeric(
    doc: dict[str, Any],
    torch_module: Any,
    dtype: str,
    atol: float | None,
    rtol: float | None,
    steps: int,
    seed: int,
) -> Reduction:
    from verifier.checks.agreement import random_inputs
    from verifier.engine.model import load
    from verifier.pytorch.layerwise import run_units, units

    atol, rtol = _tolerance(doc, dtype, atol, rtol)
    model = load(doc, dtype)
    xs = random_inputs(steps, model.in_size, seed)
    chain = units(torch_module, model.in_size)
    alignment = align(doc, chain)
    n = len(doc["layers"])
    widths = _entry_in_widths(doc)

    pattern, first_step, reference = None, None, None
    for candidate in (FRAME, STREAM):  # verify's order; a frame failure also reduces to a single step
        frame = candidate == FRAME
        outputs = run_units(chain, xs, frame=frame)
        model.reset()
        actual = model.run_frames(xs) if frame else model.run(xs)
        bad = np.flatnonzero(failing_steps(outputs[-1] if outputs else xs, actual, atol, rtol))
        if bad.size:
            pattern, first_step, reference = candidate, int(bad[0]), outputs
            break
    if pattern is None or reference is None or first_step is None:
        raise ReduceError(
            f"nothing to reduce: the engine agrees with the module per frame and streamed on {steps} steps "
            f"(atol {atol:g}, rtol {rtol:g})"
        )
    frame = pattern == FRAME
    sensitive = sensitivity(chain, xs, frame=frame, atol=atol, rtol=rtol)
    if sensitive is not None:
        raise ReduceError(
            f"not reduced: the module itself moves its output by up to {sensitive:.3g} (tolerance atol "
            f"{atol:g}, rtol {rtol:g}) when its inputs move by one float32 ulp, so the {pattern} failure is "
            "the model's sensitivity to rounding (e.g. a chaotic recurrent network), not an export mistake; "
            "compare over fewer steps, in float64, or with a tolerance derived from that sensitivity"
        )

    def boundary_in(a: int) -> int | None:
        return 0 if a == 0 else alignment.boundary[a - 1]

    def boundary_out(b: int) -> int | None:
        return len(chain) if b == n else alignment.boundary[b - 1]

    def activation(boundary: int) -> np.ndarray:
        return np.asarray(xs, np.float64) if boundary == 0 else reference[boundary - 1]

    evaluations = 0
    loaded: dict[tuple[int, int], Any] = {}  # loading re-reads every weight: once per window

    def case(a: int, b: int, rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(inputs, expected, actual) of layers[a:b] on the given steps, or None if not a valid window."""
        nonlocal evaluations
        start, end = boundary_in(a), boundary_out(b)
        width = model.in_size if a == 0 else widths[a]
        if start is None or end is None or width is None or end < start:
            return None
        evaluations += 1
        inputs = activation(start)[rows]
        expected = run_units(chain[start:end], inputs, frame=frame)[-1] if end > start else inputs
        if (a, b) not in loaded:
            loaded[(a, b)] = load(sub_document(doc, a, b, width), dtype)
        sub = loaded[(a, b)]
        sub.reset()
        actual = sub.run_frames(inputs) if frame else sub.run(inputs)
        return inputs, expected, actual

    def fails_on(rows: slice) -> Callable[[int, int], bool]:
        cache: dict[tuple[int, int], bool] = {}

        def fails(a: int, b: int) -> bool:
            if (a, b) not in cache:
                found = case(a, b, rows)
                cache[(a, b)] = found is not None and bool(
                    failing_steps(found[1], found[2], atol, rtol).any()
                )
            return cache[(a, b)]

        return fails

    rows = slice(first_step, first_step + 1) if frame else slice(0, first_step + 1)
    a, b = shrink(n, fails_on(rows))
    notes: list[str] = []
    found = case(a, b, rows)
    assert found is not None
    # The sub-model may fail before the whole model does: keep only up to its own first failing step.
    last = int(np.flatnonzero(failing_steps(found[1], found[2], atol, rtol))[0]) + rows.start
    rows = slice(last, last + 1) if frame else slice(rows.start, last + 1)
    if not frame:
        fails_from = lambda s: fails_on(slice(s, last + 1))(a, b)  # noqa: E731
        s = _bisect(0, last, fails_from, smallest=False)
        while s + 1 <= last and fails_from(s + 1):
            s += 1
        if s > 0:
            notes.append(f"the stream starts at original step {s}, from zero state")
        rows = slice(s, last + 1)
    found = case(a, b, rows)
    assert found is not None
    inputs, expected, actual = found
    reduced = sub_document(doc, a, b, model.in_size if a == 0 else widths[a] or 0)
    start, end = boundary_in(a), boundary_out(b)
    divergence = None
    if start is not None and end is not None:
        divergence = first_divergence(
            loaded[(a, b)], reduced, chain[start:end], inputs, atol=atol, rtol=rtol, pattern=pattern
        )
    return Reduction(
        check=f"numeric-{pattern}",
        doc=reduced,
        layers=(a, b),
        original_layers=n,
        original_parameters=parameter_count(doc),
        parameters=parameter_count(reduced),
        dtype=dtype,
        atol=atol,
        rtol=rtol,
        steps=(rows.start, rows.stop - 1),
        original_steps=steps,
        inputs=inputs,
        expected=expected,
        actual=actual,
        divergence=divergence,
        evaluations=evaluations,
        notes=tuple(notes),
    )
