"""Error statistics per call pattern: figures worked out by hand on small arrays, the per-step series the
HTML report draws, and the statistics in the JSON and Markdown reports of a real run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from verifier.checks.errorstats import MAX_SERIES_POINTS, error_series, error_statistics
from verifier.cli import main
from verifier.pytorch.export import export

EXPECTED = np.array([[1.0, 2.0], [4.0, -8.0]])
ACTUAL = np.array([[1.1, 2.0], [4.0, -8.4]])  # errors 0.1 and 0.4; relative 0.1 and 0.05


def test_statistics_of_absolute_and_relative_error():
    stats = error_statistics(EXPECTED, ACTUAL)
    assert stats["abs"]["max"] == pytest.approx(0.4)
    assert stats["abs"]["mean"] == pytest.approx(0.125)
    assert stats["abs"]["median"] == pytest.approx(0.05)
    assert stats["abs"]["p99"] == pytest.approx(0.391)  # numpy's linear interpolation: 0.1 + 0.97 * 0.3
    assert stats["rel"]["max"] == pytest.approx(0.1)
    assert stats["worst_abs_at"] == [1, 1]
    assert stats["worst_rel_at"] == [0, 0]


def test_minimum_tolerances_that_would_pass():
    stats = error_statistics(EXPECTED, ACTUAL, rtol=0.04)
    assert stats["min_atol"] == pytest.approx(0.4)
    assert stats["min_rtol"] == pytest.approx(0.1)
    # with rtol 0.04 the allowance is 0.04 at [0, 0] and 0.32 at [1, 1]: atol must cover 0.06 and 0.08
    assert stats["min_atol_at_rtol"] == pytest.approx(0.08)


def test_snr_is_reference_power_over_error_power_in_db():
    stats = error_statistics(EXPECTED, ACTUAL)
    assert stats["snr_db"] == pytest.approx(10 * math.log10(85 / 0.17))


def test_identical_outputs_have_no_finite_snr_and_zero_minimum_tolerance():
    stats = error_statistics(EXPECTED, EXPECTED)
    assert stats["snr_db"] is None
    assert stats["min_atol"] == 0.0
    assert stats["min_rtol"] == 0.0


def test_no_relative_tolerance_passes_an_error_where_zero_is_expected():
    stats = error_statistics(np.array([[0.0, 1.0]]), np.array([[1e-9, 1.0]]))
    assert stats["min_rtol"] is None
    assert stats["min_atol"] == pytest.approx(1e-9)


def test_a_nan_output_is_flagged_and_leaves_no_misleading_figure():
    stats = error_statistics(EXPECTED, np.array([[1.0, np.nan], [4.0, -8.0]]))
    assert stats["nan"] is True
    assert stats["abs"]["max"] is None
    assert stats["min_atol"] is None
    json.dumps(stats, allow_nan=False)  # still valid JSON


def test_the_per_step_series_keeps_a_spike_when_reduced():
    steps = 5000
    expected = np.zeros((steps, 3))
    actual = np.full((steps, 3), 1e-8)
    actual[3217, 2] = 1e-3
    series = error_series(expected, actual, atol=1e-5, rtol=0.0)
    assert len(series["steps"]) == MAX_SERIES_POINTS
    assert max(series["max_abs_error"]) == pytest.approx(1e-3)
    assert set(series["allowed"]) == {1e-5}
    assert sum(series["histogram"]["counts"]) == steps * 3


def test_the_per_step_series_is_the_worst_element_of_each_step_with_its_allowance():
    series = error_series(EXPECTED, ACTUAL, atol=0.01, rtol=0.1)
    assert series["steps"] == [0, 1]
    assert series["max_abs_error"] == pytest.approx([0.1, 0.4])
    assert series["allowed"] == pytest.approx([0.01 + 0.1 * 1.0, 0.01 + 0.1 * 8.0])


@pytest.fixture
def small_run(tmp_path, capsys):
    torch.manual_seed(2)
    module = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.GRU(5, 4, batch_first=True), nn.Linear(4, 2))
    export(module, tmp_path / "m.json")
    torch.save(module, tmp_path / "m.pt")
    common = [str(tmp_path / "m.json"), "--against", str(tmp_path / "m.pt"), "--no-manifest", "--no-timing"]

    def run(fmt: str) -> str:
        main([*common, "--rss-copies", "0", "--steps", "40", "--format", fmt])
        return capsys.readouterr().out

    return run


def test_json_report_carries_statistics_per_call_pattern(small_run):
    report = json.loads(small_run("json"))
    checks = {c["name"]: c for c in report["files"][0]["checks"]}
    for name in ("numeric-frame", "numeric-stream"):
        stats = checks[name]["figures"]["stats"]
        assert stats["abs"]["max"] == pytest.approx(checks[name]["figures"]["max_abs_error"])
        assert stats["worst_abs_at"][0] < 40
        assert stats["snr_db"] > 60  # float32 against float64: round-off only
        assert len(checks[name]["figures"]["series"]["steps"]) == 40


def test_markdown_report_has_an_error_statistics_table(small_run):
    markdown = small_run("markdown")
    assert "**Error statistics**" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| `") and " dB |" in line]
    assert [row.split(" | ")[1] for row in rows] == ["frame", "stream"]
