"""verifier.checks.compare: the pass rule, the statistics and where the worst and first failures are."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from verifier.checks.compare import Comparison, compare


def test_identical_arrays_pass_with_zero_error():
    data = np.linspace(-1, 1, 12).reshape(4, 3)
    result = compare(data, data.copy(), atol=0.0)
    assert result.passed
    assert result.max_abs_error == 0.0
    assert result.n_failing == 0
    assert result.n_compared == 12
    assert result.first_failing_step is None


def test_error_equal_to_atol_passes_and_just_above_fails():
    expected = np.array([1.0, 2.0])
    assert compare(expected, expected + np.array([0.5, 0.0]), atol=0.5).passed
    failed = compare(expected, expected + np.array([0.5 + 1e-9, 0.0]), atol=0.5)
    assert not failed.passed
    assert failed.n_failing == 1


def test_rtol_scales_with_the_expected_magnitude():
    expected = np.array([1000.0, 1.0])
    actual = np.array([1001.0, 1.0])
    assert not compare(expected, actual, atol=0.0).passed
    assert compare(expected, actual, atol=0.0, rtol=1e-3).passed
    assert not compare(expected, actual, atol=0.0, rtol=0.9e-3).passed


@pytest.mark.parametrize(
    ("expected", "actual"),
    [([1.0, math.nan], [1.0, 1.0]), ([1.0, 1.0], [1.0, math.nan]), ([math.nan], [math.nan])],
    ids=["nan-expected", "nan-actual", "nan-both"],
)
def test_nan_never_passes_whatever_the_tolerance(expected, actual):
    result = compare(expected, actual, atol=1e30, rtol=1e30)
    assert not result.passed
    assert result.n_failing == 1
    assert math.isnan(result.max_abs_error)


def test_infinities_of_the_same_sign_do_not_pass():
    assert not compare([math.inf], [math.inf], atol=1.0).passed


def test_worst_index_and_values_point_at_the_largest_error():
    expected = np.zeros((5, 3))
    actual = expected.copy()
    actual[1, 0] = 0.1
    actual[3, 2] = -0.7
    result = compare(expected, actual, atol=0.01)
    assert result.worst_index == (3, 2)
    assert result.worst_step == 3
    assert result.max_abs_error == pytest.approx(0.7)
    assert result.expected_at_worst == 0.0
    assert result.actual_at_worst == pytest.approx(-0.7)


def test_first_failing_step_is_the_earliest_row_with_a_failure_not_the_worst():
    expected = np.zeros((6, 2))
    actual = expected.copy()
    actual[2, 1] = 0.02
    actual[4, 0] = 0.9
    result = compare(expected, actual, atol=0.01)
    assert result.first_failing_step == 2
    assert result.worst_step == 4
    assert result.n_failing == 2


def test_a_one_dimensional_array_is_a_sequence_of_steps():
    result = compare([0.0, 0.0, 0.0], [0.0, 0.5, 0.2], atol=0.1)
    assert result.worst_step == 1
    assert result.first_failing_step == 1
    assert result.worst_index == (1,)


def test_max_rel_error_ignores_elements_whose_expected_value_is_zero():
    result = compare([0.0, 2.0], [0.5, 2.2], atol=1.0)
    assert result.max_rel_error == pytest.approx(0.1)
    assert compare([0.0], [0.5], atol=1.0).max_rel_error == 0.0


def test_shape_mismatch_raises_value_error_naming_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
        compare(np.zeros((4, 3)), np.zeros((3, 4)), atol=1.0)


@pytest.mark.parametrize(("atol", "rtol"), [(-1e-6, 0.0), (0.0, -1.0), (math.nan, 0.0)])
def test_negative_or_nan_tolerance_is_refused(atol, rtol):
    with pytest.raises(ValueError, match="tolerances"):
        compare([1.0], [1.0], atol=atol, rtol=rtol)


def test_empty_arrays_pass_and_say_nothing_was_compared():
    result = compare(np.zeros((0, 3)), np.zeros((0, 3)), atol=0.0)
    assert result.passed
    assert result.n_compared == 0
    assert result.worst_index == ()
    assert "nothing compared" in result.summary()


def test_comparison_is_frozen():
    result = compare([1.0], [1.0], atol=0.0)
    assert isinstance(result, Comparison)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = False  # type: ignore[misc]


def test_summary_is_one_line_with_verdict_worst_error_and_first_failure():
    expected = np.zeros((3, 2))
    actual = expected.copy()
    actual[1, 1] = 0.25
    text = compare(expected, actual, atol=0.1).summary()
    assert "\n" not in text
    assert text.startswith("FAIL")
    assert "0.25" in text
    assert "[1, 1]" in text
    assert "first failing step 1" in text
    assert compare(expected, expected, atol=0.1).summary().startswith("PASS")


def test_inputs_are_not_modified():
    expected = np.array([[1.0, 2.0]])
    actual = np.array([[1.5, math.nan]])
    compare(expected, actual, atol=0.1)
    np.testing.assert_array_equal(expected, [[1.0, 2.0]])
    assert actual[0, 0] == 1.5
    assert math.isnan(actual[0, 1])
