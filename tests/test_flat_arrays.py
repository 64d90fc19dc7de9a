"""The C++ reader stores a rectangular nest of numbers (two or more levels, rows of one length) flat: one
buffer of numbers and its dims, built while parsing (issue 16: a file of 2^20 one-element rows cost a
container per row, eight times the file). The storage must not show: the Python view has the values and
the int/float kinds the text has, and every finding of ``validate`` and ``load`` -- rule, pointer -- is the
one the same document gives when it comes as a dict (read element by element, never flat).

Peak memory is measured in a fresh child process (time is never asserted here).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from peak_memory import MEASURABLE, memory_growth

import verifier
from verifier.format.reader.document import read
from verifier.format.validate import validate
from verifier.testing.big_files import model_text

ROWS = 300  # enough rows that a mistake sits deep inside a long flat run
BAD_ROW = 250
KERNEL = "/layers/0/weights/0"


def _dense(rows: list) -> dict:
    return {
        "in_shape": [None, len(rows)],
        "layers": [
            {"type": "dense", "activation": "", "shape": [None, 2], "weights": [rows, [0.0, 0.0]]},
        ],
    }


def _with_row(bad_row: object) -> dict:
    rows: list = [[0.25, -0.5] for _ in range(ROWS)]
    rows[BAD_ROW] = bad_row
    return _dense(rows)


# Each: the document, then the (rule, pointer) expected of validate's first error and of both loads.
MISTAKES = {
    "ragged-row": (_with_row([0.25, -0.5, 1.0]), ("RTN-E202", f"{KERNEL}/{BAD_ROW}")),
    "short-row": (_with_row([0.25]), ("RTN-E202", f"{KERNEL}/{BAD_ROW}")),
    "string-in-a-row": (_with_row([0.25, "x"]), ("RTN-E102", f"{KERNEL}/{BAD_ROW}/1")),
    "null-in-a-row": (_with_row([None, 0.5]), ("RTN-E102", f"{KERNEL}/{BAD_ROW}/0")),
    "list-in-a-row": (_with_row([0.25, [0.5]]), ("RTN-E202", f"{KERNEL}/{BAD_ROW}/1")),
    "number-for-a-row": (_with_row(0.5), ("RTN-E202", KERNEL)),
    "empty-row": (_with_row([]), ("RTN-E202", f"{KERNEL}/{BAD_ROW}")),
    "first-row-short": (_dense([[0.5]] + [[0.25, -0.5]] * (ROWS - 1)), ("RTN-E202", f"{KERNEL}/1")),
}


def _refusal(source: object, dtype: str) -> tuple[str, str] | None:
    try:
        verifier.load(source, dtype)
    except verifier.ModelFormatError as error:
        return error.rule, error.pointer
    return None


def _first_error(source: object) -> tuple[str, str] | None:
    errors = [f for f in validate(source) if f.severity == "error"]
    return (errors[0].rule, errors[0].pointer) if errors else None


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_inside_a_flat_array_is_found_at_its_pointer_by_validate_and_load(name):
    doc, expected = MISTAKES[name]
    text = json.dumps(doc).encode()
    assert _first_error(text) == expected
    for dtype in ("float32", "float64"):
        assert _refusal(text, dtype) == expected
        assert _refusal(copy.deepcopy(doc), dtype) == expected  # a dict: never stored flat


def test_a_number_float32_cannot_hold_deep_in_a_flat_array_is_refused_at_its_pointer():
    text = json.dumps(_with_row([0.25, 1e39])).encode()
    assert _refusal(text, "float32") == ("RTN-E208", f"{KERNEL}/{BAD_ROW}/1")
    assert _refusal(text, "float64") is None


def test_an_underflow_deep_in_a_flat_array_is_warned_at_its_first_pointer():
    doc = _with_row([1e-40, 0.5])
    doc["layers"][0]["weights"][0][BAD_ROW + 10] = [0.5, 1e-45]
    model = verifier.load(json.dumps(doc).encode(), "float32")
    notes = zip(model.warnings, model.warning_rules, strict=True)
    pointers = [pointer for (pointer, _), rule in notes if rule == "RTN-W008"]
    assert pointers == [f"{KERNEL}/{BAD_ROW}/0"]
    from_dict = verifier.load(doc, "float32")
    assert from_dict.warnings == model.warnings


def test_a_flat_three_level_kernel_loads_as_its_nested_lists_do():
    # conv1d kernel [kernel_size][in][out] with one output: many one-element rows at the deepest level.
    kernel = [[[0.125 * (k + 1) * (i + 1)] for i in range(64)] for k in range(3)]
    doc = {
        "in_shape": [None, 64],
        "layers": [
            {
                "type": "conv1d",
                "activation": "",
                "shape": [None, None, 1],
                "kernel_size": [3],
                "dilation": [1],
                "weights": [kernel, [0.5]],
            }
        ],
    }
    flat = verifier.load(json.dumps(doc).encode(), "float64")
    general = verifier.load(doc, "float64")
    x = [0.01 * i for i in range(64)]
    for _ in range(4):
        assert flat.forward(x).tolist() == general.forward(x).tolist()


def _same_json(a: object, b: object) -> bool:
    # json.dumps tells 1 from 1.0 (an int from a float), which == does not.
    return json.dumps(a) == json.dumps(b)


NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1, 1.0, 2**53, 2**53 + 1, -(2**60)]),
)


def _nests(leaf: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(st.lists(leaf, max_size=4), lambda inner: st.lists(inner, max_size=4), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(_nests(NUMBERS))
def test_the_python_view_of_any_nest_of_numbers_has_the_values_and_kinds_of_the_text(value):
    text = json.dumps({"a": value})
    assert _same_json(read(text.encode()).tree, json.loads(text))


# -0.0 and 0.0 compare equal as numbers, which json.dumps does not show: left out of the kinds compared here.
UNSIGNED_ZERO = NUMBERS.map(lambda x: x + 0 if isinstance(x, int) else x + 0.0)


def _duplicate_rules(first: object, second: object) -> list[str]:
    value, again = json.dumps(first), json.dumps(second)
    text = f'{{"in_shape": [null, 1], "layers": [], "k": {value}, "k": {again}}}'
    return [f.rule for f in validate(text.encode())]


@settings(max_examples=200, deadline=None)
@given(_nests(UNSIGNED_ZERO), _nests(UNSIGNED_ZERO))
def test_a_duplicate_key_is_identical_exactly_when_its_values_are_alike(first, second):
    alike = _same_json(first, second)
    rules = _duplicate_rules(first, second)
    assert ("RTN-W007" in rules) == alike
    assert ("RTN-E006" in rules) == (not alike)


@settings(max_examples=100, deadline=None)
@given(_nests(NUMBERS))
def test_a_duplicate_key_with_a_copy_of_its_value_is_a_warning(value):
    rules = _duplicate_rules(value, value)
    assert "RTN-W007" in rules
    assert "RTN-E006" not in rules


def test_rows_written_as_int_and_as_float_are_different_values_of_a_duplicate_key():
    text = b'{"in_shape": [null, 1], "layers": [], "k": [[1, 2], [3, 4]], "k": [[1, 2], [3, 4.0]]}'
    assert "RTN-E006" in [f.rule for f in validate(text)]


# --- memory, in a fresh process -----------------------------------------------------------------------------

# validate or load the file; the first error's rule and pointer ("None None" when there is none)
_FIRST_ERROR = """
if sys.argv[2] == "validate":
    found = [f for f in validate(sys.argv[1]) if f.severity == "error"]
    answer = [found[0].rule, found[0].pointer] if found else [None, None]
