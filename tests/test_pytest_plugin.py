"""The pytest plugin, run as a user runs it: ``pytest`` in a project of its own (a subprocess in a temporary
directory), with the plugin loaded from the ``pytest11`` entry point."""

from __future__ import annotations

import base64
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
from pathlib import Path

import torch
from torch import nn


def _called(name):
    # One line per build of a reference: how many times the plugin verified the model.
    with open(Path(__file__).with_name("calls.log"), "a") as log:
        log.write(name + "\\n")


def small():
    _called("small")
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.GRU(8, 4, batch_first=True), nn.Linear(4, 2))


def tiny():
    _called("tiny")
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
"""


def make_project(folder: Path) -> Path:
    """A user's project: torch factories, their exports, a broken export, and a manifest with a budget."""
    (folder / "mymodels.py").write_text(MODELS)
    sys.path.insert(0, str(folder))
    sys.modules.pop("mymodels", None)  # another project's, imported by a test verifying in this process
    try:
        import mymodels

        export(mymodels.small(), folder / "small.json")
        export(mymodels.tiny(), folder / "tiny.json")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("mymodels", None)
    (folder / "calls.log").unlink()  # the exports above are not verify runs
    (folder / "broken.json").write_text('{"in_shape": [null, 4], "layers": []}')
    manifest = {
        "memory": {"budget_bytes": 1_000_000},
        "models": [
            # 99 declared parameters: wrong on purpose, so that the parameters item fails
            {"name": "Small", "file": "small.json", "factory": "mymodels:small", "parameters": 99},
            {"name": "Tiny", "file": "tiny.json", "factory": "mymodels:tiny"},
            {"name": "Broken", "file": "broken.json"},
        ],
    }
    (folder / "models.json").write_text(json.dumps(manifest))
    (folder / "test_unit.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n")
    return folder


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path)


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


# --------------------------------------------------------------------------------------------- pytest-xdist

QUICK = ("--verify-manifest", "models.json", "--verify-no-timing", "--verify-rss-copies", "0")


def _calls(project: Path) -> dict[str, int]:
    """The models' reference builds since the last call (one per verify run), by factory."""
    log = project / "calls.log"
    if not log.exists():
        return {}
    names = log.read_text().split()
    log.unlink()
    return {name: names.count(name) for name in set(names)}


def _properties(junit: Path) -> dict[str, list[tuple[str | None, str | None]]]:
    return {
        f"{case.get('classname')}::{case.get('name')}": [
            (p.get("name"), p.get("value")) for p in case.iter("property")
        ]
        for case in ET.parse(junit).getroot().iter("testcase")
    }


def _budget_table(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "rtneural-verifier: budgets" in line)
    table = []
    for line in lines[start + 1 :]:
        if line.startswith(("=", "warning ")):
            break
        table.append(line)
    return table


@pytest.fixture(scope="module")
def serial_and_xdist(
    tmp_path_factory,
) -> dict[str, tuple[subprocess.CompletedProcess[str], dict[str, int], Path]]:
    """One session run in one process, then by two xdist workers: (the run, its verify runs, its JUnit)."""
    project = make_project(tmp_path_factory.mktemp("xdist"))
    runs = {}
    for name, extra in (("serial", ()), ("xdist", ("-n", "2"))):
        junit = project / f"{name}.xml"
        done = pytest_run(project, *QUICK, "--junitxml", str(junit), *extra)
        runs[name] = (done, _calls(project), junit)
    return runs


def test_under_xdist_each_model_is_verified_once(serial_and_xdist):
    (_, serial, _), (done, xdist, _) = serial_and_xdist["serial"], serial_and_xdist["xdist"]
    assert "2 workers" in done.stdout, done.stdout + done.stderr
    assert set(serial) == {"small", "tiny"}
    assert xdist == serial


def test_under_xdist_the_items_have_the_serial_verdicts_and_figures(serial_and_xdist):
    (_, _, serial), (_, _, xdist) = serial_and_xdist["serial"], serial_and_xdist["xdist"]
    assert _outcomes(xdist) == _outcomes(serial)
    assert _properties(xdist) == _properties(serial)
    assert _outcomes(xdist)["models.json.Small::parameters"] == "failure"


def test_under_xdist_the_terminal_summary_has_the_serial_budget_table(serial_and_xdist):
    (serial, _, _), (xdist, _, _) = serial_and_xdist["serial"], serial_and_xdist["xdist"]
    table = _budget_table(xdist.stdout)
    assert [line.split()[0] for line in table] == ["model", "Small", "Tiny", "Broken", "memory-total:"]
    assert table == _budget_table(serial.stdout)
    warnings = sorted(line for line in xdist.stdout.splitlines() if line.startswith("warning "))
    assert warnings, xdist.stdout
    assert warnings == sorted(line for line in serial.stdout.splitlines() if line.startswith("warning "))


