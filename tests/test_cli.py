"""``verify``: exit codes 0/1/2, every report format from a real run, the manifest checks on the production
fixtures (true counts pass, the design document's claimed counts fail), a corrupted export caught by name,
and baselines. Runs use ``--no-timing`` wherever an exit code is asserted: timings never decide a test.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from torch import nn

from verifier.cli import expand_files, main
from verifier.format.schema.validator import validator
from verifier.pytorch.export import export

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "production"
FAST = ["--no-timing", "--rss-copies", "0", "--steps", "32"]


def verify(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _small_model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))


@pytest.fixture
def small(tmp_path) -> tuple[Path, Path]:
    """A small square-kernel model's export and its saved torch module (for --against)."""
    module = _small_model()
    model_json = tmp_path / "small.json"
    export(module, model_json)
    checkpoint = tmp_path / "small.pt"
    torch.save(module, checkpoint)
    return model_json, checkpoint


# ----------------------------------------------------------------------------------------------- exit codes


def test_a_correct_export_passes_with_exit_0(capsys, small):
    model_json, checkpoint = small
    code, out, _ = verify(capsys, model_json, "--against", checkpoint, "--no-manifest", *FAST)
    assert code == 0, out
    assert "passed:" in out.splitlines()[-1]


def test_a_transposed_square_kernel_exits_1_naming_the_check(capsys, small, tmp_path):
    model_json, checkpoint = small
    doc = json.loads(model_json.read_text())
    kernel = doc["layers"][1]["weights"][0]  # the 8x8 dense: loads fine either way round
    doc["layers"][1]["weights"][0] = [list(col) for col in zip(*kernel, strict=True)]
    corrupted = tmp_path / "corrupted.json"
    corrupted.write_text(json.dumps(doc))
    code, out, _ = verify(capsys, corrupted, "--against", checkpoint, "--no-manifest", *FAST)
    assert code == 1
    assert "FAIL numeric-frame" in out
    assert "FAIL numeric-stream" in out


def test_an_invalid_file_exits_1_and_names_the_place(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"in_shape": [null, 4], "layers": [{"type": "dense", "activation": "linear", '
        '"shape": [null, 2], "weights": [[[1, 2], [3, 4], [5, 6], [7, 8]], [0, 0]]}]}'
    )
    code, out, _ = verify(capsys, bad, "--no-manifest", *FAST)
    assert code == 1
    assert "FAIL validate" in out
    assert "/layers/0/activation" in out


def test_no_matching_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = verify(capsys, str(tmp_path / "*.json"))
    assert code == 2
    assert "no file matches" in err


def test_a_missing_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = verify(capsys, tmp_path / "nope.json")
    assert code == 2
    assert "no such file" in err


def test_a_fifo_is_a_usage_error_saying_it_is_not_a_regular_file(capsys, tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    code, _, err = verify(capsys, fifo)
    assert code == 2
    assert "not a regular file (a FIFO)" in err
    assert "no such file" not in err


def test_a_bad_option_is_a_usage_error(capsys, small):
    code, _, err = verify(capsys, small[0], "--steps", "zero")
    assert code == 2
    assert "--steps" in err
    code, _, err = verify(capsys, small[0], "--format", "yaml")
    assert code == 2
    assert "invalid choice" in err


def test_an_unusable_manifest_is_a_usage_error_naming_the_place(capsys, small, tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"models": [{"name": "x", "file": "small.json", "parameters": "many"}]}))
    code, _, err = verify(capsys, small[0], "--manifest", manifest)
    assert code == 2
    assert "/models/0/parameters" in err


def test_an_unimportable_against_is_a_usage_error(capsys, small):
    code, _, err = verify(capsys, small[0], "--against", "no_such_module_xyz:factory")
    assert code == 2
    assert "cannot import" in err


def test_quoted_globs_are_expanded_by_verify_itself(tmp_path):
    for name in ("b.json", "a.json"):
        (tmp_path / name).write_text("{}")
    assert expand_files([str(tmp_path / "*.json")]) == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]


# ----------------------------------------------------------------------------------------------- formats


def test_json_report_of_a_real_run_is_valid_and_carries_the_figures(capsys, small, tmp_path):
    model_json, checkpoint = small
    report = tmp_path / "report.json"
    code, _, _ = verify(
        capsys,
        model_json,
        "--against",
        checkpoint,
        "--no-manifest",
        "--steps",
        "16",
        "--timing-steps",
        "50",
        "--rss-copies",
        "3",
        "--format",
        "json",
        "--output",
        report,
    )
    assert code in (0, 1)  # only the shape of the report is asserted here, not timings
    data = json.loads(report.read_text())
    assert list(validator("report").iter_errors(data)) == []
    checks = {c["name"]: c for c in data["files"][0]["checks"]}
    assert {
        "validate",
        "load",
        "numeric-frame",
        "numeric-stream",
        "plugin-state",
        "parameters",
        "widths",
        "latency",
        "memory",
    } <= set(checks)
    assert checks["latency"]["figures"]["frame"]["steps"] == 50
    assert checks["memory"]["figures"]["rss"]["copies"] == 3
    assert data["machine"]["cores_logical"] >= 1
    assert data["tool"]["version"]


