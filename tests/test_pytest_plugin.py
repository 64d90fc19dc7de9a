"""The pytest plugin, run as a user runs it: ``pytest`` in a project of its own (a subprocess in a temporary
directory), with the plugin loaded from the ``pytest11`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from verifier.checks.catalogue import FILE_CHECKS
from verifier.checks.results import FAIL, SKIP
from verifier.checks.run.manifest import load_manifest
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_file
from verifier.pytorch.export import export

MODELS = """
import torch
from torch import nn


def small():
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.GRU(8, 4, batch_first=True), nn.Linear(4, 2))
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's project: a torch factory, its export, a broken export, and a manifest with a budget."""
    (tmp_path / "mymodels.py").write_text(MODELS)
    sys.path.insert(0, str(tmp_path))
    try:
        import mymodels

        export(mymodels.small(), tmp_path / "small.json")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mymodels", None)
    (tmp_path / "broken.json").write_text('{"in_shape": [null, 4], "layers": []}')
    manifest = {
        "memory": {"budget_bytes": 1_000_000},
        "models": [
            # 99 declared parameters: wrong on purpose, so that the parameters item fails
            {"name": "Small", "file": "small.json", "factory": "mymodels:small", "parameters": 99},
            {"name": "Broken", "file": "broken.json"},
        ],
    }
    (tmp_path / "models.json").write_text(json.dumps(manifest))
    (tmp_path / "test_unit.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n")
    return tmp_path


# Every warning is an error, as in this repository's own configuration (and the same exception for the import
# hook of an editable install, see pyproject.toml): the plugin must not add one.
STRICT = ["-W", "error", "-W", "ignore:Module already imported:pytest.PytestAssertRewriteWarning"]


def pytest_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The inner run is a session of its own, even when this suite runs under pytest-xdist (whose worker
    # variables would make pytest-benchmark warn, an error under -W error).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *STRICT, "-rA", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _outcomes(junit: Path) -> dict[str, str]:
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kind = next((child.tag for child in case if child.tag in ("failure", "skipped", "error")), "passed")
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kind
    return outcomes


def test_items_per_model_and_check_with_the_cli_verdicts(project, monkeypatch):
    done = pytest_run(
        project, "--verify-manifest", "models.json", "--verify-no-timing", "--junitxml", "out.xml", "-q"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    outcomes = _outcomes(project / "out.xml")
    monkeypatch.syspath_prepend(str(project))  # the manifest's factory, mymodels:small
    manifest = load_manifest(project / "models.json")
    options = Options(timing=False, rss_copies=0)
    for entry in manifest.models:
        result = verify_file(str(entry.file), options, manifest)
        for name in FILE_CHECKS:
            status = result.check(name).status
            expected = {FAIL: "failure", SKIP: "skipped"}.get(status, "passed")
            assert outcomes[f"models.json.{entry.name}::{name}"] == expected, (entry.name, name, status)
    assert outcomes["test_unit::test_arithmetic"] == "passed"
    assert outcomes["models.json::memory-total"] == "skipped"  # Broken did not load: the total is not known


def test_a_failing_item_says_why_in_the_checks_words(project):
    done = pytest_run(project, "--verify-manifest", "models.json", "--verify-no-timing", "-k", "Small")
    assert "FAILED models.json::Small::parameters" in done.stdout
    assert "parameters: " in done.stdout
    assert "Traceback" not in done.stdout


def test_the_terminal_summary_has_the_budget_table(project):
    done = pytest_run(project, "--verify-manifest", "models.json", "-k", "Small and latency")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rtneural-verifier: budgets" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("Small "))
    assert "µs" in row


def test_junit_records_the_figures_as_properties(project):
    pytest_run(project, "--verify-manifest", "models.json", "--verify-no-timing", "--junitxml", "out.xml")
    root = ET.parse(project / "out.xml").getroot()
    case = next(
        c
        for c in root.iter("testcase")
        if c.get("name") == "parameters" and c.get("classname") == "models.json.Small"
    )
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["status"] == "fail"
    assert properties["declared"] == "99"


def test_pyproject_tool_verifier_names_the_manifest(project):
    (project / "pyproject.toml").write_text('[tool.verifier]\nmanifest = "models.json"\n')
    done = pytest_run(project, "--verify-no-timing", "--collect-only", "-q")
    assert "models.json::Small::numeric-stream" in done.stdout
    assert "models.json::Broken::load" in done.stdout


def test_without_a_manifest_the_plugin_adds_nothing(project):
    done = pytest_run(project, "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "rtneural-verifier" not in done.stdout


def test_the_verify_model_fixture_runs_every_check_on_a_file(project):
    (project / "test_custom.py").write_text(
        "def test_stream_error_is_tiny(verify_model):\n"
        "    result = verify_model('small.json', against='mymodels:small', timing=False, rss_copies=0)\n"
        "    assert result.check('numeric-stream').figures['max_abs_error'] < 1e-5\n"
        "    assert result.check('parameters').status == 'pass'\n"
    )
    done = pytest_run(project, "test_custom.py", "-q")
    assert done.returncode == 0, done.stdout + done.stderr


def test_loading_the_plugin_imports_no_torch():
    script = "import sys, verifier.testing.pytest_plugin; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    from importlib.metadata import entry_points

    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "verifier"]
    assert plugin.value == "verifier.testing.pytest_plugin"
