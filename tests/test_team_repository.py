"""The first try in a team's own repository, end to end (issue 21): a throwaway training repository with its
own package (``ampmodel``), its manifest at the root, its settings in ``pyproject.toml``, and ``verify`` run
from its root as the installed command runs it, with nothing of the repository on the import path.

A good export passes (exit 0); the same export with the GRU's gate blocks left in PyTorch's order fails
(exit 1), naming the layer and the likely cause, and GitHub's annotation sits on the line where that layer
starts. (The hooks run through pre-commit in tests/test_precommit_hooks.py, the pytest plugin under xdist in
tests/test_pytest_plugin.py.)
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
from verifier.pytorch.export import document_bytes, export
from verifier.testing.mistakes import corrupt

# The verifier under test (the installed package under tox, the source tree when PYTHONPATH points at it).
CHECKOUT = Path(verifier.__file__).resolve().parents[1]

MODEL = """
import torch
from torch import nn


def build():
    torch.manual_seed(6)
    return nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 6, batch_first=True), nn.Linear(6, 2)).eval()
"""
PYPROJECT = """
[project]
name = "ampmodel"
version = "0.1"

[tool.verifier]
steps = 32
no-timing = true
rss-copies = 0
"""


def _module() -> nn.Module:
    torch.manual_seed(6)
    return nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 6, batch_first=True), nn.Linear(6, 2)).eval()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "amp-training"
    (root / "ampmodel").mkdir(parents=True)
    (root / "ampmodel" / "__init__.py").write_text("")
    (root / "ampmodel" / "model.py").write_text(MODEL)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "exports").mkdir()
    (root / "exports" / "amp.json").write_bytes(document_bytes(export(_module())))
    manifest = {"models": [{"name": "Amp", "file": "exports/amp.json", "factory": "ampmodel.model:build"}]}
    (root / "verifier.json").write_text(json.dumps(manifest))
    subprocess.run(["git", "init", "-q", str(root)], check=False, capture_output=True)
    return root


def _verify(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``verify`` from the repository's root: the verifier importable, the repository not on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env["PYTHONPATH"] = str(CHECKOUT)
    return subprocess.run(
        [sys.executable, "-P", "-m", "verifier", *argv],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_a_good_export_passes_from_the_repositorys_root_with_its_own_package_and_settings(repository):
    done = _verify(repository)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "timing disabled" in done.stdout  # the table's no-timing = true was read


def test_gates_left_in_pytorchs_order_fail_naming_the_layer_and_the_likely_cause_at_its_line(repository):
    path = repository / "exports" / "amp.json"
    path.write_bytes(document_bytes(corrupt(export(_module()), "gru_gates_not_reordered", 1)))
    done = _verify(repository, "--format", "github")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    cause = "likely cause: GRU gate blocks in PyTorch's order (r, z, n)"
    assert cause in done.stdout
    line = next(
        i
        for i, text in enumerate(path.read_text().splitlines(), 1)
        if '"type":"gru"' in text.replace(" ", "")
    )
    stream = [a for a in done.stdout.splitlines() if "title=verify/numeric-stream" in a]
    assert stream, done.stdout[-3000:]
    assert f"file=exports/amp.json,line={line}," in stream[0]
    assert "/layers/1" in stream[0]
