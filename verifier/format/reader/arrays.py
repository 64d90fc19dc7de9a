"""Shapes and numbers of nested-list weight arrays, checked fast and located exactly when wrong.

The fast path looks at every number once through C-level loops (``set(map(type, row))`` and one
``numpy.asarray``), so a million weights take tens of milliseconds; only when it sees a problem does the
slow path walk the array in Python to name the first offending element.

A weight array of a document read from text usually arrives as a ``NumericArray``
(:meth:`verifier.format.reader.document.Document.skeleton`): a rectangular nest of finite numbers that stays
in the
C++ document, known by its shape. Its first problem of shape, if any, lies on the path of first elements
(every row is like the first), so it is found from the shape alone; its numbers are read (as one float64
array) only to check them against float32's range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from verifier.format.findings import Finding, finding, pointer_join
from verifier.format.reader.document import is_numeric_array
from verifier.format.reader.float32 import FLOAT32_MAX, fate, overflows, underflows
from verifier.quoting import quoted

_NUMBER_TYPES = {float, int}
_SCALAR_TYPES = {float, int, str, bool, type(None)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def schema_view(node: Any) -> Any:
    """``node`` with every NumericArray replaced by nested one-element lists holding its first number: the
    JSON Schema checks only the nesting of weight arrays, never their lengths, so the view gets the same
    verdict, at the same place, as the full array."""
    if type(node) is dict:
        return {key: schema_view(value) for key, value in node.items()}
    if type(node) is list:
        if set(map(type, node)) <= _SCALAR_TYPES:
            return node  # nothing in it to replace (the view is read, never written)
        return [schema_view(item) for item in node]
    if is_numeric_array(node):
        view = node.first()
        for _ in range(node.ndim):
            view = [view]
        return view
    return node


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"string {quoted(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return quoted(value)


def array_shape(
    value: Any, ndim: int, pointer: str, *, float32: bool = False, notes: list[Finding] | None = None
) -> tuple[int, ...] | Finding:
    """The shape of ``value`` as a rectangular ``ndim``-deep nest of lists of finite numbers, else a finding.

    A list of lists whose rows differ in length, a number where a list belongs (or the reverse) is
    RTN-E202; a non-number leaf RTN-E102; a non-finite one RTN-E005. With ``float32`` (the model is
    checked for a float32 engine), a number float32 turns into inf is RTN-E208, and numbers it turns into
    subnormals or zeros are one RTN-W008 appended to ``notes``.
    """
    dims: list[int] = []
    level = [value]
    for depth in range(ndim):
        if not all(type(item) is list for item in level):
            return _locate_or_shape(value, ndim, pointer, float32, notes)
        size = len(level[0]) if level else 0
        if any(len(item) != size for item in level):
            return _locate_or_shape(value, ndim, pointer, float32, notes)
        dims.append(size)
        if depth < ndim - 1:
            level = [child for item in level for child in item]
    kinds: set[type] = set()
    for leaf in level:
        kinds.update(map(type, leaf))
    if not kinds <= _NUMBER_TYPES:
        return _locate_or_shape(value, ndim, pointer, float32, notes)
    try:
        numbers = np.asarray(value, dtype=np.float64)
        finite = bool(np.isfinite(numbers).all())
    except OverflowError:  # an integer beyond the double range
        finite = False
    if not finite or (float32 and bool(overflows(numbers).any())):
        return _locate_or_shape(value, ndim, pointer, float32, notes)
    if float32 and notes is not None:
        _note_underflows(numbers, pointer, notes)
    return tuple(dims)


def _note_underflows(numbers: np.ndarray, pointer: str, notes: list[Finding]) -> None:
    """One RTN-W008 in ``notes`` for the numbers of an array float32 makes subnormal or zero, at the first."""
    tiny = underflows(numbers)
    if tiny.any():
        first = [int(i) for i in np.unravel_index(int(np.flatnonzero(tiny)[0]), numbers.shape)]
        place = pointer_join(pointer, *first)
        # An array may be read twice (its rows, then its exact shape): one warning for it.
        if all(note.pointer != place for note in notes):
            notes.append(underflow_finding(place, float(numbers[tuple(first)]), int(tiny.sum())))


def _locate_or_shape(
    value: Any, ndim: int, pointer: str, float32: bool, notes: list[Finding] | None
) -> tuple[int, ...] | Finding:
    """The first problem of an array the fast path refused (a problem, or a NumericArray inside), else its
    shape."""
    problem = _locate(value, ndim, pointer, float32)
    if problem is not None:
        return problem
    dims = _reference_dims(value, ndim)
    assert all(d is not None for d in dims), f"{pointer}: no problem found, yet the shape is not known"
    if float32 and notes is not None:
        # rectangular and finite now: NumericArrays inside convert through their __array__
        _note_underflows(np.asarray(value, dtype=np.float64), pointer, notes)
    return tuple(d for d in dims if d is not None)


def overflow_finding(pointer: str, value: float) -> Finding:
    """RTN-E208 for ``value``, which float32 turns into an infinity."""
    sign = "-inf" if value < 0 else "inf"
    return finding(
        "RTN-E208",
        pointer,
        f"{value!r} is beyond float32's range: the float32 engine a plugin runs holds {sign} here, and the "
        "layer outputs inf or NaN; rescale the layer or export the weights within float32",
        expected=f"a number of magnitude at most {FLOAT32_MAX:.8g} (float32)",
        found=repr(value),
    )


def underflow_finding(pointer: str, value: float, count: int = 1) -> Finding:
    """RTN-W008 for ``value`` (the first of ``count`` in its array), which float32 makes subnormal or zero."""
    became = "zero" if fate(value) == "zero" else "a subnormal (flushed to zero where a plugin sets FTZ/DAZ)"
    others = f" ({count} values of this array do)" if count > 1 else ""
    return finding(
        "RTN-W008",
        pointer,
        f"{value!r} is below float32's normal range: the float32 engine holds {became}{others}",
        expected="0 or a magnitude of at least 1.1754944e-38 (float32's smallest normal)",
        found=repr(value),
    )


def float32_scalar(value: float, pointer: str) -> Finding | None:
    """RTN-E208 or RTN-W008 for a scalar parameter (batchnorm epsilon) float32 cannot hold as written."""
    what = fate(value)
    if what == "overflow":
        return overflow_finding(pointer, value)
    if what in ("subnormal", "zero"):
        return underflow_finding(pointer, value)
    return None


def _reference_dims(value: Any, ndim: int) -> list[int | None]:
    """Lengths along the first element at each level: what every list at that level must match."""
    dims: list[int | None] = []
    node = value
    for level in range(ndim):
        if isinstance(node, list):
            dims.append(len(node))
            node = node[0] if node else None
        elif is_numeric_array(node):
            taken = list(node.shape[: ndim - level])
            return dims + taken + [None] * (ndim - level - len(taken))
        else:
            dims.append(None)
    return dims


def _numeric_array_problem(
    array: Any, level: int, ndim: int, where: str, dims: list[int | None]
) -> Finding | None:
    """The first problem of a NumericArray met at ``level`` of an ``ndim``-deep array: on the path of
    first elements, as every row is like the first."""
    shape = array.shape
    for k in range(len(shape) + 1):
        depth = level + k
        at = pointer_join(where, *([0] * k))
        if depth == ndim:
            if k == len(shape):
                return None  # numbers, finite (the reader refuses any other)
            return finding(
                "RTN-E202",
                at,
                "a list where a number belongs: the array is nested too deep",
                expected="a number",
                found=f"a list of {shape[k]}",
            )
        if k == len(shape):
            return finding(
                "RTN-E202",
                at,
                f"the array is not nested deep enough: expected {ndim - depth} more level(s) of lists",
                expected="a list",
                found=_describe(array.first()),
            )
        if shape[k] != dims[depth]:
            return _ragged(at, dims[depth], shape[k])
    return None


def _ragged(where: str, expected: int | None, found: int) -> Finding:
    return finding(
        "RTN-E202",
        where,
        "the array is ragged: lists at one level must all have the same length",
        expected=f"{expected} entries (as the first at this level)",
        found=f"{found} entries",
    )


def _locate(value: Any, ndim: int, pointer: str, float32: bool = False) -> Finding | None:
    """The first problem in ``value``, None if it has none (slow, only called once the fast path has seen one
    or a NumericArray)."""
    dims = _reference_dims(value, ndim)
    stack: list[tuple[Any, int, str]] = [(value, 0, pointer)]
    while stack:
        node, level, where = stack.pop()
        if is_numeric_array(node):
            problem = _numeric_array_problem(node, level, ndim, where, dims)
            if problem is None and float32:
                problem = _numeric_array_overflow(node, where)
            if problem is not None:
                return problem
            continue
        if level == ndim:
            if isinstance(node, list):
                return finding(
                    "RTN-E202",
                    where,
                    "a list where a number belongs: the array is nested too deep",
                    expected="a number",
                    found=_describe(node),
                )
            if not _is_number(node):
                return finding(
                    "RTN-E102",
                    where,
                    "every weight must be a JSON number",
                    expected="a number",
                    found=_describe(node),
                )
            if not _finite(node):
                return finding(
                    "RTN-E005",
                    where,
                    "every weight must be a finite number",
                    expected="a finite number",
                    found=quoted(node),
                )
            if float32 and fate(float(node)) == "overflow":
                return overflow_finding(where, float(node))
            continue
        if not isinstance(node, list):
            return finding(
                "RTN-E202",
                where,
                f"the array is not nested deep enough: expected {ndim - level} more level(s) of lists",
                expected="a list",
                found=_describe(node),
            )
        if len(node) != dims[level]:
            return _ragged(where, dims[level], len(node))
        stack.extend((node[i], level + 1, pointer_join(where, i)) for i in range(len(node) - 1, -1, -1))
    return None


def _numeric_array_overflow(array: Any, where: str) -> Finding | None:
    """RTN-E208 at the first number of a NumericArray (in document order) that float32 turns into inf."""
    numbers = np.asarray(array, dtype=np.float64)
    beyond = overflows(numbers)
    if not beyond.any():
        return None
    first = [int(i) for i in np.unravel_index(int(np.flatnonzero(beyond)[0]), numbers.shape)]
    return overflow_finding(pointer_join(where, *first), float(numbers[tuple(first)]))


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def is_finite_number(value: Any) -> bool:
    return _is_number(value) and _finite(value)
