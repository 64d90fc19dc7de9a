"""Reports format a run's data faithfully (JSON valid against its schema, JUnit that CI parses, Markdown for a
pull request), and a baseline comparison flags regressions beyond its noise margins and nothing else."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from verifier.checks.budgets import LatencyStats
from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check, FileResult, RunResult
from verifier.format.schema.validator import validator
from verifier.report.baseline import Margins, apply_baseline, compare_file
from verifier.report.formats import format_json, format_junit, format_markdown, format_report, format_text


def _latency(p50: float, p99: float, *, reset_each: bool) -> dict:
    return LatencyStats(reset_each, 1000, 100, p50, p99, p50, p50 / 2, p99 * 2, p99 - p50).to_dict()


def _file(
    path: str,
    *,
    params: int = 13_520,
    error: float = 3e-7,
    p50: float = 4_000.0,
    failing: bool = False,
    model: str = "DynamicsEngine",
) -> FileResult:
    checks = (
        Check("validate", PASS, "no findings", {"errors": 0, "warnings": 0, "findings": []}),
        Check("load", PASS, "32 -> 16", {"in_size": 32, "out_size": 16}),
        Check(
            "numeric-frame",
            FAIL if failing else PASS,
            "max abs error",
            {
                "dtype": "float32",
                "atol": 1e-5,
                "rtol": 0.0,
                "max_abs_error": error,
                "n_failing": 3 if failing else 0,
                "n_compared": 4096,
            },
        ),
        Check(
            "numeric-stream",
            PASS,
            "max abs error",
            {
                "dtype": "float32",
                "atol": 1e-5,
                "rtol": 0.0,
                "max_abs_error": error,
                "n_failing": 0,
                "n_compared": 4096,
            },
        ),
        Check(
            "parameters",
            PASS,
            "13,520 parameters",
            {
                "json": params,
                "folded_lstm_bias": 0,
                "json_as_torch": params,
                "torch": params,
                "declared": params,
            },
        ),
        Check(
            "latency",
            PASS,
            "fast",
            {
                "budget_p99_ns": 1e7,
                "frame": _latency(p50, 2 * p50, reset_each=True),
                "stream": _latency(p50, 2 * p50, reset_each=False),
            },
        ),
        Check(
            "memory",
            WARN,
            "held",
            {"bytes_held": 60_000, "dtype": "float32", "weight_bytes": 54_080, "rss": None},
        ),
        Check("plugin-state", SKIP, "no reference", {}),
    )
    return FileResult(path, checks, model)


def _run(*files: FileResult, suite: tuple[Check, ...] = ()) -> RunResult:
    return RunResult(
        files,
        suite,
        tool={"name": "rtneural-verifier", "version": "0.1.0", "backend": "test"},
        machine={
            "cpu": "test cpu",
            "cores_logical": 2,
            "cores_physical": 1,
            "python": "3.11",
            "platform": "test",
        },
        settings={"dtype": "float32", "steps": 256, "seed": 0, "manifest": None, "baseline": None},
    )


MEMORY_TOTAL = Check(
    "memory-total",
    FAIL,
    "4,600,000 bytes exceeds the budget by 405,696 bytes",
    {
        "total_bytes": 4_600_000,
        "budget_bytes": 4_194_304,
        "by_model": {"DynamicsEngine": 4_600_000},
        "missing": [],
    },
)


def test_json_report_is_valid_against_the_report_schema_and_round_trips():
    run = _run(_file("a.json"), _file("b.json", failing=True), suite=(MEMORY_TOTAL,))
    data = json.loads(format_json(run))
    errors = list(validator("report").iter_errors(data))
    assert errors == [], [e.message for e in errors]
    assert data["status"] == "fail"
    assert data["counts"] == {"pass": 11, "fail": 2, "warn": 2, "skip": 2}
    assert RunResult.from_dict(data).to_dict() == data


def test_report_schema_rejects_a_latency_check_without_its_figures():
    data = json.loads(format_json(_run(_file("a.json"))))
    latency = next(c for c in data["files"][0]["checks"] if c["name"] == "latency")
    del latency["figures"]["frame"]
    assert list(validator("report").iter_errors(data)), "a latency check must carry both call patterns"


def test_junit_has_one_testcase_per_file_and_check_and_marks_failures():
    run = _run(_file("a.json"), _file("b.json", failing=True), suite=(MEMORY_TOTAL,))
    root = ET.fromstring(format_junit(run))
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 2 * 8 + 1
    assert root.get("tests") == str(len(cases))
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["numeric-frame", "memory-total"]
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["b.json"].get("failures") == "1"
    assert suites["a.json"].get("failures") == "0"
    assert suites["a.json"].get("skipped") == "1"
    failure = suites["all-models"].find("testcase/failure")
    assert "405,696" in failure.get("message")
    assert json.loads(failure.text)["total_bytes"] == 4_600_000


def test_markdown_names_the_failing_file_and_check():
    md = format_markdown(_run(_file("a.json"), _file("b.json", failing=True), suite=(MEMORY_TOTAL,)))
    assert "checks failed" in md
    assert "| `b.json` | DynamicsEngine | ❌ **fail** | `numeric-frame` |" in md
    assert "| `a.json` | DynamicsEngine | ✅ pass | — |" in md
    assert "405,696" in md


def test_markdown_of_a_passing_run_says_so():
    assert "all checks passed" in format_markdown(_run(_file("a.json")))


def test_text_report_quiet_shows_only_failures_and_warnings():
    run = _run(_file("a.json"), _file("b.json", failing=True))
    quiet = format_text(run, verbosity=-1)
    assert "numeric-frame" in quiet
    assert "memory" in quiet
    assert "validate" not in quiet
    assert quiet.strip().splitlines()[-1].startswith("FAILED")
    assert "validate" in format_text(run)
    assert '"n_failing": 3' in format_text(run, verbosity=1)


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown report format"):
        format_report(_run(_file("a.json")), "yaml")


# ------------------------------------------------------------------------------------------------ baseline


def test_identical_run_passes_the_baseline():
    run = _run(_file("a.json"))
    checked = apply_baseline(run, RunResult.from_dict(json.loads(format_json(run))))
    assert checked.files[0].check("baseline").status == PASS
    assert not checked.failed


def test_latency_within_the_noise_margin_is_not_a_regression():
    before, now = _file("a.json", p50=4_000), _file("a.json", p50=4_000 * 1.2)
    assert compare_file(before, now).status == PASS


def test_latency_regression_beyond_the_margin_is_flagged_with_its_figures():
    check = compare_file(_file("a.json", p50=4_000), _file("a.json", p50=6_000))
    assert check.status == FAIL
    assert "frame p50 latency 4.0 -> 6.0 µs (+50%" in check.summary
    assert check.figures["latency_frame_p50_ns"] == {"before": 4_000, "now": 6_000}


def test_small_absolute_latency_growth_is_below_the_floor():
    # +27% but only 80 ns: a few timer ticks on a sub-µs model, not a regression
    assert compare_file(_file("a.json", p50=300), _file("a.json", p50=380)).status == PASS


def test_parameter_change_is_flagged():
    check = compare_file(_file("a.json", params=13_520), _file("a.json", params=13_456))
    assert check.status == FAIL
    assert "parameters changed 13,520 -> 13,456 (-64)" in check.summary


def test_error_growth_is_flagged_and_round_off_is_not():
    assert compare_file(_file("a.json", error=3e-7), _file("a.json", error=9e-6)).status == FAIL
    assert compare_file(_file("a.json", error=3e-8), _file("a.json", error=9e-8)).status == PASS


def test_a_newly_failing_check_is_a_regression():
    check = compare_file(_file("a.json"), _file("a.json", failing=True))
    assert check.status == FAIL
    assert "newly failing: numeric-frame" in check.summary


def test_a_renamed_file_is_matched_by_its_model_name():
    checked = apply_baseline(_run(_file("renamed.json", params=1)), _run(_file("old.json", params=2)))
    assert checked.files[0].check("baseline").status == FAIL


def test_a_file_missing_from_the_baseline_is_skipped_not_failed():
    checked = apply_baseline(_run(_file("new.json", model="New")), _run(_file("old.json", model="Old")))
    assert checked.files[0].check("baseline").status == SKIP


def test_margins_are_configurable():
    tight = Margins(latency_ratio=1.05, latency_floor_ns=0.0)
    assert compare_file(_file("a.json", p50=4_000), _file("a.json", p50=4_400), tight).status == FAIL
