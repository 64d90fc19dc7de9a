"""The plugin's own latency figures are named where every option of verify is: on the command line
(--plugin-latency), in [tool.verifier] (plugin-latency, relative to the pyproject's folder) and per model in
the manifest (plugin_latency, relative to the manifest). Precedence: command line > table > manifest; a bad
file in any of them is a usage error (exit 2) naming who named it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from verifier.cli import main
from verifier.pytorch.export import export

PLUGIN_BUILD = "ModelT<float>, -O3 (the plugin's test build)"


def _figures() -> dict[str, Any]:
    figure = {"steps": 2000, "p50_ns": 1000.0, "p99_ns": 2000.0, "max_ns": 9000.0}
    return {
        "format": "rtneural-verifier-plugin-latency",
        "format_version": 1,
        "model": "small",
        "build": PLUGIN_BUILD,
        "dtype": "float32",
        "warmup": 200,
        "patterns": {"frame": figure, "stream": figure, "silence": figure, "silence_ftz": None},
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (pyproject.toml at its root) with a small model in models/ and the plugin's figures in
    latency/, run from a sub-folder so that every relative path has one right base."""
    torch.manual_seed(3)
    (tmp_path / "models").mkdir()
    export(nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)), tmp_path / "models" / "small.json")
    (tmp_path / "latency").mkdir()
    (tmp_path / "latency" / "small.json").write_text(json.dumps(_figures()))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    _pyproject(tmp_path, "")
    return tmp_path


def _pyproject(root: Path, table: str) -> None:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.verifier]\n{table}\n")


def _manifest(root: Path, plugin_latency: str) -> Path:
    path = root / "models" / "verifier.json"
    entry = {"name": "small", "file": "small.json", "plugin_latency": plugin_latency}
    path.write_text(json.dumps({"models": [entry]}))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _judged_build(capsys: pytest.CaptureFixture[str], root: Path, *argv: str | Path) -> str:
    """The build whose figures the latency check judged (the engine's unless a plugin file was taken)."""
    report = root / "report.json"
    quick = ("--steps", "8", "--timing-steps", "20", "--rss-copies", "0", "--no-cache")
    code, err = _run(capsys, *argv, *quick, "--format", "json", "-o", report)
    assert code in (0, 1), err  # the verdict is on timings: only what was judged is asserted
    checks = json.loads(report.read_text())["files"][0]["checks"]
    figures = next(c for c in checks if c["name"] == "latency")["figures"]
    return figures["plugin"]["build"] if "plugin" in figures else "the engine"


def test_plugin_latency_on_the_command_line_is_judged(capsys, project):
    build = _judged_build(
        capsys, project, "../models/small.json", "--no-manifest", "--plugin-latency", "../latency/small.json"
    )
    assert build == PLUGIN_BUILD


def test_plugin_latency_in_the_table_is_judged_relative_to_the_pyproject(capsys, project):
    _pyproject(project, 'plugin-latency = "latency/small.json"')
    assert _judged_build(capsys, project, "../models/small.json", "--no-manifest") == PLUGIN_BUILD


def test_plugin_latency_in_the_table_may_be_an_array_of_paths(capsys, project):
    _pyproject(project, 'plugin-latency = ["latency/small.json"]')
    assert _judged_build(capsys, project, "../models/small.json", "--no-manifest") == PLUGIN_BUILD


def test_plugin_latency_in_the_manifest_is_judged_relative_to_the_manifest(capsys, project):
    manifest = _manifest(project, "../latency/small.json")
    assert _judged_build(capsys, project, "--manifest", manifest) == PLUGIN_BUILD


def test_a_bad_plugin_latency_on_the_command_line_names_the_option(capsys, project):
    code, err = _run(capsys, "../models/small.json", "--no-manifest", "--plugin-latency", "missing.json")
    assert code == 2
    assert "--plugin-latency" in err
    assert "missing.json" in err


def test_a_bad_plugin_latency_in_the_table_names_the_pyproject_and_key(capsys, project):
    _pyproject(project, 'plugin-latency = "latency/missing.json"')
    code, err = _run(capsys, "../models/small.json", "--no-manifest")
    assert code == 2
    assert f"{project / 'pyproject.toml'}: [tool.verifier] plugin-latency:" in err
    assert "missing.json" in err


