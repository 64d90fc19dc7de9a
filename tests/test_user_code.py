"""User code cannot end, hang or green a run: factories and their modules run in a child process whose end
the run observes; a factory that cannot be imported is the run's configuration error (exit 2); a manifest
names files of its own project only; ``verifier.verify(..., module=...)`` runs a module in-process.

The command-line tests build a throwaway project (``pyproject.toml``, its own package ``ampmodel``, exports
under ``exports/``) and run ``verify`` in it as a separate process with only the verifier on PYTHONPATH and
without the working folder on ``sys.path`` (``python -P``, as the installed ``verify`` command runs): the
project's package is found because the project root goes first on the child's path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import verifier
from verifier.checks.run.manifest import ManifestError, parse_manifest
from verifier.checks.run.project import project_root
from verifier.checks.run.reference import IsolatedReferences, ReferenceFailure, ReferenceRun
from verifier.pytorch.export import export

# The verifier under test (the installed package under tox, the source tree when PYTHONPATH points at it).
CHECKOUT = Path(verifier.__file__).resolve().parents[1]
FAST = ["--no-timing", "--rss-copies", "0", "--steps", "16"]

# The project's own package: a faithful factory, and every way a factory can go wrong.
MODEL_SOURCE = """
import os
import sys
import time

import torch
from torch import nn


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def chatty():
    print('{"files": [], "note": "printed by the factory"}')
    return build()


def exits_zero():
    sys.exit(0)


def underscore_exits():
    os._exit(0)


def hangs():
    time.sleep(3600)


def reads_stdin():
    return input()


def raises():
    raise RuntimeError("the checkpoint server is down")


class _Chain(nn.Module):
    export_order = ("first", "act", "last")

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.first, self.act, self.last = nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)


class _Broken(_Chain):
    def forward(self, x):
        raise ValueError("forward() of a broken module")


class _Exits(_Chain):
    def forward(self, x):
        os._exit(3)


def forward_raises():
    return _Broken()


def forward_exits():
    return _Exits()
