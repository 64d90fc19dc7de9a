"""[tool.verifier] in pyproject.toml (verifier.cli.config): every option of `verify`, checked like the command
line's, with the command line first, the table second, the manifest third."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from verifier.cli import build_parser, main
from verifier.cli.config import KEY_TYPES
from verifier.format.reader.guarded import MAX_SETTINGS_BYTES
from verifier.pytorch.export import export

ROOT = Path(__file__).resolve().parent.parent


def verify(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder holding a small model's export, the current directory of the test."""
    torch.manual_seed(3)
    export(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)), tmp_path / "small.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _pyproject(folder: Path, table: str) -> None:
    (folder / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.verifier]\n{table}\n")


def _settings(capsys, *argv: str) -> dict:
    code, out, err = verify(capsys, "small.json", "--no-manifest", "--format", "json", *argv)
    assert code == 0, out + err
    return json.loads(out)["settings"]


def test_steps_no_timing_and_rss_copies_in_the_table_are_applied(capsys, project):
    _pyproject(project, "steps = 24\nno-timing = true\nrss-copies = 0\nseed = 5\natol = 1e-4")
    settings = _settings(capsys)
    assert (settings["steps"], settings["timing"], settings["rss_copies"]) == (24, False, 0)
    assert (settings["seed"], settings["atol"]) == (5, 1e-4)


def test_the_command_line_overrides_the_table(capsys, project):
    _pyproject(project, "steps = 24\nno-timing = true\nrss-copies = 0")
    assert _settings(capsys, "--steps", "16")["steps"] == 16


def test_timing_on_the_command_line_undoes_the_tables_no_timing(capsys, project):
    _pyproject(project, "steps = 24\nno-timing = true\nrss-copies = 0")
    assert _settings(capsys, "--timing", "--timing-steps", "20")["timing"] is True


