"""--baseline flags every way a pull request loosens the gate while its figures still look fine (issue 22):
a raised tolerance, another tolerance origin, another reference, another call pattern, fewer compared values,
a check now skipped. The Markdown summary (the GitHub job summary) lists them before anything else."""

from __future__ import annotations

import pytest

from verifier.checks.results import FAIL, PASS, SKIP, Check, FileResult, RunResult
from verifier.report.baseline import apply_baseline
from verifier.report.formats import format_report

MODULE = {"kind": "module", "factory": "amp.model:build", "summary": "against module amp.model:build"}


def _file(
    atol: float = 1e-5,
    origin: str = "verifier.checks.tolerance (model depth and width)",
    reference: dict | None = None,
    plugin_call: str = "stream",
    compared: int = 512,
    latency: str = PASS,
) -> FileResult:
    numeric = {
        "atol": atol,
        "rtol": atol,
        "tolerance_origin": origin,
        "max_abs_error": 1e-7,
        "n_compared": compared,
    }
    return FileResult(
        "exports/amp.json",
        (
            Check("numeric-frame", PASS, "ok", dict(numeric)),
            Check("numeric-stream", PASS, "ok", dict(numeric)),
            Check("plugin-state", PASS, "ok", {"plugin_call": plugin_call, "torch_call": "stream"}),
            Check("parameters", PASS, "ok", {"json": 100}),
            Check("latency", latency, "ok", {}),
        ),
        "Amp",
        MODULE if reference is None else reference,
    )


def _run(f: FileResult) -> RunResult:
    return RunResult((f,), (), {"name": "rtneural-verifier"}, {}, {"dtype": "float32"})


def _baseline_check(now: FileResult) -> Check:
    check = apply_baseline(_run(now), _run(_file())).files[0].check("baseline")
    assert check is not None
    return check


def test_an_unchanged_gate_is_not_flagged():
    check = _baseline_check(_file())
    assert check.status == PASS
    assert check.figures["loosened"] == []


@pytest.mark.parametrize(
    ("now", "said"),
    [
        (_file(atol=1e-3), "numeric-frame atol raised 1e-05 -> 0.001"),
        (_file(origin="manifest"), "tolerance now from manifest"),
        (_file(reference={"kind": "module", "factory": "amp.rebuild:from_json"}), "reference changed"),
        (_file(reference={"kind": "json-rebuild"}), "reference changed"),
        (_file(plugin_call="reset-each-call"), "plugin_call changed stream -> reset-each-call"),
        (_file(compared=64), "compares 64 values (was 512)"),
        (_file(latency=SKIP), "now skipped: latency"),
    ],
    ids=["atol-100x", "origin", "factory-swapped", "no-reference", "plugin-call", "fewer-steps", "skipped"],
)
def test_each_loosening_of_the_gate_fails_the_baseline_check_naming_it(now, said):
    check = _baseline_check(now)
    assert check.status == FAIL
    assert any(said in item for item in check.figures["loosened"]), check.figures["loosened"]
    assert check.summary.startswith("regressed since the baseline: gate loosened: ")


def test_a_tighter_tolerance_is_no_loosening():
    assert _baseline_check(_file(atol=1e-6)).status == PASS


def test_the_markdown_summary_lists_the_loosenings_before_the_table():
    text = format_report(apply_baseline(_run(_file(atol=1e-3)), _run(_file())), "markdown")
    first = text.index("The gate was loosened since the baseline")
    assert first < text.index("| file | model | result | failing checks |")
    assert "atol raised 1e-05 -&gt; 0.001" in text or "atol raised 1e-05 -> 0.001" in text
