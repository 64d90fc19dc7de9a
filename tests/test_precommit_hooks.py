"""The hooks of ``.pre-commit-hooks.yaml``, run the way a user's project runs them: ``pre-commit run`` in
temporary git repositories holding good and bad model files, whose ``.pre-commit-config.yaml`` names this
checkout (as one commit) at its revision.

Every run shares one pre-commit store (``PRE_COMMIT_HOME``, removed afterwards: the verify hook's
environment holds torch, about 0.8 GB), so each hook's environment is installed once, as a user's would be,
from the package's requirements and the hook's ``additional_dependencies`` alone (each builds the engine).
The validate hook's is installed first, by a run of that hook alone, so that it can be told apart: it must
hold no torch. Every pip call is held to ``constraints/torch-cpu.txt`` (``PIP_CONSTRAINT``), so the verify
hook's torch is the pinned CPU build and no run can pull a CUDA one. Then both hooks run twice: once on a
project where everything is right, once on one where everything is wrong, and each test reads its hook's
part of the output. Without git or pre-commit the tests skip with the reason, except under CI
(``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from verifier.pytorch.export import export

ROOT = Path(__file__).resolve().parent.parent

BAD_ACTIVATION = """{
  "in_shape": [null, 4],
  "layers": [
    {"type": "dense", "activation": "linear",
     "shape": [null, 2],
     "weights": [[[1, 2], [3, 4], [5, 6], [7, 8]], [0, 0]]}
  ]
}
"""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (pip install pre-commit; apt-get install git)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; under CI the pre-commit hooks must be tested", pytrace=False)
        pytest.skip(reason)
    return found


def _manifest(parameters: int) -> dict:
    # a short latency measurement: the hook's verdict is what is tested here, not the figure
    return {
        "latency": {"steps": 50, "warmup": 5},
        "models": [{"name": "Small", "file": "good.json", "parameters": parameters}],
    }


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=test@example.invalid", "-c", "user.name=test", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _hook_verdict(output: str, hook: str) -> str:
    match = re.search(rf"^{hook} \(.*?\)\.+(\w+)", output, re.MULTILINE)
    assert match is not None, output
    return match.group(1)


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory) -> Path:
    """This checkout as one commit: HEAD plus the uncommitted changes to tracked files (in CI's clean clone,
    HEAD itself): the revision the projects' configurations name, so the hooks under test are this tree's."""
    _tool("git")
    snapshot = tmp_path_factory.mktemp("hooks-repo") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(snapshot)], check=True, capture_output=True)
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    if diff.strip():
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=snapshot, input=diff, check=True)
        _git(snapshot, "commit", "-qam", "uncommitted changes of the checkout under test")
    return snapshot


def _commit(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Path]:
    """pre-commit's store (``PRE_COMMIT_HOME``) for every run here: each hook environment installed once."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    yield home
    shutil.rmtree(home, ignore_errors=True)  # pytest keeps its last temporary folders: not a GB each


def _pre_commit(store: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    pre_commit = _tool("pre-commit")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(store),
        "PIP_CONSTRAINT": str(ROOT / "constraints" / "torch-cpu.txt"),
    }
    # the environments get what a user's get: no packages of the interpreter pre-commit runs under
    env.pop("VIRTUALENV_SYSTEM_SITE_PACKAGES", None)
    return subprocess.run(
        [pre_commit, "run", "--verbose", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _project(root: Path, hooks_repo: Path, *, parameters: int, bad: bool) -> Path:
    _tool("git")
    torch.manual_seed(5)
    export(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), root / "good.json")
    if bad:
        (root / "bad.json").write_text(BAD_ACTIVATION)
    (root / "notes.txt").write_text("{ not json, and not for the validate hook")
    (root / "verifier.json").write_text(json.dumps(_manifest(parameters)))
    hooks = [{"id": "rtneural-validate"}, {"id": "rtneural-verify"}]
    config = {"repos": [{"repo": str(hooks_repo), "rev": _commit(hooks_repo), "hooks": hooks}]}
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "models")
    return root


@pytest.fixture(scope="module")
def validate_only(tmp_path_factory, hooks_repo, store) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The validate hook alone, which installs its environment (and only its); and that environment."""
    project = _project(tmp_path_factory.mktemp("validate-project"), hooks_repo, parameters=58, bad=False)
    done = _pre_commit(store, project, "rtneural-validate", "--files", "good.json")
    environments = list(store.glob("repo*/py_env-*"))
    assert len(environments) == 1, (environments, done.stdout + done.stderr)
    return done, environments[0]


@pytest.fixture(scope="module")
def right(tmp_path_factory, hooks_repo, store, validate_only) -> subprocess.CompletedProcess[str]:
    """Both hooks on a project with a good export and a true manifest (58 parameters)."""
    project = _project(tmp_path_factory.mktemp("right-project"), hooks_repo, parameters=58, bad=False)
    return _pre_commit(store, project, "--files", "good.json", "notes.txt")


@pytest.fixture(scope="module")
def wrong(tmp_path_factory, hooks_repo, store, validate_only) -> subprocess.CompletedProcess[str]:
    """Both hooks on a project with a bad export and a manifest declaring a wrong parameter count."""
    project = _project(tmp_path_factory.mktemp("wrong-project"), hooks_repo, parameters=99, bad=True)
    return _pre_commit(store, project, "--files", "good.json", "bad.json")


def test_validate_hook_installs_and_runs_without_torch(validate_only):
    done, environment = validate_only
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hook_verdict(done.stdout, "rtneural-validate") == "Passed"
    assert "good.json: ok" in done.stdout
    find_torch = "import importlib.util as u; print(u.find_spec('torch'))"
    probe = subprocess.run(
        [str(environment / "bin" / "python"), "-c", find_torch],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert probe.stdout.strip() == "None", f"torch in the validate hook's environment: {probe.stdout}"


def test_both_hooks_pass_a_good_project(right):
    assert right.returncode == 0, right.stdout + right.stderr
    assert _hook_verdict(right.stdout, "rtneural-validate") == "Passed"
    assert _hook_verdict(right.stdout, "rtneural-verify") == "Passed"


def test_validate_hook_passes_a_good_file_and_skips_what_is_not_json(right):
    assert "good.json: ok" in right.stdout
    assert "notes.txt" not in right.stdout  # a non-JSON file would be an RTN-E004 finding


def test_verify_hook_checks_the_manifest_models(right):
    # its numeric checks ran: the hook's additional_dependencies (the torch extra) brought torch
    assert "good.json (Small): ok" in right.stdout


def test_validate_hook_fails_a_bad_file_at_its_line_and_column(wrong):
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert _hook_verdict(wrong.stdout, "rtneural-validate") == "Failed"
    assert "bad.json:4:23: error: RTN-E106" in wrong.stdout


def test_verify_hook_fails_when_a_declared_figure_is_wrong(wrong):
    assert _hook_verdict(wrong.stdout, "rtneural-verify") == "Failed"
    assert "FAIL parameters" in wrong.stdout