# --------------------------------------------------------------------------------------------- pytest-html

# pytest-html's extras API as far as the plugin uses it (pytest_html.extras.svg / .text return dicts).
FAKE_PYTEST_HTML_EXTRAS = """
def svg(content, name="Image"):
    return {"format_type": "image", "mime_type": "image/svg+xml", "content": content, "name": name}


def text(content, name="Text"):
    return {"format_type": "text", "mime_type": "text/plain", "content": content, "name": name}
"""
# pytest-html's --html option (whose dest the plugin reads), and a record of the extras each report carries
# in the process that writes the report (the controller under xdist).
FAKE_HTML_CONFTEST = """
import base64
import json
import os


def pytest_addoption(parser):
    parser.addoption("--html", dest="htmlpath")


def pytest_runtest_logreport(report):
    if report.when == "call" and "PYTEST_XDIST_WORKER" not in os.environ:
        with open("extras.jsonl", "a") as out:
            out.write(json.dumps({"nodeid": report.nodeid, "extras": getattr(report, "extras", [])}) + "\\n")
"""


# The real pytest-html, when installed, is switched off (both its entry points) for the fake to stand in.
NO_PYTEST_HTML = ("-p", "no:html", "-p", "no:html_fixtures")


def _fake_pytest_html(project: Path) -> None:
    (project / "pytest_html").mkdir()
    (project / "pytest_html" / "__init__.py").write_text("")
    (project / "pytest_html" / "extras.py").write_text(FAKE_PYTEST_HTML_EXTRAS)
    (project / "conftest.py").write_text(FAKE_HTML_CONFTEST)
    manifest = json.loads((project / "models.json").read_text())
    manifest["models"] = [m for m in manifest["models"] if m["name"] != "Broken"]  # a memory total to draw
    (project / "good.json").write_text(json.dumps(manifest))


def _extras(project: Path) -> dict[str, list[dict[str, str]]]:
    records = [json.loads(line) for line in (project / "extras.jsonl").read_text().splitlines()]
    return {r["nodeid"]: r["extras"] for r in records if r["extras"]}


def test_under_pytest_html_the_items_carry_the_plots_of_their_checks(project):
    _fake_pytest_html(project)
    done = pytest_run(
        project,
        *NO_PYTEST_HTML,
        "--verify-manifest",
        "good.json",
        "--verify-rss-copies",
        "0",
        "--html",
        "r.html",
        "-n",
        "2",
    )
    assert done.returncode == 1, done.stdout + done.stderr  # Small's parameters
    extras = _extras(project)
    errors = ["worst error per time step vs tolerance", "distribution of element errors"]
    expected = {
        **{
            f"good.json::{m}::numeric-{p}": [f"{m}: {t}" for t in errors]
            for m in ("Small", "Tiny")
            for p in ("frame", "stream")
        },
        "good.json::Small::latency": ["Small: latency percentiles vs budget"],
        "good.json::Tiny::latency": ["Tiny: latency percentiles vs budget"],
        "good.json::memory-total": ["memory held vs budget"],
    }
    assert {nodeid: [e["name"] for e in found] for nodeid, found in extras.items()} == expected
    for found in extras.values():
        for extra in found:
            assert extra["mime_type"] == "image/svg+xml"
            # pytest-html takes images as base64 (raw text would be taken for a file name)
            assert base64.b64decode(extra["content"], validate=True).startswith(b"<svg")


def test_under_pytest_html_without_matplotlib_the_item_says_how_to_get_the_plots(project):
    _fake_pytest_html(project)
    (project / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    done = pytest_run(project, *NO_PYTEST_HTML, *QUICK, "--html", "r.html", "-k", "Tiny and numeric-frame")
    assert done.returncode == 0, done.stdout + done.stderr
    ((kind, message),) = [
        (e["format_type"], e["content"]) for e in _extras(project)["models.json::Tiny::numeric-frame"]
    ]
    assert kind == "text"
    assert "pip install 'rtneural-verifier[html]'" in message


def test_the_pytest_html_report_shows_the_plots(project):
    pytest.importorskip("pytest_html")
    done = pytest_run(
        project, *QUICK, "--html", "r.html", "--self-contained-html", "-k", "Tiny and numeric-stream"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page = (project / "r.html").read_text()
    assert "Tiny: worst error per time step vs tolerance" in page
    assert "data:image/svg+xml;base64," in page