def test_junit_report_parses_with_one_testcase_per_check(capsys, small):
    code, out, _ = verify(
        capsys, small[0], "--against", small[1], "--no-manifest", *FAST, "--format", "junit"
    )
    assert code == 0
    root = ET.fromstring(out)
    cases = root.findall("./testsuite/testcase")
    assert {c.get("name") for c in cases} >= {"validate", "numeric-frame", "parameters"}
    assert root.get("failures") == "0"


def test_markdown_report_is_produced(capsys, small):
    code, out, _ = verify(
        capsys, small[0], "--against", small[1], "--no-manifest", *FAST, "--format", "markdown"
    )
    assert code == 0
    assert out.startswith("### ✅")


def test_python_dash_m_verifier_runs_the_same_command(small, tmp_path):
    # Not from the checkout: `python -m` puts the working directory first on sys.path, and the source tree
    # has no compiled engine (the installed package has).
    proc = subprocess.run(
        [sys.executable, "-m", "verifier", str(small[0]), "--no-manifest", *FAST, "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_verify_command_returns_mains_status_and_leaves_its_heap_to_the_exit(small, tmp_path):
    # In a child: the command freezes the collector of the process it runs in, which must not be pytest's.
    script = (
        "import gc, sys\n"
        "from verifier.cli import console_main\n"
        f"sys.argv = ['verify', {str(small[0])!r}, '--no-manifest', *{FAST!r}, '-q']\n"
        "code = console_main()\n"
        "print(code, gc.get_freeze_count() > 0, len(gc.callbacks))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.stdout.splitlines()[-1].split() == ["0", "True", "0"], proc.stderr


def test_main_as_a_library_call_leaves_the_callers_collector_as_it_was(capsys, small):
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    code, _, _ = verify(capsys, small[0], "--no-manifest", *FAST, "-q")
    assert code == 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


def test_plain_progress_lines_when_stderr_is_not_a_terminal(capsys, small, tmp_path):
    second = tmp_path / "second.json"
    shutil.copy(small[0], second)
    _, _, err = verify(capsys, small[0], second, "--no-manifest", *FAST)
    assert "[1/2]" in err
    assert "[2/2]" in err


def test_progress_says_ok_only_once_the_rss_cross_check_can_no_longer_fail_the_file(capsys, small, tmp_path):
    second = tmp_path / "second.json"
    shutil.copy(small[0], second)
    _, _, err = verify(capsys, small[0], second, "--no-manifest", *FAST)
    assert f"[2/2] {second}: ok" in err  # no RSS cross-check asked for: the file is done
    _, _, err = verify(capsys, small[0], second, "--no-manifest", *FAST, "--rss-copies", "2")
    assert f"[2/2] {second}: checked" in err  # its memory is measured after every file
    assert ": ok" not in err


# ----------------------------------------------------------------------------------------------- baseline


def test_baseline_passes_an_identical_run_and_flags_an_injected_regression(capsys, small, tmp_path):
    model_json, checkpoint = small
    base = tmp_path / "base.json"
    args = [model_json, "--against", checkpoint, "--no-manifest", *FAST]
    assert verify(capsys, *args, "--format", "json", "--output", base)[0] == 0
    code, out, _ = verify(capsys, *args, "--baseline", base)
    assert code == 0
    assert "ok   baseline" in out

    data = json.loads(base.read_text())
    params = next(c for c in data["files"][0]["checks"] if c["name"] == "parameters")
    params["figures"]["json"] -= 8  # the baseline had 8 fewer weights: the new file changed its size
    regressed = tmp_path / "regressed.json"
    regressed.write_text(json.dumps(data))
    code, out, _ = verify(capsys, *args, "--baseline", regressed)
    assert code == 1
    assert "FAIL baseline" in out
    assert "parameters changed" in out


def test_a_baseline_that_is_not_a_report_is_a_usage_error(capsys, small, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    code, _, err = verify(capsys, small[0], "--baseline", junk)
    assert code == 2
    assert "not a verify JSON report" in err


# ----------------------------------------------------------------------------------------------- production


def _production_report(capsys, tmp_path, manifest: str) -> dict:
    report = tmp_path / "report.json"
    verify(
        capsys,
        "--manifest",
        FIXTURES / manifest,
        str(FIXTURES / "models" / "*.json"),
        *FAST,
        "--format",
        "json",
        "--output",
        report,
        "-q",
    )
    return json.loads(report.read_text())


def test_claimed_counts_are_flagged_and_true_counts_pass(capsys, tmp_path):
    claimed = _production_report(capsys, tmp_path, "claimed.json")
    true = _production_report(capsys, tmp_path, "manifest.json")
    for data, expected in ((claimed, "fail"), (true, "pass")):
        statuses = {
            f["model"]: next(c for c in f["checks"] if c["name"] == "parameters")["status"]
            for f in data["files"]
        }
        assert set(statuses) == {
            "EmotionRecognizer",
            "MelodyTransformer",
            "HarmonyPredictor",
            "DynamicsEngine",
            "GroovePredictor",
        }
        assert set(statuses.values()) == {expected}
    emotion = next(f for f in claimed["files"] if f["model"] == "EmotionRecognizer")
    summary = next(c for c in emotion["checks"] if c["name"] == "parameters")["summary"]
    assert "declared 497,664 but the model has 403,264" in summary


def test_production_exports_agree_with_torch_per_frame_and_streamed(capsys, tmp_path):
    data = _production_report(capsys, tmp_path, "manifest.json")
    for f in data["files"]:
        checks = {c["name"]: c for c in f["checks"]}
        assert checks["numeric-frame"]["status"] == "pass", f["path"]
        assert checks["numeric-stream"]["status"] == "pass", f["path"]
        state = checks["plugin-state"]
        if f["model"] in ("EmotionRecognizer", "MelodyTransformer"):
            # the plugin streams (RTNeural keeps LSTM state); PyTorch starts every call from zero state
            assert state["status"] == "fail"
            assert state["figures"]["stream_vs_frame_max_abs"] > 1e-3
        else:
            assert state["status"] == "pass"
            assert state["figures"]["stream_vs_frame_max_abs"] == 0.0
    total = data["suite"][0]
    assert total["name"] == "memory-total"
    assert total["figures"]["budget_bytes"] == 4 * 2**20
    assert set(total["figures"]["by_model"]) == {f["model"] for f in data["files"]}


def test_verifier_json_in_the_current_directory_is_found(capsys, small, tmp_path, monkeypatch):
    _model_json, _ = small
    manifest = {"models": [{"name": "Small", "file": "small.json", "parameters": 1}]}
    (tmp_path / "verifier.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(tmp_path)
    code, out, _ = verify(capsys, "small.json", *FAST)
    assert code == 1
    assert "declared 1 but the model has" in out


def test_pyproject_tool_verifier_names_the_manifest(capsys, small, tmp_path, monkeypatch):
    manifest = {"models": [{"name": "Small", "file": "small.json", "widths": [8, 8, 4]}]}
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    (tmp_path / "pyproject.toml").write_text('[tool.verifier]\nmanifest = "m.json"\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = verify(capsys, "small.json", *FAST)
    assert code == 0
    assert "(Small)" in out


@pytest.mark.skipif(os.cpu_count() is None or os.cpu_count() < 2, reason="needs two cores")
def test_jobs_gives_the_same_verdicts_in_the_same_order(capsys, small, tmp_path):
    second = tmp_path / "second.json"
    shutil.copy(small[0], second)
    serial = verify(capsys, small[0], second, "--no-manifest", *FAST, "--format", "json")[1]
    parallel = verify(capsys, small[0], second, "--no-manifest", *FAST, "--format", "json", "--jobs", "2")[1]

    def verdicts(text):
        return [
            (f["path"], [(c["name"], c["status"]) for c in f["checks"]]) for f in json.loads(text)["files"]
        ]

    assert verdicts(serial) == verdicts(parallel)


def test_a_transposed_kernel_in_a_production_export_fails_numeric_agreement_with_its_factory(
    capsys, tmp_path
):
    doc = json.loads((FIXTURES / "models" / "melody_transformer.json").read_text())
    kernel = doc["layers"][2]["weights"][0]  # the 256x256 dense after the LSTM
    doc["layers"][2]["weights"][0] = [list(col) for col in zip(*kernel, strict=True)]
    corrupted = tmp_path / "melody_transformer.json"  # same name: the manifest entry (and factory) applies
    corrupted.write_text(json.dumps(doc))
    report = tmp_path / "report.json"
    code, _, _ = verify(
        capsys,
        "--manifest",
        FIXTURES / "manifest.json",
        corrupted,
        *FAST,
        "--format",
        "json",
        "--output",
        report,
    )
    assert code == 1
    checks = {c["name"]: c for c in json.loads(report.read_text())["files"][0]["checks"]}
    assert checks["numeric-frame"]["status"] == "fail"
    assert checks["numeric-frame"]["figures"]["max_abs_error"] > 1e-3
    assert checks["parameters"]["status"] == "pass"  # same count: only the numbers catch it


def test_a_reference_module_of_the_wrong_shape_is_a_failing_check_not_a_traceback(capsys, small):
    code, out, _ = verify(
        capsys, small[0], "--against", "verifier.production:dynamics_engine", "--no-manifest", *FAST
    )
    assert code == 1
    assert "FAIL numeric-frame" in out
    assert "verifier.production:dynamics_engine" in out