def test_a_bad_plugin_latency_in_the_manifest_names_the_manifest_and_pointer(capsys, project):
    manifest = _manifest(project, "../latency/missing.json")
    code, err = _run(capsys, "--manifest", manifest)
    assert code == 2
    assert f"{manifest}: /models/0/plugin_latency:" in err
    assert "missing.json" in err


def test_a_manifest_plugin_latency_outside_the_project_root_is_refused(capsys, project):
    manifest = _manifest(project, "../../outside.json")
    code, err = _run(capsys, "--manifest", manifest)
    assert code == 2
    assert "/models/0/plugin_latency" in err
    assert "outside the project root" in err


@pytest.mark.parametrize("value", ["[]", "[1]", "true"], ids=["empty-array", "number-in-array", "boolean"])
def test_a_plugin_latency_of_the_wrong_type_in_the_table_is_a_usage_error(capsys, project, value):
    _pyproject(project, f"plugin-latency = {value}")
    code, err = _run(capsys, "../models/small.json", "--no-manifest")
    assert code == 2
    assert "[tool.verifier] plugin-latency: expected a path or an array of paths" in err


def test_the_command_line_replaces_the_tables_plugin_latency(capsys, project):
    _pyproject(project, 'plugin-latency = "latency/from-table.json"')
    code, err = _run(capsys, "../models/small.json", "--no-manifest", "--plugin-latency", "from-cli.json")
    assert code == 2
    assert "from-cli.json" in err
    assert "from-table.json" not in err


def test_the_tables_plugin_latency_replaces_the_manifests(capsys, project):
    _pyproject(project, 'plugin-latency = "latency/from-table.json"')
    manifest = _manifest(project, "../latency/from-manifest.json")
    code, err = _run(capsys, "--manifest", manifest)
    assert code == 2
    assert "from-table.json" in err
    assert "from-manifest.json" not in err


# The manifest's plugin_latency is read by every way of running verify, not only the command line: the pytest
# plugin and the notebook API judged the engine's figures while the command line judged the plugin's.
def _pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_plugin_latency_in_the_manifest_is_judged_by_the_python_api(project):
    import verifier

    manifest = _manifest(project, "../latency/small.json")
    result = verifier.verify(
        project / "models" / "small.json", manifest=manifest, steps=8, timing_steps=20, rss_copies=0
    )
    figures = result.files[0].check("latency").figures
    assert figures["plugin"]["build"] == PLUGIN_BUILD


def test_a_bad_plugin_latency_in_the_manifest_is_refused_by_the_python_api_naming_the_pointer(project):
    import verifier
    from verifier.checks.run.plugin_latency import PluginLatencyError

    (project / "latency" / "small.json").write_text("{}")
    manifest = _manifest(project, "../latency/small.json")
    with pytest.raises(PluginLatencyError, match=r"/models/0/plugin_latency"):
        verifier.verify(project / "models" / "small.json", manifest=manifest, timing=False, rss_copies=0)


def test_plugin_latency_in_the_manifest_is_judged_by_the_pytest_plugin(project):
    # The plugin's build over a 1 ms budget that the engine's figures (well under a microsecond) meet: only a
    # judged plugin file fails the item.
    slow = _figures()
    slow["patterns"]["frame"] = {"steps": 2000, "p50_ns": 1000.0, "p99_ns": 2.0e6, "max_ns": 9.0e6}
    (project / "latency" / "small.json").write_text(json.dumps(slow))
    entry = {"name": "small", "file": "small.json", "plugin_latency": "../latency/small.json"}
    manifest = {"latency": {"budget_p99_ns": 1_000_000}, "models": [entry]}
    (project / "models" / "verifier.json").write_text(json.dumps(manifest))
    done = _pytest_in(
        project, "--verify-manifest", "models/verifier.json", "--verify-rss-copies", "0", "-k", "latency"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert "FAILED models/verifier.json::small::latency" in done.stdout, done.stdout + done.stderr
    assert PLUGIN_BUILD in done.stdout, done.stdout


def test_a_bad_plugin_latency_in_the_manifest_is_a_pytest_usage_error_naming_the_pointer(project):
    (project / "latency" / "small.json").write_text("{}")
    _manifest(project, "../latency/small.json")
    done = _pytest_in(project, "--verify-manifest", "models/verifier.json", "--verify-no-timing")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "/models/0/plugin_latency" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
