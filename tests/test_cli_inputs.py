"""``verify``'s answer to every input: exit 1 a finding, 2 a usage error in one line, 3 an internal error
naming the file while every other file is still checked and reported. Runs that need a real process
(stdout on a full device, worker processes) go through a subprocess started outside the checkout, so the
installed package (with its compiled engine) is the one imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import verdict_modules
from torch import nn

import verifier.checks.run.verify
from verifier.cli import main
from verifier.pytorch.export import export

TESTS = Path(__file__).resolve().parent
FAST = ["--no-timing", "--rss-copies", "0", "--steps", "16", "--no-manifest"]


def verify(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# The verifier under test (the installed package under tox, the source tree when PYTHONPATH points at it).
UNDER_TEST = Path(verifier.checks.run.verify.__file__).resolve().parents[3]


def verify_process(*argv: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    # verdict_modules for --against and manifest factories; the verifier this suite imports
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(UNDER_TEST), str(TESTS)])}
    return subprocess.run(
        [sys.executable, "-m", "verifier", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=600,
    )


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "model.json"
    export(verdict_modules.faithful(), path)
    return path


# --- usage errors: exit 2, one line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--seed", "-1"], "--seed"),
        (["--rss-copies", "-2"], "--rss-copies"),
        (["--no-such-option"], "unrecognized arguments"),
        ([], "required"),
    ],
    ids=["negative-seed", "negative-rss-copies", "unknown-option", "no-files"],
)
def test_a_usage_error_exits_2_with_one_line(capsys, model, argv, said):
    files = [model] if argv else []
    code, out, err = verify(capsys, *files, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert said in err


# --- names are paths ------------------------------------------------------------------------------------


def test_a_file_named_like_json_text_is_read_as_a_path(capsys, model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(model, tmp_path / "{model}.json")
    code, out, _ = verify(capsys, "{model}.json", *FAST)
    assert code == 0, out
    assert "FAIL" not in out


def test_an_existing_file_with_glob_characters_is_taken_literally(capsys, model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(model, tmp_path / "model[1].json")
    code, out, _ = verify(capsys, "model[1].json", *FAST)
    assert code == 0, out
    assert "model[1].json" in out


# --- a bad file is a finding ----------------------------------------------------------------------------


def test_a_file_that_is_not_json_is_a_finding_with_rule_and_pointer(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"in_shape": [null, 4], "layers": [')
    report = tmp_path / "report.json"
    code, _, _ = verify(capsys, bad, *FAST, "--format", "json", "-o", report)
    assert code == 1
    validate = json.loads(report.read_text())["files"][0]["checks"][0]
    assert validate["status"] == "fail"
    finding = validate["figures"]["findings"][0]
    assert finding["rule"].startswith("RTN-E")
    assert finding["pointer"] is not None


# --- internal errors: exit 3, the file named, the other files still checked --------------------------------


def test_an_exception_inside_a_check_exits_3_and_the_other_files_are_reported(
    capsys, model, tmp_path, monkeypatch
):
    broken = tmp_path / "broken.json"
    shutil.copy(model, broken)
    real = verifier.checks.run.verify.check_widths

    def widths_raising_on_one_file(**kwargs):
        if kwargs["in_size"] == 6 and broken_is_running[0]:
            raise RuntimeError("simulated bug in a check")
        return real(**kwargs)

    broken_is_running = [False]
    real_finish_file = verifier.checks.run.verify.finish_file

    def finish_file(prepared, *args, **kwargs):  # the steps after load, where the widths are checked
        broken_is_running[0] = prepared.path.endswith("broken.json")
        return real_finish_file(prepared, *args, **kwargs)

    monkeypatch.setattr(verifier.checks.run.verify, "check_widths", widths_raising_on_one_file)
    monkeypatch.setattr(verifier.checks.run.verify, "finish_file", finish_file)
    report = tmp_path / "report.json"
    code, _, err = verify(capsys, broken, model, *FAST, "--format", "json", "-o", report)
    assert code == 3
    assert "this is a bug in rtneural-verifier" in err
    assert "broken.json" in err
    files = {Path(f["path"]).name: f for f in json.loads(report.read_text())["files"]}
    assert files["broken.json"]["checks"][0]["name"] == "internal-error"
    assert "simulated bug" in files["broken.json"]["checks"][0]["summary"]
    assert files["model.json"]["status"] == "pass"


@pytest.mark.skipif(os.cpu_count() is None or os.cpu_count() < 2, reason="needs two cores")
@pytest.mark.parametrize("factory", ["dies", "raises_in_a_check"])
def test_with_jobs_a_factory_that_dies_or_raises_fails_only_its_file(model, tmp_path, factory):
    for name in ("a.json", "broken.json", "c.json"):
        shutil.copy(model, tmp_path / name)
    manifest = {
        "models": [
            {"name": "A", "file": "a.json", "factory": "verdict_modules:faithful"},
            {"name": "Broken", "file": "broken.json", "factory": f"verdict_modules:{factory}"},
            {"name": "C", "file": "c.json", "factory": "verdict_modules:faithful"},
        ]
    }
    (tmp_path / "verifier.json").write_text(json.dumps(manifest))
    args = ["--no-timing", "--rss-copies", "0", "--steps", "16", "--jobs", "2", "-o", "report.json"]
    proc = verify_process("a.json", "broken.json", "c.json", *args, "--format", "json", cwd=tmp_path)
    # user code that kills its process or raises is a finding about that file (exit 1), not our bug (3)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    files = {f["path"]: f for f in json.loads((tmp_path / "report.json").read_text())["files"]}
    assert list(files) == ["a.json", "broken.json", "c.json"]
    assert files["a.json"]["status"] == "pass"
    assert files["c.json"]["status"] == "pass"
    numeric = next(c for c in files["broken.json"]["checks"] if c["name"] == "numeric-frame")
    assert numeric["status"] == "fail"
    assert f"factory verdict_modules:{factory}" in numeric["summary"]


# --- stdout that cannot be written ----------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_device_is_one_line_and_a_nonzero_exit(model, tmp_path):
    with open("/dev/full", "w") as full:
        env = {**os.environ, "PYTHONPATH": str(TESTS)}
        proc = subprocess.run(
            [sys.executable, "-m", "verifier", str(model), *FAST],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
        )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "No space left on device" in lines[0]


def test_a_nan_output_exits_1_with_its_report_written(capsys, tmp_path):
    torch.manual_seed(5)
    module = nn.Sequential(nn.Linear(4, 6), nn.Softmax(dim=-1))
    with torch.no_grad():
        module[0].weight.mul_(400.0)  # logits up to ~200: exp overflows float32 in RTNeural's softmax
    path = tmp_path / "overflow.json"
    export(module, path)
    report = tmp_path / "report.json"
    code, out, _ = verify(capsys, path, *FAST, "--format", "json", "-o", report)
    assert code == 1
    assert "FAIL numeric-stream" in out
    data = json.loads(report.read_text(), parse_constant=lambda name: pytest.fail(f"JSON literal {name}"))
    assert data["status"] == "fail"
