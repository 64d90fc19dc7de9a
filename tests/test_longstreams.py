"""The long-streams check: seconds of sweeps, silence after signal, DC and full scale at 48 kHz, judged by the
numeric pass rule and reported as error-to-signal ratio in dB. Expected figures are computed by hand."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from verifier.checks.longstreams import (
    CASES,
    SAMPLE_RATE,
    check_long_streams,
    error_to_signal_db,
    long_stream_cases,
)
from verifier.checks.tolerance import tolerance_for
from verifier.engine.model import load
from verifier.format.reader.document import read_document
from verifier.pytorch.export import export
from verifier.pytorch.run import stream


def test_the_cases_are_seconds_of_exact_float32_signals_on_every_input():
    cases = long_stream_cases(2, seconds=0.5)
    assert tuple(cases) == CASES
    for xs in cases.values():
        assert xs.shape == (SAMPLE_RATE // 2, 2)
        np.testing.assert_array_equal(xs, xs.astype(np.float32).astype(np.float64))
        np.testing.assert_array_equal(xs[:, 0], xs[:, 1])
    assert np.abs(cases["sweep"]).max() == pytest.approx(0.5, abs=1e-3)
    assert not cases["silence_after_signal"][SAMPLE_RATE // 4 :].any()  # silent from the middle on
    np.testing.assert_array_equal(cases["silence_after_signal"][:100], cases["sweep"][:100])
    assert set(np.unique(cases["dc"])) == {0.5}
    assert set(np.unique(cases["full_scale"])) == {-1.0, 1.0}


def test_the_sweep_runs_from_20_hz_to_20_khz():
    # 10 s: the frequency barely moves within the first period (it grows 1000x over the sweep)
    sweep = long_stream_cases(1, seconds=10.0)["sweep"][:, 0]
    crossings = np.flatnonzero(np.diff(np.signbit(sweep)))
    # a sine of f Hz crosses zero 2f times a second: 20 Hz at the start, 20 kHz at the end
    first_period = (crossings[2] - crossings[0]) / SAMPLE_RATE
    assert 1 / first_period == pytest.approx(20.0, rel=0.05)
    last = crossings[crossings > 10 * SAMPLE_RATE - 480]  # the last 10 ms
    assert len(last) / 2 / 0.01 == pytest.approx(20_000, rel=0.05)


def test_error_to_signal_ratio_is_ten_log10_of_error_over_signal_energy():
    expected = np.ones((100, 1))
    assert error_to_signal_db(expected, expected + 0.01) == pytest.approx(-40.0)  # 100 * 1e-4 / 100
    assert error_to_signal_db(expected, 2 * expected) == pytest.approx(0.0)
    assert error_to_signal_db(expected, expected) == -math.inf
    assert error_to_signal_db(np.zeros((10, 1)), np.ones((10, 1))) is None  # no signal to relate it to
    assert error_to_signal_db(expected, np.full((100, 1), np.nan)) is None


def _gru(tmp_path: Path) -> tuple[nn.Module, Path]:
    torch.manual_seed(3)
    module = nn.Sequential(nn.GRU(1, 6, batch_first=True), nn.Linear(6, 1))
    path = tmp_path / "gru.json"
    export(module, path)
    return module, path


def _engine(path: Path, dtype: str):
    model = load(path, dtype)

    def run(xs: np.ndarray) -> np.ndarray:
        model.reset()
        return model.run(xs)

    return run


def test_a_faithful_recurrent_export_passes_long_streams_with_its_esr_reported(tmp_path: Path):
    module, path = _gru(tmp_path)
    steps = int(0.25 * SAMPLE_RATE)
    atol, rtol = tolerance_for(read_document(path)[0], "float32", steps=steps)
    check = check_long_streams(
        _engine(path, "float32"),
        lambda xs: stream(module, xs),
        1,
        atol=atol,
        rtol=rtol,
        dtype="float32",
        seconds=0.25,
    )
    assert check.status == "pass", check.summary
    assert set(check.figures["cases"]) == set(CASES)
    for case in check.figures["cases"].values():
        assert case["steps"] == steps
        assert case["esr_db"] is None or case["esr_db"] < -100  # float32 round-off: far below the signal
    assert "dB" in check.summary


def test_a_slightly_wrong_export_fails_long_streams_naming_the_case(tmp_path: Path):
    module, path = _gru(tmp_path)
    wrong = copy.deepcopy(module)
    with torch.no_grad():
        wrong[1].bias += 1e-3  # an output bias off by 1e-3: invisible in a listening test, not to this check
    atol, rtol = 1e-5, 1e-5
    check = check_long_streams(
        _engine(path, "float64"),
        lambda xs: stream(wrong, xs),
        1,
        atol=atol,
        rtol=rtol,
        dtype="float64",
        seconds=0.1,
    )
    assert check.status == "fail"
    assert "dc: FAIL" in check.summary
    assert check.figures["cases"]["dc"]["n_failing"] > 0
    assert check.figures["cases"]["dc"]["max_abs_error"] == pytest.approx(1e-3, rel=1e-3)


# --- verify --long-streams --------------------------------------------------------------------------------


def test_verify_runs_long_streams_only_when_asked(tmp_path: Path, capsys):
    from verifier.cli import main

    _, path = _gru(tmp_path)
    fast = [str(path), "--no-timing", "--rss-copies", "0", "--steps", "16"]
    assert main(fast) == 0
    assert "long-streams" not in capsys.readouterr().out
    assert main([*fast, "--long-streams"]) == 0
    out = capsys.readouterr().out
    assert "ok   long-streams     4 streams of 2 s at 48 kHz within" in out
    assert "sweep -1" in out  # an ESR in dB, far below the signal


def test_long_streams_fail_against_a_module_the_export_does_not_compute(tmp_path: Path):
    import verifier

    module, path = _gru(tmp_path)
    wrong = copy.deepcopy(module)
    with torch.no_grad():
        wrong[1].bias += 1e-2
    (result,) = verifier.verify(
        [str(path)], module=wrong, timing=False, rss_copies=0, steps=16, long_streams=0.05
    ).files
    check = result.check("long-streams")
    assert check is not None
    assert check.status == "fail"
    assert check.figures["cases"]["dc"]["max_abs_error"] == pytest.approx(1e-2, rel=1e-3)