"""


def _build() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "ampmodel"\nversion = "0"\n')
    package = tmp_path / "ampmodel"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(MODEL_SOURCE)
    (package / "dies_on_import.py").write_text("import os\nos._exit(4)\n\ndef build():\n    pass\n")
    exports = tmp_path / "exports"
    exports.mkdir()
    export(_build(), exports / "model.json")
    return tmp_path


def _manifest(project: Path, factory: str | None, file: str = "model.json") -> Path:
    entry = {"name": "Amp", "file": file, **({"factory": factory} if factory else {})}
    path = project / "exports" / "verifier.json"
    path.write_text(json.dumps({"models": [entry]}))
    return path


def verify_in(project: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``verify`` as the installed command runs it: the verifier importable, the project not on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env["PYTHONPATH"] = str(CHECKOUT)
    # stdin a pipe this test holds open: a child that inherited it would wait on it forever
    reads, writes = os.pipe()
    try:
        return subprocess.run(
            [sys.executable, "-P", "-m", "verifier", *argv],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=reads,
            check=False,
        )
    finally:
        os.close(reads)
        os.close(writes)


# --- the project root -------------------------------------------------------------------------------------


def test_the_project_root_is_the_nearest_folder_with_pyproject_toml_then_the_git_root(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg" / "deep").mkdir(parents=True)
    assert project_root(tmp_path / "pkg" / "deep") == tmp_path  # no pyproject.toml: the git root
    (tmp_path / "pkg" / "pyproject.toml").write_text("")
    assert project_root(tmp_path / "pkg" / "deep") == tmp_path / "pkg"


def test_without_pyproject_or_git_the_starting_folder_is_the_root(tmp_path: Path):
    if any((p / "pyproject.toml").exists() or (p / ".git").exists() for p in tmp_path.parents):
        pytest.skip("the temporary folder lies inside a project")
    assert project_root(tmp_path) == tmp_path


def test_verify_from_the_root_finds_the_projects_own_factory_without_pythonpath(project: Path):
    manifest = _manifest(project, "ampmodel.model:build")
    done = verify_in(project, "--manifest", str(manifest.relative_to(project)), *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "against module ampmodel.model:build" in done.stdout


@pytest.mark.parametrize(("factory", "status"), [("ampmodel.model:build", 0), ("builtins:exit", 1)])
def test_verify_without_arguments_checks_the_manifest_at_the_root(project: Path, factory: str, status: int):
    # as the pre-commit hook runs it: verifier.json at the project root, no argument
    models = [{"name": "Amp", "file": "exports/model.json", "factory": factory}]
    (project / "verifier.json").write_text(json.dumps({"models": models}))
    done = verify_in(project, *FAST)
    assert done.returncode == status, done.stdout + done.stderr
    assert ("FAIL numeric-frame" in done.stdout) == bool(status)


def test_verify_from_a_subfolder_still_imports_factories_from_the_project_root(project: Path):
    _manifest(project, "ampmodel.model:build")
    done = verify_in(project / "exports", "--manifest", "verifier.json", *FAST)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
def test_a_manifest_file_outside_the_project_is_a_manifest_error(project: Path, kind: str):
    outside = project.parent / f"{project.name}-outside.json"
    outside.write_text((project / "exports" / "model.json").read_text())
    if kind == "symlink":
        (project / "exports" / "link.json").symlink_to(outside)
    file = {"parent": f"../../{outside.name}", "absolute": str(outside), "symlink": "link.json"}[kind]
    _manifest(project, "ampmodel.model:build", file)
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "/models/0/file" in done.stderr
    assert "outside the project root" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_a_manifest_naming_files_of_its_own_project_is_accepted(project: Path):
    data = {"models": [{"name": "Amp", "file": "model.json"}, {"name": "B", "file": "../exports/b.json"}]}
    manifest = parse_manifest(data, project / "exports" / "verifier.json")
    assert [e.file.name for e in manifest.models] == ["model.json", "b.json"]
    with pytest.raises(ManifestError, match="/models/0/file"):
        parse_manifest({"models": [{"name": "X", "file": "../../x.json"}]}, project / "exports" / "v.json")


# --- user code that ends, hangs or raises: a failing finding, the run goes on ------------------------------


@pytest.mark.parametrize(
    ("factory", "said"),
    [
        ("builtins:exit", "factory builtins:exit ended its process with status 0 before returning a module"),
        ("ampmodel.model:exits_zero", "ended its process with status 0 before returning a module"),
        ("ampmodel.model:underscore_exits", "ended its process with status 0 before returning a module"),
        ("os:abort", "factory os:abort ended its process by SIGABRT before returning a module"),
        ("builtins:breakpoint", "factory builtins:breakpoint returned a NoneType, not a torch module"),
        ("ampmodel.model:reads_stdin", "raised EOFError"),
        ("ampmodel.model:forward_exits", "ended its process with status 3 while its module's forward() ran"),
        ("ampmodel.dies_on_import:build", "ended its process with status 4 while importing its module"),
    ],
)
def test_a_factory_that_ends_its_process_is_a_failing_finding_naming_it(project: Path, factory, said):
    _manifest(project, factory)
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert said in done.stdout
    assert "FAIL numeric-frame" in done.stdout
    assert "FAILED: 1 file(s), 1 failing" in done.stdout  # the run reached its verdict and report


def test_a_factory_that_hangs_is_stopped_at_the_time_limit_and_fails(project: Path):
    _manifest(project, "ampmodel.model:hangs")
    argv = ["--manifest", "exports/verifier.json", *FAST, "--reference-timeout", "5"]
    done = verify_in(project, *argv, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "factory ampmodel.model:hangs did not finish within 5 s before returning a module" in done.stdout


def test_a_factory_that_raises_while_building_is_a_failing_finding(project: Path):
    _manifest(project, "ampmodel.model:raises")
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST)
    assert done.returncode == 1, done.stdout + done.stderr
    said = "raised RuntimeError: the checkpoint server is down while building the module"
    assert f"factory ampmodel.model:raises {said}" in done.stdout


def test_a_forward_that_raises_is_a_failing_finding(project: Path):
    _manifest(project, "ampmodel.model:forward_raises")
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "factory ampmodel.model:forward_raises: its module raised" in done.stdout
    assert "ValueError: forward() of a broken module" in done.stdout


def test_the_files_after_a_dying_factory_are_still_checked(project: Path):
    exports = project / "exports"
    (exports / "second.json").write_text((exports / "model.json").read_text())
    models = [
        {"name": "Dies", "file": "model.json", "factory": "ampmodel.model:underscore_exits"},
        {"name": "Good", "file": "second.json", "factory": "ampmodel.model:build"},
    ]
    (exports / "verifier.json").write_text(json.dumps({"models": models}))
    argv = ["--manifest", "exports/verifier.json", *FAST, "--format", "json"]
    done = verify_in(project, *argv)
    assert done.returncode == 1, done.stderr
    files = {Path(f["path"]).name: f["status"] for f in json.loads(done.stdout)["files"]}
    assert files == {"model.json": "fail", "second.json": "pass"}


def test_what_a_factory_prints_stays_out_of_the_report_on_stdout(project: Path):
    _manifest(project, "ampmodel.model:chatty")
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert [f["status"] for f in report["files"]] == ["pass"]
    assert "printed by the factory" in done.stderr


# --- a factory that cannot be imported: the run's configuration error --------------------------------------


@pytest.mark.parametrize(
    ("factory", "said"),
    [
        ("nomodule_xyz.models:build", "cannot import 'nomodule_xyz.models'"),
        ("ampmodel.model:no_such_factory", "'ampmodel.model' has no callable 'no_such_factory'"),
    ],
)
def test_an_unimportable_manifest_factory_exits_2_naming_the_entry(project: Path, factory, said):
    _manifest(project, factory)
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST)
    assert done.returncode == 2, done.stdout + done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1, done.stderr
    assert "/models/0/factory" in line
    assert "'Amp'" in line
    assert said in line
    assert "Traceback" not in done.stderr


def test_with_jobs_an_unimportable_factory_still_exits_2(project: Path):
    exports = project / "exports"
    (exports / "second.json").write_text((exports / "model.json").read_text())
    models = [
        {"name": "Good", "file": "model.json", "factory": "ampmodel.model:build"},
        {"name": "Bad", "file": "second.json", "factory": "nomodule_xyz:build"},
    ]
    (exports / "verifier.json").write_text(json.dumps({"models": models}))
    done = verify_in(project, "--manifest", "exports/verifier.json", *FAST, "--jobs", "2")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "/models/1/factory (model 'Bad'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unimportable_against_exits_2(project: Path):
    done = verify_in(project, "exports/model.json", "--no-manifest", "--against", "nomodule_xyz:build", *FAST)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--against nomodule_xyz:build: cannot import 'nomodule_xyz'" in done.stderr


def test_the_against_module_is_not_imported_by_the_run_itself(project: Path):
    # Importing it in the run's own process would end the run (status 4, no report) before any check.
    argv = ["exports/model.json", "--no-manifest", "--against", "ampmodel.dies_on_import:build", *FAST]
    done = verify_in(project, *argv)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ended its process with status 4 while importing its module" in done.stdout


def test_the_pytest_plugin_fails_every_item_of_a_model_with_an_unusable_factory(project: Path):
    _manifest(project, "nomodule_xyz.models:build")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = str(CHECKOUT)
    argv = ["--verify-manifest", "exports/verifier.json", "--verify-no-timing", "--verify-rss-copies", "0"]
    done = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", *argv],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "KeyError" not in done.stdout + done.stderr
    assert "configuration error: manifest" in done.stdout
    assert "cannot import 'nomodule_xyz.models'" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]  # no item of the model passed


# --- the child process, in-process ----------------------------------------------------------------------


def test_isolated_references_bring_outputs_counts_and_widths_from_the_child(project: Path):
    xs = torch.rand(8, 3, dtype=torch.float64).numpy()
    with IsolatedReferences(project, 120) as references:
        ran = references.run("ampmodel.model:build", "test", xs)
    assert isinstance(ran, ReferenceRun)
    module = _build().double()
    with torch.no_grad():
        expected = module(torch.as_tensor(xs)).numpy()
    assert ran.stream == pytest.approx(expected)
    assert ran.parameters == 3 * 5 + 5 + 5 * 2 + 2
    assert ran.widths == (5, 2)


def test_a_child_killed_mid_run_is_replaced_for_the_next_file(project: Path):
    xs = torch.rand(4, 3, dtype=torch.float64).numpy()
    with IsolatedReferences(project, 120) as references:
        died = references.run("ampmodel.model:underscore_exits", "test", xs)
        after = references.run("ampmodel.model:build", "test", xs)
    assert isinstance(died, ReferenceFailure)
    assert not died.configuration
    assert isinstance(after, ReferenceRun)


# --- the trusted in-process mode ------------------------------------------------------------------------


def test_verify_with_an_in_memory_module_runs_the_checks_in_this_process(tmp_path: Path):
    model = _build()
    export(model, tmp_path / "model.json")
    result = verifier.verify(tmp_path / "model.json", module=model, timing=False, rss_copies=0, steps=16)
    assert not result.failed
    assert result.files[0].reference["kind"] == "module"
    assert result.files[0].check("numeric-stream").status == "pass"
    assert result.files[0].check("parameters").figures["torch"] == 3 * 5 + 5 + 5 * 2 + 2


def test_verify_with_an_in_memory_module_fails_an_export_of_another_module(tmp_path: Path):
    export(_build(), tmp_path / "model.json")
    torch.manual_seed(1)
    other = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    factory = lambda: other  # noqa: E731 - a closure: no child process could import it
    result = verifier.verify([tmp_path / "model.json"], module=factory, timing=False, rss_copies=0, steps=16)
    assert result.failed
    assert result.files[0].check("numeric-frame").status == "fail"


# --- golden data and reduce run the factory in the child too ----------------------------------------------


@pytest.mark.parametrize("option", ["--save-golden", "--embed-golden"])
@pytest.mark.parametrize(
    ("factory", "said"),
    [
        ("builtins:exit", "factory builtins:exit ended its process with status 0 before returning a module"),
        ("ampmodel.model:forward_exits", "ended its process with status 3 while its module's forward() ran"),
    ],
)
def test_golden_data_from_a_factory_that_ends_its_process_is_not_written_and_fails(
    project: Path, option: str, factory: str, said: str
):
    done = verify_in(project, option, "out", "--against", factory, "exports/model.json", timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "exports/model.json: not written: " in done.stderr
    assert said in done.stderr
    assert not (project / "out").exists() or not any((project / "out").iterdir())


def test_golden_data_from_a_factory_that_hangs_is_stopped_at_the_time_limit(project: Path):
    argv = ["--save-golden", "out", "--against", "ampmodel.model:hangs", "--reference-timeout", "5"]
    done = verify_in(project, *argv, "exports/model.json", timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "factory ampmodel.model:hangs did not finish within 5 s before returning a module" in done.stderr
    assert not (project / "out" / "model").exists()


def test_golden_data_from_an_unimportable_factory_exits_2(project: Path):
    done = verify_in(
        project, "--save-golden", "out", "--against", "ampmodel.absent:build", "exports/model.json"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--against ampmodel.absent:build: cannot import 'ampmodel.absent'" in done.stderr


def test_golden_data_from_the_projects_factory_is_written_from_the_child(project: Path):
    done = verify_in(
        project, "--save-golden", "out", "--against", "ampmodel.model:build", "exports/model.json"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference=torch\n" in (project / "out" / "model" / "index.txt").read_text()


@pytest.mark.parametrize(
    ("factory", "said"),
    [
        ("builtins:exit", "factory builtins:exit ended its process with status 0 before returning a module"),
        ("ampmodel.dies_on_import:build", "ended its process with status 4 while importing its module"),
    ],
)
def test_reduce_with_a_factory_that_ends_its_process_fails_naming_it(project: Path, factory: str, said: str):
    done = verify_in(
        project, "reduce", "exports/model.json", "--against", factory, "-o", "repro", timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert said in done.stdout
    assert not (project / "repro").exists()


def test_reduce_with_a_factory_that_hangs_is_stopped_at_its_time_limit(project: Path):
    argv = ["reduce", "exports/model.json", "--against", "ampmodel.model:hangs", "-o", "repro"]
    done = verify_in(project, *argv, "--reference-timeout", "5", timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "factory ampmodel.model:hangs did not finish within 5 s before returning a module" in done.stdout


def test_reduce_with_an_unimportable_factory_exits_2(project: Path):
    argv = ["reduce", "exports/model.json", "--against", "ampmodel.absent:build", "-o", "repro"]
    done = verify_in(project, *argv)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--against ampmodel.absent:build: cannot import 'ampmodel.absent'" in done.stderr


def test_long_streams_run_the_projects_factory_in_the_child(project: Path):
    done = verify_in(
        project, "exports/model.json", "--against", "ampmodel.model:build", "--long-streams", *FAST
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   long-streams     4 streams of 2 s at 48 kHz" in done.stdout


def test_long_streams_from_a_factory_that_exits_fail_naming_it(project: Path):
    done = verify_in(project, "exports/model.json", "--against", "builtins:exit", "--long-streams", *FAST)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL long-streams" in done.stdout