else:
    try:
        verifier.load(sys.argv[1], sys.argv[2])
        answer = [None, None]
    except verifier.ModelFormatError as error:
        answer = [error.rule, error.pointer]
"""


def _peak_in_child(path: Path, command: str) -> tuple[int, str, str]:
    growth, (rule, pointer) = memory_growth(_FIRST_ERROR, str(path), command)
    return growth, rule, pointer


@MEASURABLE
@pytest.mark.parametrize("command", ["validate", "float32", "float64"])
def test_a_file_of_one_element_rows_is_refused_within_three_times_its_size_in_memory(tmp_path, command):
    path = tmp_path / "rows.json"
    path.write_text(model_text("rows", 12_000_000))
    growth, rule, pointer = _peak_in_child(path, command)
    assert (rule, pointer) == ("RTN-E303", "/in_shape")  # the width limit, from the declaration
    assert growth <= 3 * path.stat().st_size, f"{growth / 2**20:.0f} MB"


@MEASURABLE
@pytest.mark.parametrize("command", ["float32", "float64"])
def test_a_large_kernel_beside_its_bias_loads_within_three_times_its_size_in_memory(tmp_path, command):
    # `weights` holds a flat kernel and a list: the kernel must not be copied into a flat `weights` that
    # then has to give it back when the bias does not fit.
    path = tmp_path / "valid.json"
    path.write_text(model_text("valid", 12_000_000))
    growth, rule, _ = _peak_in_child(path, command)
    assert rule == "None"
    assert growth <= 3 * path.stat().st_size, f"{growth / 2**20:.0f} MB"
