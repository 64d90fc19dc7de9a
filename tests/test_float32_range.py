"""Numbers a float32 engine cannot hold: a finding at their pointer whenever a model is checked or used at
float32 (validate, load, verify, golden data), and a NaN or an infinity in a float32 run is a failed check.

The fixtures are fixtures/bad/float32-*.json (fixtures/bad/_generate.py): one weight of a dense, lstm, gru,
conv1d, batchnorm, prelu or conv2d layer, or a batchnorm epsilon, set to +-1e308, 2^63, +-3.5e38, 1e-46 or
1e-40. The expected pointer is found here by walking the file for the odd number, not by the checker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from verifier.checks.diagnose.sensitivity import Horizon, judge_chaotic_stream
from verifier.checks.results import FAIL, WARN, Check
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_files
from verifier.engine.model import load
from verifier.errors import ModelFormatError
from verifier.format.reader.float32 import OVERFLOW_AT, SUBNORMAL_BELOW, ZERO_AT_OR_BELOW, fate
from verifier.format.validate import validate

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
FIXTURES = sorted(BAD.glob("float32-*.json"))
FLT_MAX = 3.4028234663852886e38
FLT_MIN = 1.1754943508222875e-38


def _odd_number(doc: Any, where: str = "") -> tuple[str, float] | None:
    """Pointer and value of the one number of ``doc`` whose size is out of a float32 weight's usual range."""
    if isinstance(doc, dict):
        items: Any = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        size = abs(doc) if isinstance(doc, (int, float)) and not isinstance(doc, bool) else None
        return (where, float(doc)) if size is not None and (size > 1e18 or 0 < size < 1e-30) else None
    for key, value in items:
        found = _odd_number(value, f"{where}/{key}")
        if found:
            return found
    return None


def _odd(path: Path) -> tuple[str, float]:
    found = _odd_number(json.loads(path.read_text()))
    assert found is not None, path
    return found


def _check(result: Any, name: str) -> tuple[str, str]:
    check = result.check(name)
    assert check is not None, name
    return check.status, check.summary


BEYOND = [p for p in FIXTURES if abs(_odd(p)[1]) > FLT_MAX]
BELOW = [p for p in FIXTURES if abs(_odd(p)[1]) < FLT_MIN]
HELD = [p for p in FIXTURES if p not in BEYOND and p not in BELOW]


def test_the_fixtures_cover_every_layer_family_and_value():
    assert len(FIXTURES) == 53
    assert (len(BEYOND), len(BELOW), len(HELD)) == (30, 16, 7)
    names = " ".join(p.name for p in FIXTURES)
    for family in ("dense", "lstm", "gru", "conv1d", "batchnorm", "prelu", "conv2d", "epsilon"):
        assert f"-{family}-" in names


# --- where float32 rounding puts a double (numpy's cast is the independent judge) -------------------------


@pytest.mark.parametrize(
    "value",
    [
        FLT_MAX,
        np.nextafter(OVERFLOW_AT, 0),
        OVERFLOW_AT,
        1e308,
        3.5e38,
        2.0**63,
        FLT_MIN,
        SUBNORMAL_BELOW,
        np.nextafter(SUBNORMAL_BELOW, 1),
        np.nextafter(SUBNORMAL_BELOW, 0),
        1e-40,
        np.nextafter(ZERO_AT_OR_BELOW, 1),
        ZERO_AT_OR_BELOW,
        1e-46,
        5e-324,
        0.0,
        0.5,
    ],
)
def test_the_float32_bounds_are_where_numpy_rounding_turns_a_double_into_inf_a_subnormal_or_zero(value):
    for signed in (value, -value):
        with np.errstate(over="ignore", under="ignore"):
            single = np.float32(signed)
        if np.isinf(single):
            expected = "overflow"
        elif single == 0 and signed != 0:
            expected = "zero"
        elif single != 0 and abs(single) < np.finfo(np.float32).tiny:
            expected = "subnormal"
        else:
            expected = "ok"
        assert fate(float(signed)) == expected, signed