def test_the_table_overrides_the_manifest(capsys, project):
    manifest = {
        "models": [{"name": "Small", "file": "small.json"}],
        "memory": {"budget_bytes": 1 << 30, "rss_copies": 3},
    }
    (project / "verifier.json").write_text(json.dumps(manifest))
    _pyproject(project, "steps = 24\nno-timing = true\nrss-copies = 0")
    code, out, err = verify(capsys, "small.json", "--format", "json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["settings"]["rss_copies"] == 0
    assert report["settings"]["manifest"] is not None


def test_the_tables_manifest_is_used_even_when_verifier_json_exists(capsys, project):
    (project / "verifier.json").write_text(json.dumps({"models": [{"name": "Wrong", "file": "small.json"}]}))
    (project / "m.json").write_text(json.dumps({"models": [{"name": "Small", "file": "small.json"}]}))
    _pyproject(project, 'manifest = "m.json"\nno-timing = true\nrss-copies = 0\nsteps = 16')
    code, out, _ = verify(capsys, "small.json")
    assert code == 0
    assert "(Small)" in out
    assert "(Wrong)" not in out


def test_the_pyproject_is_found_upward_and_its_paths_are_its_folders(capsys, project, monkeypatch):
    (project / "m.json").write_text(json.dumps({"models": [{"name": "Small", "file": "small.json"}]}))
    _pyproject(project, 'manifest = "m.json"\nno-timing = true\nrss-copies = 0\nsteps = 16')
    (project / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(project / "sub" / "deeper")
    code, out, _ = verify(capsys, "../../small.json")
    assert code == 0
    assert "(Small)" in out


def test_no_manifest_on_the_command_line_drops_the_tables_manifest(capsys, project):
    _pyproject(project, 'manifest = "missing.json"\nno-timing = true\nrss-copies = 0\nsteps = 16')
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "missing.json" in err
    code, out, err = verify(capsys, "small.json", "--no-manifest")
    assert code == 0, out + err


def test_quiet_on_the_command_line_wins_over_a_verbose_table(capsys, project):
    _pyproject(project, "verbose = true\nno-timing = true\nrss-copies = 0\nsteps = 16")
    _, verbose_out, _ = verify(capsys, "small.json", "--no-manifest")
    _, quiet_out, _ = verify(capsys, "small.json", "--no-manifest", "-q")
    assert len(quiet_out.splitlines()) < len(verbose_out.splitlines())


def test_an_unknown_key_is_a_usage_error_naming_it(capsys, project):
    _pyproject(project, "step = 64")
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "pyproject.toml: [tool.verifier] step: unknown key" in err


def test_a_key_spelt_with_underscores_is_refused_naming_the_spelling(capsys, project):
    _pyproject(project, "no_timing = true")
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "[tool.verifier] no_timing: unknown key; did you mean no-timing?" in err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('steps = "64"', "steps: expected an integer, got a string"),
        ("steps = true", "steps: expected an integer, got a boolean"),
        ("steps = 6.5", "steps: expected an integer, got a float"),
        ("no-timing = 1", "no-timing: expected true or false, got an integer"),
        ("atol = [1]", "atol: expected a number, got an array"),
        ("manifest = 3", "manifest: expected a string, got an integer"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_usage_error_naming_key_and_type(capsys, project, line, expected):
    _pyproject(project, line)
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert f"[tool.verifier] {expected}" in err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("steps = 0", "steps: must be 1 to 65536, got 0"),
        ("rss-copies = -1", "rss-copies: must be 0 to 1000, got -1"),
        ("atol = -1.0", "atol: must be a finite number >= 0"),
        ("atol = inf", "atol: must be a finite number >= 0"),
        ('dtype = "float16"', "dtype: invalid choice: 'float16'"),
    ],
)
def test_a_table_value_is_bounded_like_the_command_lines(capsys, project, line, expected):
    _pyproject(project, line)
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert f"[tool.verifier] {expected}" in err


def test_a_key_or_value_of_megabytes_is_quoted_cut(capsys, project):
    _pyproject(project, f"{'k' * 500_000} = 1")
    _, _, err = verify(capsys, "small.json")
    assert "(500,000 characters)" in err
    assert len(err) < 3000
    _pyproject(project, f'steps = "{"9" * 500_000}"')
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "steps: expected an integer, got a string" in err
    assert len(err) < 3000
    _pyproject(project, f'dtype = "{"f" * 500_000}"')
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert len(err) < 3000


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_pyproject_that_is_not_a_regular_file_is_a_usage_error_not_a_hang(capsys, project):
    os.mkfifo(project / "pyproject.toml")
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "pyproject.toml: /: cannot read [tool.verifier]" in err


def test_a_pyproject_of_megabytes_is_not_read(capsys, project):
    (project / "pyproject.toml").write_text("# " + "x" * (MAX_SETTINGS_BYTES + 1) + "\n")
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "pyproject.toml: /: cannot read [tool.verifier]" in err
    assert f"{MAX_SETTINGS_BYTES:,}" in err or str(MAX_SETTINGS_BYTES) in err


def test_an_unreadable_pyproject_is_a_usage_error_naming_it(capsys, project):
    (project / "pyproject.toml").write_text("[tool.verifier\nsteps = 3\n")
    code, _, err = verify(capsys, "small.json")
    assert code == 2
    assert "pyproject.toml: /: cannot read [tool.verifier]: not valid TOML" in err


def test_help_does_not_depend_on_the_pyproject(capsys, project):
    (project / "pyproject.toml").write_text("[tool.verifier\n")
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0


def test_every_option_of_verify_can_be_set_in_the_table():
    options = {
        option[2:]
        for action in build_parser()._actions
        for option in action.option_strings
        if option.startswith("--")
    }
    command_line_only = {"help", "version", "timing", "save-golden", "embed-golden"}
    assert options - command_line_only == set(KEY_TYPES)


def test_the_help_states_the_precedence():
    epilog = " ".join(build_parser().epilog.split())
    assert "command line > [tool.verifier] in pyproject.toml > manifest > defaults" in epilog


def test_python_3_10_reads_the_table_with_tomli():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"""["']tomli>=1\.1; python_version < ['"]3\.11['"]["']""", pyproject)


def test_the_pytest_plugins_discovery_prefers_the_tables_manifest_too(tmp_path):
    from verifier.checks.run.manifest import discover_manifest

    (tmp_path / "verifier.json").write_text("{}")
    _pyproject(tmp_path, 'manifest = "m.json"')
    assert discover_manifest(tmp_path) == tmp_path / "m.json"
    (tmp_path / "pyproject.toml").write_text("tool = 3\n")  # no table at all: verifier.json, no traceback
    assert discover_manifest(tmp_path) == tmp_path / "verifier.json"


def test_a_tool_key_that_is_not_a_table_is_no_traceback(capsys, project):
    (project / "pyproject.toml").write_text("tool = 3\n")
    code, _, err = verify(capsys, "small.json", "--no-timing", "--rss-copies", "0", "--steps", "8")
    assert code == 0, err
