"""The latency check's patterns and verdict (silence after signal, flush-to-zero, RTNeural beside, the
plugin's own build), how reports render them, and ``verify --plugin-latency FILE`` on hostile files.

Every figure here is injected: the verdicts are judged on given numbers, never on a timing.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from verifier.checks.budgets import LatencyStats, PatternLatency, PluginLatency, check_latency
from verifier.checks.results import FAIL, PASS, Check, FileResult, RunResult
from verifier.checks.run.plugin_latency import match_plugin_latency, read_plugin_latency
from verifier.engine.backends import rtneural_times_silence
from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError
from verifier.format.schema.validator import validator
from verifier.report.baseline import compare_file
from verifier.report.budgets_table import budget_lines
from verifier.report.formats import format_json, format_junit, format_markdown

BUDGET = 10_000.0  # ns


def _stats(p99: float, **pattern: Any) -> LatencyStats:
    return LatencyStats(
        pattern.pop("reset_each", False),
        1000,
        200,
        p99 / 2,
        p99,
        p99 / 2,
        p99 / 4,
        p99 * 2,
        p99 / 2,
        **pattern,
    )


def _patterns(frame: float, stream: float, silence: float, ftz: float) -> PatternLatency:
    return PatternLatency(
        _stats(frame, reset_each=True),
        _stats(stream),
        _stats(silence, signal_steps=200),
        _stats(ftz, signal_steps=200, flush_to_zero=True),
    )


def _check(measured: PatternLatency, **given: Any) -> Check:
    return check_latency(
        measured.frame,
        measured.stream,
        BUDGET,
        silence=measured.silence,
        silence_ftz=measured.silence_ftz,
        **given,
    )


def _plugin(**figures: float) -> PluginLatency:
    p99s = figures or {"stream": 2_000.0}
    done = {
        name: {"steps": 2000, "p50_ns": p99 / 2, "p99_ns": p99, "max_ns": p99 * 2}
        for name, p99 in p99s.items()
    }
    return PluginLatency("plugin/Small.json", "small", "ModelT, -O3 -mavx2 -mfma", "float32", done)


# ------------------------------------------------------------------------------------------------ verdict


def test_silence_after_signal_over_budget_fails_naming_the_silence_figure() -> None:
    check = _check(_patterns(3_000, 3_000, 12_000, 3_000))
    assert check.status == FAIL
    assert (
        "the engine's p99 on silence after signal, 12.0 µs (the worst without flush-to-zero)" in check.summary
    )
    assert check.figures["verdict_on"] == {"source": "the engine", "pattern": "silence", "p99_ns": 12_000}


def test_the_flush_to_zero_figure_is_shown_but_never_judged() -> None:
    check = _check(_patterns(3_000, 3_000, 4_000, 50_000))
    assert check.status == PASS
    assert "on silence with flush-to-zero" in check.summary
    assert check.figures["verdict_on"]["pattern"] == "silence"


def test_rtneural_figures_are_shown_beside_and_not_judged() -> None:
    check = _check(_patterns(3_000, 3_000, 3_000, 3_000), rtneural=_patterns(20_000, 20_000, 90_000, 20_000))
    assert check.status == PASS
    assert (
        "RTNeural's dynamic model (shown, not judged): 10.0 µs/20.0 µs per frame with reset" in check.summary
    )
    assert check.figures["rtneural"]["silence"]["p99_ns"] == 90_000


def test_the_plugins_own_build_is_judged_instead_of_the_engine() -> None:
    check = _check(_patterns(3_000, 3_000, 3_000, 3_000), plugin=_plugin(stream=2_000, silence=15_000))
    assert check.status == FAIL
    assert "the plugin's build (ModelT, -O3 -mavx2 -mfma): 1.0 µs/2.0 µs streaming" in check.summary
    assert check.figures["verdict_on"] == {
        "source": "the plugin's build",
        "pattern": "silence",
        "p99_ns": 15_000,
    }


def test_under_backend_rtneural_the_verdict_names_rtneural() -> None:
    check = _check(_patterns(3_000, 3_000, 11_000, 3_000), runtime="RTNeural")
    assert "RTNeural's p99 on silence after signal" in check.summary


# ------------------------------------------------------------------------------------------------ reports


def _run(check: Check, model: str = "Small") -> RunResult:
    return RunResult(
        (FileResult("small.json", (check,), model),),
        (),
        tool={"name": "rtneural-verifier", "version": "0.1.0", "backend": "engine"},
        machine={
            "cpu": "test",
            "cores_logical": 2,
            "cores_physical": 1,
            "python": "3.11",
            "platform": "test",
        },
        settings={"dtype": "float32", "steps": 256, "seed": 0, "manifest": None, "baseline": None},
    )


def _full_check() -> Check:
    return _check(
        _patterns(3_000, 3_000, 12_000, 2_500),
        rtneural=_patterns(6_000, 6_000, 6_000, 6_000),
        plugin=_plugin(),
    )


def test_the_json_report_with_every_latency_figure_is_valid_against_the_schema() -> None:
    data = json.loads(format_json(_run(_full_check())))
    assert list(validator("report").iter_errors(data)) == []
    figures = data["files"][0]["checks"][0]["figures"]
    assert {"silence", "silence_ftz", "rtneural", "plugin", "verdict_on"} <= set(figures)
    assert figures["silence_ftz"]["flush_to_zero"] is True


def test_a_report_from_before_the_silence_pattern_is_still_valid() -> None:
    old = check_latency(_stats(3_000, reset_each=True), _stats(3_000), BUDGET)
    data = json.loads(format_json(_run(old)))
    for pattern in ("frame", "stream"):  # what an old report's latency figures held
        for key in ("signal_steps", "flush_to_zero"):
            del data["files"][0]["checks"][0]["figures"][pattern][key]
    del data["files"][0]["checks"][0]["figures"]["verdict_on"]
    assert list(validator("report").iter_errors(data)) == []


def test_markdown_and_junit_show_the_silence_rtneural_and_plugin_figures() -> None:
    run = _run(_full_check())
    markdown = format_markdown(run)
    case = ET.fromstring(format_junit(run)).find("./testsuite/testcase")
    assert case is not None
    for shown in (markdown, ET.tostring(case, encoding="unicode")):
        assert "on silence after signal" in shown
        assert "on silence with flush-to-zero" in shown
        assert "RTNeural's dynamic model" in shown
        assert "the plugin's build" in shown


def test_the_budget_table_has_a_silence_column() -> None:
    header, row = budget_lines(_run(_full_check()).files)
    assert "p99 silence" in header
    assert "12.0 µs" in row


def test_the_html_latency_plot_draws_every_pattern_of_every_source() -> None:
    pytest.importorskip("matplotlib")
    from verifier.report.html import model_plots

    ((_, _, svg),) = model_plots(_run(_full_check()).files[0], charts=("latency",))
    for label in ("silence", "flush-to-zero", "RTNeural frame", "plugin stream"):
        assert label in svg


def _baseline_file(silence_p50: float | None, stream_p50: float = 3_000) -> FileResult:
    figures: dict[str, Any] = {"stream": {"p50_ns": stream_p50}}
    if silence_p50 is not None:
        figures["silence"] = {"p50_ns": silence_p50}
    return FileResult("small.json", (Check("latency", PASS, "", figures),), "Small")


def test_a_baseline_without_silence_figures_compares_the_rest() -> None:
    check = compare_file(_baseline_file(None), _baseline_file(50_000))
    assert check.status == PASS
    assert "latency_silence_p50_ns" not in check.figures


def test_a_silence_regression_against_the_baseline_is_flagged() -> None:
    check = compare_file(_baseline_file(3_000), _baseline_file(9_000))
    assert check.status == FAIL
    assert "silence p50 latency 3.0 -> 9.0 µs" in check.summary


# --------------------------------------------------------------------------------------- plugin-latency file


def _document(**changes: Any) -> dict[str, Any]:
    figure = {"steps": 2000, "p50_ns": 1000.0, "p99_ns": 2000.0, "max_ns": 9000.0}
    document: dict[str, Any] = {
        "format": "rtneural-verifier-plugin-latency",
        "format_version": 1,
        "model": "small",
        "build": "ModelT, -O3",
        "dtype": "float32",
        "warmup": 200,
        "patterns": {"frame": figure, "stream": figure, "silence": figure, "silence_ftz": None},
    }
    document.update(changes)
    return document


def _write(tmp_path: Path, document: Any, name: str = "latency.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_plugin_latency_file_reads_its_measured_patterns(tmp_path: Path) -> None:
    given = read_plugin_latency(_write(tmp_path, _document()))
    assert (given.model, given.build, given.dtype) == ("small", "ModelT, -O3", "float32")
    assert set(given.figures) == {"frame", "stream", "silence"}  # silence_ftz: null, not measured


def _figure(**changes: Any) -> dict[str, Any]:
    return {"steps": 2000, "p50_ns": 1000.0, "p99_ns": 2000.0, "max_ns": 9000.0, **changes}


@pytest.mark.parametrize(
    ("document", "pointer", "words"),
    [
        (_document(format="rtneural-model"), "/format", "not a plugin-latency file"),
        (_document(format_version=2), "/format_version", "not a plugin-latency file"),
        (_document(model=""), "/model", "not a plugin-latency file"),
        (_document(extra=1), "", "not a plugin-latency file"),
        (
            _document(patterns={"frame": None, "stream": None, "silence": None, "silence_ftz": _figure()}),
            "/patterns",
            "no pattern without flush-to-zero",
        ),
        (
            _document(
                patterns={"frame": _figure(p50_ns=-1), "stream": None, "silence": None, "silence_ftz": None}
            ),
            "/patterns/frame/p50_ns",
            "not a plugin-latency file",
        ),
        (
            _document(
                patterns={
                    "frame": _figure(p99_ns=1e300),
                    "stream": None,
                    "silence": None,
                    "silence_ftz": None,
                }
            ),
            "/patterns/frame/p99_ns",
            "not a plugin-latency file",
        ),
        (
            _document(
                patterns={
                    "frame": _figure(p99_ns=500.0),
                    "stream": None,
                    "silence": None,
                    "silence_ftz": None,
                }
            ),
            "/patterns/frame",
            "percentiles must be in order",
        ),
        ([1, 2], "", "must be a JSON object"),
    ],
    ids=["format", "version", "empty-model", "unknown-key", "only-ftz", "negative", "huge", "order", "list"],
)
def test_a_bad_plugin_latency_file_is_refused_at_its_place(
    tmp_path: Path, document: Any, pointer: str, words: str
) -> None:
    with pytest.raises(InputError) as refused:
        read_plugin_latency(_write(tmp_path, document))
    assert refused.value.pointer == pointer
    assert words in refused.value.message
    assert str(tmp_path) in str(refused.value)


@pytest.mark.parametrize(
    "text",
    ["", "{", '{"format": NaN}', "[" * 100 + "]" * 100, '{"a": 1, "a": 2}'],
    ids=["empty", "truncated", "nan", "deep", "duplicate-key"],
)
def test_a_plugin_latency_file_that_is_not_json_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError):
        read_plugin_latency(_write(tmp_path, text))


def test_a_plugin_latency_file_beyond_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(" " * (MAX_SETTINGS_BYTES + 1) + json.dumps(_document()))
    with pytest.raises(InputError, match=r"big\.json"):
        read_plugin_latency(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_directory_as_plugin_latency_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(InputError, match=r"regular file|directory|FIFO"):
            read_plugin_latency(path)


def test_plugin_figures_naming_no_checked_file_are_refused(tmp_path: Path) -> None:
    given = read_plugin_latency(_write(tmp_path, _document(model="Typo")))
    with pytest.raises(InputError, match="'Typo' is none of the files"):
        match_plugin_latency([given], [("models/small.json", "Small")])


def test_two_plugin_files_for_one_model_are_refused(tmp_path: Path) -> None:
    first = read_plugin_latency(_write(tmp_path, _document(), "a.json"))
    second = read_plugin_latency(_write(tmp_path, _document(), "b.json"))
    with pytest.raises(InputError, match="also named by"):
        match_plugin_latency([first, second], [("small.json", None)])


@pytest.mark.parametrize("name", ["Small", "small.json", "small"])
def test_plugin_figures_match_a_file_by_manifest_name_or_file_name(tmp_path: Path, name: str) -> None:
    given = read_plugin_latency(_write(tmp_path, _document(model=name)))
    assert match_plugin_latency([given], [("models/small.json", "Small")]) == {"models/small.json": given}


# ------------------------------------------------------------------------------------------------ verify


@pytest.fixture
def small_export(tmp_path: Path) -> tuple[Path, Path]:
    torch = pytest.importorskip("torch")
    from verifier.pytorch.export import export

    torch.manual_seed(3)
    module = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    model_json = tmp_path / "small.json"
    export(module, model_json)
    checkpoint = tmp_path / "small.pt"
    torch.save(module, checkpoint)
    return model_json, checkpoint


def _verify(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    from verifier.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_verify_judges_the_plugin_latency_file_naming_the_model(
    capsys: pytest.CaptureFixture[str], small_export: tuple[Path, Path], tmp_path: Path
) -> None:
    model_json, checkpoint = small_export
    plugin = _write(tmp_path, _document(model="small"))
    report = tmp_path / "report.json"
    common = ["--against", checkpoint, "--no-manifest", "--steps", "8", "--rss-copies", "0"]
    _verify(capsys, model_json, *common, "--timing-steps", "20", "--plugin-latency", plugin,
            "--format", "json", "--output", report)  # fmt: skip
    data = json.loads(report.read_text())
    assert list(validator("report").iter_errors(data)) == []
    latency = next(c for c in data["files"][0]["checks"] if c["name"] == "latency")
    assert latency["figures"]["plugin"]["build"] == "ModelT, -O3"
    assert latency["figures"]["verdict_on"]["source"] == "the plugin's build"
    assert latency["figures"]["silence"]["signal_steps"] == latency["figures"]["silence"]["warmup"]
    # RTNeural's dynamic model beside the engine exactly when its backend is built with the patterns
    assert ("rtneural" in latency["figures"]) == rtneural_times_silence()


@pytest.mark.parametrize(
    ("document", "words"),
    [(_document(model="Other"), "'Other' is none of the files"), ("{", "")],
    ids=["unknown-model", "not-json"],
)
def test_verify_refuses_a_bad_plugin_latency_file_as_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str],
    small_export: tuple[Path, Path],
    tmp_path: Path,
    document: Any,
    words: str,
) -> None:
    model_json, checkpoint = small_export
    plugin = _write(tmp_path, document, "plugin-latency.json")
    code, _, err = _verify(
        capsys,
        model_json,
        "--against",
        checkpoint,
        "--no-manifest",
        "--no-timing",
        "--plugin-latency",
        plugin,
    )
    assert code == 2
    assert f"--plugin-latency {plugin}" in err
    assert words in err


def test_without_timing_the_plugins_figures_are_judged_alone() -> None:
    check = check_latency(None, None, BUDGET, plugin=_plugin(silence=12_000))
    assert check.status == FAIL
    assert check.summary.startswith("the engine not timed (--no-timing); the plugin's build")
    assert check.figures["verdict_on"]["source"] == "the plugin's build"
    data = json.loads(format_json(_run(check)))
    assert list(validator("report").iter_errors(data)) == []


def test_a_latency_check_with_neither_figures_is_refused_by_the_schema() -> None:
    data = json.loads(format_json(_run(check_latency(None, None, BUDGET, plugin=_plugin()))))
    del data["files"][0]["checks"][0]["figures"]["plugin"]
    assert list(validator("report").iter_errors(data))


def test_verify_no_timing_still_judges_the_plugin_latency_file(
    capsys: pytest.CaptureFixture[str], small_export: tuple[Path, Path], tmp_path: Path
) -> None:
    model_json, checkpoint = small_export
    plugin = _write(tmp_path, _document(model="small"))
    report = tmp_path / "report.json"
    arguments = [model_json, "--against", checkpoint, "--no-manifest", "--steps", 8, "--rss-copies", 0]
    _verify(capsys, *arguments, "--no-timing", "--plugin-latency", plugin, "--format", "json", "-o", report)
    latency = next(c for c in json.loads(report.read_text())["files"][0]["checks"] if c["name"] == "latency")
    assert latency["status"] == "pass"
    assert latency["figures"]["verdict_on"]["source"] == "the plugin's build"