# --- validate and load ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BEYOND, ids=lambda p: p.name)
def test_a_number_beyond_float32_is_an_error_at_its_pointer_and_load_refuses_it_there(path):
    pointer, _ = _odd(path)
    errors = [f for f in validate(path) if f.severity == "error"]
    assert [(f.rule, f.pointer) for f in errors] == [("RTN-E208", pointer)]
    with pytest.raises(ModelFormatError) as refused:
        load(path)  # float32, the default: what a plugin runs
    assert (refused.value.rule, refused.value.pointer) == ("RTN-E208", pointer)
    assert "float32" in refused.value.message


@pytest.mark.parametrize("path", BEYOND, ids=lambda p: p.name)
def test_a_number_beyond_float32_is_fine_for_a_float64_check_and_engine(path):
    assert validate(path, dtype="float64") == []
    assert load(path, "float64").out_size >= 1


@pytest.mark.parametrize("path", BELOW, ids=lambda p: p.name)
def test_a_number_float32_makes_subnormal_or_zero_is_a_warning_at_its_pointer_from_validate_and_load(path):
    pointer, _ = _odd(path)
    assert [(f.rule, f.pointer) for f in validate(path)] == [("RTN-W008", pointer)]
    model = load(path)
    assert (model.warning_rules, [w[0] for w in model.warnings]) == (["RTN-W008"], [pointer])
    assert validate(path, dtype="float64") == []
    assert load(path, "float64").warning_rules == []


@pytest.mark.parametrize("path", HELD, ids=lambda p: p.name)
def test_two_to_the_63_is_a_float32_exactly_and_no_finding(path):
    assert validate(path) == []
    load(path)


def _dense(kernel: list[list[float]], bias: list[float]) -> dict[str, Any]:
    """A model of one linear dense layer with this [in][out] kernel and bias."""
    return {
        "in_shape": [None, None, len(kernel)],
        "layers": [
            {"type": "dense", "activation": "", "shape": [None, None, len(bias)], "weights": [kernel, bias]},
        ],
    }


def test_an_underflowing_array_is_one_warning_at_its_first_tiny_number_with_the_count():
    doc = _dense([[0.5, 1e-40], [1e-45, 0.0], [0.0, 1e-50]], [0.0, 0.0])
    (only,) = validate(doc)
    assert (only.rule, only.pointer) == ("RTN-W008", "/layers/0/weights/0/0/1")
    assert "3 values" in only.message
    assert load(doc).warnings[0][0] == "/layers/0/weights/0/0/1"


def _large_dense(kernel_value_at: tuple[int, int], value: float) -> bytes:
    """A dense layer 16 -> 8 written as text: its kernel (128 numbers) is read as a view kept in C++."""
    kernel = [[0.25] * 8 for _ in range(16)]
    kernel[kernel_value_at[0]][kernel_value_at[1]] = value
    return json.dumps(_dense(kernel, [0.0] * 8)).encode()


@pytest.mark.parametrize("value", [1e308, -3.5e38, float.fromhex("0x1.ffffffp+127")])
def test_a_number_beyond_float32_deep_in_a_large_array_is_an_error_at_its_pointer(value):
    text = _large_dense((11, 5), value)
    errors = [f for f in validate(text) if f.severity == "error"]
    assert [(f.rule, f.pointer) for f in errors] == [("RTN-E208", "/layers/0/weights/0/11/5")]
    with pytest.raises(ModelFormatError) as refused:
        load(text)
    assert (refused.value.rule, refused.value.pointer) == ("RTN-E208", "/layers/0/weights/0/11/5")
    assert validate(text, dtype="float64") == []


def test_a_number_float32_makes_subnormal_deep_in_a_large_array_is_a_warning_at_its_pointer():
    text = _large_dense((9, 2), 1e-40)
    assert [(f.rule, f.pointer) for f in validate(text)] == [("RTN-W008", "/layers/0/weights/0/9/2")]
    assert [w[0] for w in load(text).warnings] == ["/layers/0/weights/0/9/2"]


def test_validate_refuses_an_unknown_dtype():
    with pytest.raises(ValueError, match="float32"):
        validate(BAD.parent / "good" / "mlp.json", dtype="float16")


# --- verify ---------------------------------------------------------------------------------------------


def test_verify_fails_every_file_holding_a_number_beyond_float32_naming_the_rule():
    run = verify_files([str(p) for p in BEYOND], Options(timing=False))
    for result in run.files:
        assert result.failed, result.path
        status, summary = _check(result, "validate")
        assert status == FAIL
        assert summary.startswith("RTN-E208 " + _odd(Path(result.path))[0])


