"""The hooks of ``.pre-commit-hooks.yaml``, run the way a user's project runs them: ``pre-commit try-repo``
on this checkout from a temporary git repository holding a good and a bad model file.

pre-commit installs the package into a fresh environment (it builds the engine: about a minute, once per
session). The environment sees the base interpreter's packages (``VIRTUALENV_SYSTEM_SITE_PACKAGES``) so that
torch is taken from there, never downloaded. Without git or pre-commit the tests skip with the reason,
except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
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


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A git repository with a good export, a bad one, and a manifest for the good one."""
    _tool("git")
    repo = tmp_path_factory.mktemp("user-project")
    torch.manual_seed(5)
    export(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), repo / "good.json")
    (repo / "bad.json").write_text(BAD_ACTIVATION)
    (repo / "verifier.json").write_text(json.dumps(_manifest(parameters=58)))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "models")
    return repo


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory) -> Path:
    """This checkout as one commit: HEAD plus the uncommitted changes to tracked files.

    ``try-repo`` on a checkout with uncommitted changes makes a new shadow commit on every call, and so a new
    hook environment (an engine build) each time; one snapshot commit gets one environment for the module.
    In CI's clean clone the snapshot is HEAD itself.
    """
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


@pytest.fixture(scope="module")
def try_repo(tmp_path_factory, hooks_repo):
    pre_commit = _tool("pre-commit")
    home = tmp_path_factory.mktemp("pre-commit-home")  # the hook environment, built once per module
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "VIRTUALENV_SYSTEM_SITE_PACKAGES": "1",
        "PIP_CONSTRAINT": str(ROOT / "constraints" / "torch-cpu.txt"),
    }

    def run(repo: Path, hook: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(hooks_repo), hook, "--verbose", *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )

    return run


def test_validate_hook_passes_a_good_file(project, try_repo):
    done = try_repo(project, "rtneural-validate", "--files", "good.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "good.json: ok" in done.stdout


def test_validate_hook_fails_a_bad_file_at_its_line_and_column(project, try_repo):
    done = try_repo(project, "rtneural-validate", "--files", "good.json", "bad.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.json:4:23: RTN-E106" in done.stdout


def test_validate_hook_runs_on_json_files_only(project, try_repo):
    (project / "notes.txt").write_text("{ not json")
    done = try_repo(project, "rtneural-validate", "--files", "notes.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no files to check" in done.stdout.lower()


def test_verify_hook_checks_the_manifest_models(project, try_repo):
    done = try_repo(project, "rtneural-verify", "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "good.json (Small): ok" in done.stdout


def test_verify_hook_fails_when_a_declared_figure_is_wrong(project, try_repo):
    manifest = project / "verifier.json"
    manifest.write_text(json.dumps(_manifest(parameters=99)))
    try:
        done = try_repo(project, "rtneural-verify", "--all-files")
    finally:
        _git(project, "checkout", "--", "verifier.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL parameters" in done.stdout
