"""What CI systems read: ``verify validate`` (the pre-commit hook), GitHub annotations and job summary,
and SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.checks.results import FAIL, PASS, Check, FileResult, RunResult
from verifier.cli import main
from verifier.format.rules import RULES
from verifier.report.github import format_github
from verifier.report.locations import Located
from verifier.report.sarif import sarif_log

BAD = (
    "{\n"
    '  "in_shape": [null, 4],\n'
    '  "layers": [\n'
    '    {"type": "dense", "activation": "linear", "shape": [null, 2],\n'
    '     "weights": [[[1, 2], [3, 4], [5, 6], [7, 8]], [0, 0]]}\n'
    "  ]\n"
    "}\n"
)
GOOD = (
    '{"in_shape": [null, 2], "layers": [{"type": "dense", "activation": "tanh", "shape": [null, 1], '
    '"weights": [[[0.5], [0.25]], [0.0]]}]}'
)


@pytest.fixture
def files(tmp_path, monkeypatch) -> tuple[str, str]:
    monkeypatch.chdir(tmp_path)
    Path("bad.json").write_text(BAD)
    Path("good.json").write_text(GOOD)
    return "good.json", "bad.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# ------------------------------------------------------------------------------------------ verify validate


def test_validate_only_exits_0_on_a_good_file(capsys, files):
    code, out, _ = run(capsys, "validate", files[0])
    assert code == 0
    assert "good.json: ok" in out


def test_validate_only_exits_1_and_prints_path_line_col_rule(capsys, files):
    code, out, _ = run(capsys, "validate", *files)
    assert code == 1
    assert "\nbad.json:4:23: error: RTN-E106 /layers/0/activation: " in out


def test_validate_only_imports_neither_torch_nor_the_engine(files):
    # The compiled module is loaded for its JSON reader (the one parser of the package); the engine's Python
    # side (verifier.engine: loading, running) and torch stay out.
    script = (
        "import sys\nfrom verifier.cli import main\ncode = main(['validate', 'bad.json'])\n"
        "print(code, 'torch' in sys.modules, 'verifier.engine.model' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-3:] == ["1", "False", "False"]


def test_verify_without_files_checks_the_manifest_models(capsys, files):
    Path("verifier.json").write_text(json.dumps({"models": [{"name": "Tiny", "file": "good.json"}]}))
    code, out, _ = run(capsys, "--no-timing", "--rss-copies", "0", "--steps", "8")
    assert code == 0, out
    assert "good.json (Tiny): ok" in out


def test_verify_without_files_or_manifest_is_a_usage_error(capsys, files):
    code, _, err = run(capsys)
    assert code == 2
    assert "FILE is required without a manifest" in err


# ---------------------------------------------------------------------------------------- problem matcher

ROOT = Path(__file__).resolve().parents[1]
MATCHER = ROOT / ".github" / "rtneural-verifier-matcher.json"
# A square dense kernel (RTN-W003, a warning) before the bad activation of BAD (RTN-E106, an error).
WARN_AND_ERROR = (
    '{"in_shape": [null, 2],\n"layers": [\n'
    '{"type": "dense", "activation": "tanh", "shape": [null, 2], "weights": [[[1, 2], [3, 4]], [0, 0]]},\n'
    '{"type": "dense", "activation": "tanhh", "shape": [null, 1], "weights": [[[1], [2]], [0]]}]}\n'
)


def _matcher_pattern() -> dict:
    (matcher,) = json.loads(MATCHER.read_text())["problemMatcher"]
    (pattern,) = matcher["pattern"]
    return pattern


def _match(pattern: dict, line: str) -> dict[str, str] | None:
    import re

    found = re.match(pattern["regexp"], line)
    if found is None:
        return None
    fields = ("file", "line", "column", "severity", "code", "message")
    return {name: found.group(pattern[name]) for name in fields}


def test_text_findings_follow_the_compiler_convention_with_their_severity(capsys, files):
    Path("mixed.json").write_text(WARN_AND_ERROR)
    code, out, _ = run(capsys, "validate", "mixed.json")
    assert code == 1
    assert "\nmixed.json:3:73: warning: RTN-W003 /layers/0/weights/0: " in out
    assert "\nmixed.json:4:19: error: RTN-E106 /layers/1/activation: " in out


def test_the_problem_matcher_extracts_every_field_of_a_real_finding_line(capsys, files):
    Path("mixed.json").write_text(WARN_AND_ERROR)
    _, out, _ = run(capsys, "validate", "mixed.json")
    pattern = _matcher_pattern()
    matched = [m for m in (_match(pattern, line) for line in out.splitlines()) if m is not None]
    error = next(m for m in matched if m["severity"] == "error")
    assert error["file"] == "mixed.json"
    assert (error["line"], error["column"]) == ("4", "19")
    assert error["code"] == "RTN-E106"
    assert error["message"].startswith("/layers/1/activation: ")
    warning = next(m for m in matched if m["severity"] == "warning")
    assert (warning["file"], warning["code"]) == ("mixed.json", "RTN-W003")
    # Only the finding lines: the check table and the verdict line are not problems.
    assert len(matched) == 2


def test_the_problem_matcher_takes_a_path_holding_colons_and_digits_whole():
    pattern = _matcher_pattern()
    line = Located("dir:1:2/m 3.json", 7, 9, "verify/numeric-stream", "error", "FAIL: x").compiler_form()
    found = _match(pattern, line)
    assert found is not None
    assert (found["file"], found["line"], found["column"]) == ("dir:1:2/m 3.json", "7", "9")
    assert (found["code"], found["message"]) == ("verify/numeric-stream", "FAIL: x")


def test_the_action_registers_the_problem_matcher_it_ships():
    action = (ROOT / "action.yml").read_text()
    assert 'echo "::add-matcher::$ACTION_PATH/.github/rtneural-verifier-matcher.json"' in action
    assert "ACTION_PATH: ${{ github.action_path }}" in action


# ------------------------------------------------------------------------------------------------- GitHub


def test_github_format_annotates_the_finding_at_its_line_and_column(capsys, files):
    code, out, _ = run(capsys, "validate", "--format", "github", *files)
    assert code == 1
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert len(annotations) == 1
    assert annotations[0].startswith(
        "::error file=bad.json,line=4,col=23,title=RTN-E106::/layers/0/activation: "
    )


def test_github_format_warns_on_a_warning_check_and_escapes_workflow_syntax():
    check = Check("plugin-state", "warn", "differs by 50%\nsee: docs", {})
    run_result = RunResult((FileResult("dir,a:b.json", (check,)),))
    line = format_github(run_result).splitlines()[0]
    assert line == "::warning file=dir%2Ca%3Ab.json,title=verify/plugin-state::differs by 50%25%0Asee: docs"


def test_github_format_appends_the_markdown_report_to_the_step_summary(capsys, files, monkeypatch):
    summary = Path("summary.md")
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(capsys, "bad.json", "--no-manifest", "--no-timing", "--rss-copies", "0", "--format", "github")
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "rtneural-verifier: checks failed" in text
    assert "| `bad.json` |" in text


def test_other_formats_leave_the_step_summary_alone(capsys, files, monkeypatch):
    summary = Path("summary.md")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(capsys, "validate", "bad.json")
    assert not summary.exists()


# -------------------------------------------------------------------------------------------------- SARIF


def _sarif(capsys, *files: str) -> dict:
    code, out, _ = run(capsys, "validate", "--format", "sarif", *files)
    assert code == 1
    return json.loads(out)


def test_sarif_is_version_2_1_0_with_the_rule_catalogue_as_driver_rules(capsys, files):
    log = _sarif(capsys, *files)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert set(RULES) <= set(ids)
    assert "verify/numeric-stream" in ids
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert levels["RTN-E106"] == "error"
    assert all(levels[i] == "warning" for i in RULES if i.startswith("RTN-W"))


def test_sarif_results_point_at_their_rule_line_and_column(capsys, files):
    log = _sarif(capsys, *files)
    run_log = log["runs"][0]
    rules = run_log["tool"]["driver"]["rules"]
    (result,) = run_log["results"]
    assert result["ruleId"] == "RTN-E106"
    assert rules[result["ruleIndex"]]["id"] == "RTN-E106"
    assert result["level"] == "error"
    assert result["message"]["text"].startswith("/layers/0/activation: ")
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "bad.json", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 4, "startColumn": 23}


def test_sarif_puts_a_failing_check_without_a_place_on_line_1_of_its_file():
    check = Check("numeric-stream", FAIL, "max abs error 0.3", {})
    log = sarif_log(
        RunResult((FileResult("models/a.json", (Check("validate", PASS, "no findings", {}), check)),))
    )
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "verify/numeric-stream"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_sarif_meets_the_structural_requirements_of_the_2_1_0_schema(capsys, files):
    """The parts of the SARIF 2.1.0 schema our log uses (the schema itself is not fetchable at test time:
    the log was checked once against the full schema, see docs/ci/README.md)."""
    log = _sarif(capsys, *files)
    assert set(log) <= {"$schema", "version", "runs"}
    for run_log in log["runs"]:
        assert set(run_log) <= {"tool", "results", "invocations", "columnKind"}
        driver = run_log["tool"]["driver"]
        assert isinstance(driver["name"], str)
        assert driver["name"]
        for rule in driver["rules"]:
            assert set(rule) <= {
                "id",
                "name",
                "shortDescription",
                "fullDescription",
                "defaultConfiguration",
                "properties",
            }
        for result in run_log["results"]:
            assert set(result) <= {"ruleId", "ruleIndex", "level", "message", "locations"}
            assert result["level"] in ("none", "note", "warning", "error")
            assert isinstance(result["message"]["text"], str)
            for location in result.get("locations", []):
                region = location["physicalLocation"]["region"]
                assert region["startLine"] >= 1
                assert region["startColumn"] >= 1
        assert run_log["columnKind"] in ("utf16CodeUnits", "unicodeCodePoints")
        assert all(isinstance(i["executionSuccessful"], bool) for i in run_log["invocations"])


# ------------------------------------------------------------------------------------------------- render


def test_render_writes_a_json_report_in_another_format_with_the_run_verdict(capsys, files):
    run(
        capsys,
        "bad.json",
        "--no-manifest",
        "--no-timing",
        "--rss-copies",
        "0",
        "--format",
        "json",
        "-o",
        "r.json",
    )
    code, direct, _ = run(
        capsys, "bad.json", "--no-manifest", "--no-timing", "--rss-copies", "0", "--format", "github"
    )
    assert code == 1
    code, rendered, _ = run(capsys, "render", "r.json", "--format", "github")
    assert code == 1
    assert rendered == direct


def test_render_of_an_unreadable_report_is_a_usage_error(capsys, files):
    code, _, err = run(capsys, "render", "good.json", "--format", "sarif")
    assert code == 2
    assert "not a verify JSON report" in err


# ------------------------------------------------------------------------- numeric failures at their layer


@pytest.fixture
def diverging(tmp_path, monkeypatch, capsys) -> Path:
    """The JSON report of a chain whose second dense kernel is transposed (a square one: it loads, and
    the numbers fail from that layer on), exported with one key per line."""
    import torch
    from torch import nn

    from verifier.pytorch.export import export
    from verifier.testing.mistakes import corrupt

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    chain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Linear(4, 2))
    Path("layered.json").write_text(json.dumps(corrupt(export(chain), "transposed_kernel", 1), indent=1))
    torch.save(chain, "chain.pt")
    argv = ["layered.json", "--against", "chain.pt", "--no-manifest", "--no-timing", "--rss-copies", "0"]
    assert main([*argv, "--steps", "8", "--format", "json", "-o", "report.json"]) == 1
    capsys.readouterr()  # the run's own summary on stdout
    return Path("report.json")


def _second_layer_line() -> int:
    # json.dumps(indent=1) opens each layer object on a line of its own: "  {"
    openings = [n for n, line in enumerate(Path("layered.json").read_text().splitlines(), 1) if line == "  {"]
    return openings[1]


def test_a_numeric_failure_is_placed_at_its_first_diverging_layer_in_text(capsys, diverging):
    code, out, _ = run(capsys, "render", str(diverging))
    assert code == 1
    line = _second_layer_line()
    assert f"\nlayered.json:{line}:3: error: verify/numeric-stream FAIL " in out
    # the check-name column is as wide as the longest name the file's checks have
    assert re.search(r"\n  FAIL numeric-stream +verify/numeric-stream /layers/1 \(below\)\n", out), out


def test_a_numeric_failure_is_annotated_on_the_line_of_its_diverging_layer(capsys, diverging):
    _, out, _ = run(capsys, "render", str(diverging), "--format", "github")
    line = _second_layer_line()
    assert f"::error file=layered.json,line={line},col=3,title=verify/numeric-frame::FAIL " in out


def test_sarif_places_a_numeric_failure_at_its_diverging_layer(capsys, diverging):
    _, out, _ = run(capsys, "render", str(diverging), "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    (stream,) = [r for r in results if r["ruleId"] == "verify/numeric-stream"]
    (place,) = stream["locations"]
    assert place["physicalLocation"]["region"] == {"startLine": _second_layer_line(), "startColumn": 3}
    assert place["logicalLocations"] == [{"fullyQualifiedName": "/layers/1", "kind": "member"}]


def test_a_numeric_failure_whose_file_is_gone_is_annotated_on_the_file(capsys, diverging):
    Path("layered.json").unlink()
    _, out, _ = run(capsys, "render", str(diverging), "--format", "github")
    assert "::error file=layered.json,title=verify/numeric-stream::FAIL " in out


def test_a_numeric_failure_whose_file_became_a_fifo_is_annotated_on_the_file_without_blocking(
    capsys, diverging
):
    import os

    Path("layered.json").unlink()
    os.mkfifo("layered.json")  # opening it for reading would wait for a writer
    _, out, _ = run(capsys, "render", str(diverging), "--format", "github")
    assert "::error file=layered.json,title=verify/numeric-stream::FAIL " in out