def test_verify_at_float64_checks_such_a_file_numerically_instead(tmp_path):
    path = BAD / "float32-dense-1e308.json"
    run = verify_files([str(path)], Options(timing=False, dtype="float64"))
    (result,) = run.files
    assert _check(result, "validate")[0] != FAIL
    assert _check(result, "load")[0] != FAIL


def test_verify_validate_checks_float32_by_default_and_float64_on_request(capsys):
    from verifier.cli import main

    path = str(BAD / "float32-gru-3.5e38.json")
    assert main(["validate", path]) == 1
    assert "RTN-E208" in capsys.readouterr().out
    assert main(["validate", "--dtype", "float64", path]) == 0


# --- a NaN or an infinity in a float32 run --------------------------------------------------------------


def _failing_stream(actual: np.ndarray) -> Check:
    return Check("numeric-stream", FAIL, "engine output not finite", {"atol": 1e-5, "rtol": 1e-5})


def test_a_stream_holding_a_nan_stays_a_failure_whatever_the_models_sensitivity():
    expected = np.zeros((8, 1))
    actual = expected.copy()
    actual[5, 0] = np.nan
    judged = judge_chaotic_stream(
        _failing_stream(actual),
        expected,
        actual,
        Horizon(step=5, divergence=np.inf, runs=4),
        atol=1e-5,
        rtol=1e-5,
        dtype="float32",
    )
    assert judged.status == FAIL


def test_a_float32_run_that_overflows_fails_every_numeric_check(tmp_path):
    # Every weight is a float32, but 3e38 * x1 + 3e38 * x2 overflows it, and inf - inf is NaN.
    doc = {
        "in_shape": [None, None, 2],
        "layers": [
            {
                "type": "dense",
                "activation": "",
                "shape": [None, None, 2],
                "weights": [[[3e38, 3e38], [3e38, 3e38]], [0.0, 0.0]],
            },
            {"type": "dense", "shape": [None, None, 1], "weights": [[[1.0], [-1.0]], [0.0]]},
        ],
    }
    path = tmp_path / "overflowing.json"
    path.write_text(json.dumps(doc))
    (result,) = verify_files([str(path)], Options(timing=False)).files
    for name in ("numeric-frame", "numeric-stream", "plugin-state"):
        status, summary = _check(result, name)
        assert status == FAIL, (name, summary)
        assert "not finite" in summary


def test_a_golden_bundle_is_not_written_for_a_model_float32_cannot_hold(tmp_path):
    from verifier.checks.golden.bundles import write_bundle

    with pytest.raises(ModelFormatError) as refused:
        write_bundle(
            BAD / "float32-lstm-1e308.json",
            tmp_path / "bundle",
            tolerance=lambda dtype: (1e-5, 1e-5),
            steps=8,
        )
    assert refused.value.rule == "RTN-E208"
    assert not (tmp_path / "bundle").exists()


def test_golden_expectations_holding_a_nan_are_refused():
    from verifier.checks.golden.bundles import GoldenError, finite_expectations

    with pytest.raises(GoldenError, match="stream output is not finite at step 2"):
        finite_expectations(np.zeros((4, 1)), np.array([[0.0], [1.0], [np.inf], [0.0]]), "case random")


def test_a_warning_is_not_a_failure_for_numbers_float32_makes_subnormal():
    (result,) = verify_files([str(BAD / "float32-dense-1e-40.json")], Options(timing=False)).files
    status, summary = _check(result, "validate")
    assert status == WARN
    assert "RTN-W008" in summary
    assert not result.failed


def test_a_number_beyond_float32_before_a_ragged_row_is_the_first_error_for_validate_and_load():
    # Found by tools/measure_rule_book.py: validate's slow path looked for float32 only on a fast path
    # that had seen no other problem, and reported the later ragged row instead.
    doc = _dense([[0.5, 1e300], [0.5]], [0.0, 0.0])
    (first,) = [f for f in validate(doc) if f.severity == "error"]
    assert (first.rule, first.pointer) == ("RTN-E208", "/layers/0/weights/0/0/1")
    with pytest.raises(ModelFormatError) as refused:
        load(doc)
    assert (refused.value.rule, refused.value.pointer) == ("RTN-E208", "/layers/0/weights/0/0/1")
