"""Golden bundles of GuitarML state_dict files, checked in C++ through a Proteus-style hand loader
(tests/cpp/proteus_adapter.h, shown in docs/golden.md) on the real RTNeural: the plugin's own loader, not a
conversion of ours, is what the bundle holds to PyTorch.

Without a C++ toolchain or ``RTNEURAL_DIR`` the C++ tests skip, except under ``CI=true`` where that is a
failure (tests/cpp_build.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")

from cpp_build import ROOT, build_test_programs, skip_or_fail, toolchain_or_skip
from test_state_dict import CASES, guitarml

from verifier.cli import main


@pytest.fixture(scope="module")
def check_proteus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toolchain_or_skip()
    rtneural = os.environ.get("RTNEURAL_DIR")
    if not rtneural:
        skip_or_fail("RTNEURAL_DIR is not set: the hand loader is not built against the real RTNeural")
    build = tmp_path_factory.mktemp("proteus")
    build_test_programs(
        build, "-DCMAKE_BUILD_TYPE=Release", f"-DRTNEURAL_DIR={rtneural}", target="check_proteus"
    )
    return build / "check_proteus"


def _bundle(tmp_path: Path, unit: str, inputs: int, hidden: int, skip: int) -> tuple[Path, Path]:
    """A state_dict file written from seeded torch modules and its bundle from ``verify --save-golden``."""
    model = tmp_path / f"{unit}-{inputs}-{hidden}.json"
    model.write_text(json.dumps(guitarml(unit, inputs, hidden, skip)))
    assert main([str(model), "--save-golden", str(tmp_path / "golden")]) == 0
    return model, tmp_path / "golden" / model.stem


def _run(program: Path, unit: str, inputs: int, hidden: int, model: Path, bundle: Path, *mistake: str):
    command = [str(program), unit.lower(), str(inputs), str(hidden), str(model), str(bundle), *mistake]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode in (0, 1), f"check_proteus could not run: {done.stderr}"
    return done.returncode, dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


@pytest.mark.parametrize(("unit", "inputs", "hidden", "skip"), CASES)
def test_a_proteus_style_hand_loader_passes_the_state_dict_bundle(
    check_proteus, tmp_path, unit, inputs, hidden, skip
):
    model, bundle = _bundle(tmp_path, unit, inputs, hidden, skip)
    code, fields = _run(check_proteus, unit, inputs, hidden, model, bundle)
    assert code == 0, fields["message"]
    assert fields["heap_bytes_run"] == "0"


@pytest.mark.parametrize(
    ("unit", "skip", "mistake"),
    [
        ("LSTM", 1, "unsummed-bias"),
        ("GRU", 1, "unsummed-bias"),
        ("GRU", 0, "unswapped-gates"),
        ("LSTM", 1, "no-skip"),
    ],
)
def test_a_hand_loader_mistake_fails_the_state_dict_bundle(check_proteus, tmp_path, unit, skip, mistake):
    model, bundle = _bundle(tmp_path, unit, 1, 20, skip)
    code, fields = _run(check_proteus, unit, 1, 20, model, bundle, mistake)
    assert code == 1
    assert int(fields["failing_elements"]) > 0
    assert "worst at pattern" in fields["message"]


def test_the_adapter_docs_golden_md_shows_is_the_one_the_tests_compile():
    doc = (ROOT / "docs" / "golden.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```cpp\n(.*?)```", doc, flags=re.DOTALL)
    header = (ROOT / "tests" / "cpp" / "proteus_adapter.h").read_text(encoding="utf-8")
    body = header.split("#pragma once\n", 1)[1].strip()
    assert any(block.strip() == body for block in blocks)
