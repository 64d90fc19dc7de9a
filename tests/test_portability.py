"""The engine without Python, on other ISAs and vector layers: native/selftest (the reader, loader and kernels
with a main, no pybind11) is built with CMake for this machine; for this machine as MSVC builds it (one
"portable" level on the plain-lanes vector layer: RTV_PORTABLE_VECTORS); and cross-compiled for aarch64
(static, Debian's g++-aarch64-linux-gnu) and run under qemu-aarch64. Each must pass every keras-json corpus
case at RTNeural's tolerance, and all three must produce the same output bytes.

The tools are test-only: missing, these tests skip with the reason, except under CI (CI=true), where a
missing tool is a failure (.ci/run installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import corpus
import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "native" / "selftest"
SUMMARY = re.compile(r"simd level (\S+); cases passed (\d+)/(\d+); worst error (\S+)")
CROSS = "aarch64-linux-gnu-g++"
QEMU = "qemu-aarch64"


def _need(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"needs {', '.join(missing)} on PATH (Debian: cmake g++-aarch64-linux-gnu qemu-user)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI a missing tool is a failure", pytrace=False)
    pytest.skip(reason)


def _build(where: Path, *options: str) -> Path:
    configure = ["cmake", "-S", str(SOURCE), "-B", str(where), "-DCMAKE_BUILD_TYPE=Release", *options]
    for command in (configure, ["cmake", "--build", str(where), "-j", "2"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return where / "rtv_selftest"


@dataclass(frozen=True)
class Run:
    done: subprocess.CompletedProcess[str]
    summary: re.Match[str] | None
    dump: Path


def _run(command: list[str], root: Path, dump: Path) -> Run:
    done = subprocess.run(
        [*command, str(root), "--dump", str(dump)], capture_output=True, text=True, timeout=600, check=False
    )
    return Run(done, SUMMARY.search(done.stdout), dump)


# One build and one corpus run per kind, shared by the tests of the module (each xdist worker makes its own).
@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("selftest")


@pytest.fixture(scope="module")
def native(builds: Path) -> Path:
    _need("cmake")
    return _build(builds / "native")


@pytest.fixture(scope="module")
def native_run(native: Path, builds: Path) -> Run:
    return _run([str(native)], corpus.require_corpus(), builds / "native.bin")


@pytest.fixture(scope="module")
def aarch64_run(builds: Path) -> Run:
    _need("cmake", CROSS, QEMU)
    binary = _build(
        builds / "aarch64",
        "-DCMAKE_SYSTEM_NAME=Linux",
        "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
        f"-DCMAKE_CXX_COMPILER={CROSS}",
        "-DCMAKE_EXE_LINKER_FLAGS=-static",
    )
    return _run([QEMU, str(binary)], corpus.require_corpus(), builds / "aarch64.bin")


@pytest.fixture(scope="module")
def lanes_run(builds: Path) -> Run:
    _need("cmake")
    binary = _build(builds / "lanes", "-DRTV_PORTABLE_VECTORS=ON")
    return _run([str(binary)], corpus.require_corpus(), builds / "lanes.bin")


def _passes_every_case(run: Run, record_property) -> str:
    assert run.summary is not None, run.done.stdout + run.done.stderr
    level, passed, total, _worst = run.summary.groups()
    print(run.done.stdout)
    record_property("selftest", run.summary.group(0))
    keras = [c for c in corpus.manifest()["cases"] if c["format"] == "keras-json" and c["expected"]]
    assert int(total) == sum(len(c["numeric_types"]) for c in keras)
    assert passed == total, run.done.stdout
    assert run.done.returncode == 0
    return level


def test_selftest_passes_every_corpus_case_natively(native_run, record_property):
    _passes_every_case(native_run, record_property)


def test_selftest_passes_every_corpus_case_on_aarch64_under_qemu(aarch64_run, record_property):
    assert _passes_every_case(aarch64_run, record_property) == "portable"


def test_plain_lanes_vector_layer_passes_every_corpus_case(lanes_run, record_property):
    assert _passes_every_case(lanes_run, record_property) == "portable"


def test_aarch64_gives_the_native_builds_output_bytes(aarch64_run, native_run):
    assert native_run.dump.stat().st_size > 0
    assert aarch64_run.dump.read_bytes() == native_run.dump.read_bytes()


def test_plain_lanes_give_the_native_builds_output_bytes(lanes_run, native_run):
    assert native_run.dump.stat().st_size > 0
    assert lanes_run.dump.read_bytes() == native_run.dump.read_bytes()


def test_engine_was_built_by_the_compiler_the_environment_names():
    # tox -e portability builds with Clang: a GCC module there would pass the suite for the wrong compiler.
    expected = os.environ.get("RTV_EXPECT_COMPILER")
    if not expected:
        pytest.skip("RTV_EXPECT_COMPILER is not set (tox -e portability sets it to clang)")
    import _verifier_engine

    assert _verifier_engine.COMPILER.startswith(expected + " ")


def test_selftest_fails_a_case_beyond_its_tolerance(native, tmp_path):
    # The corpus with every tolerance made impossibly small: in a temporary folder, data linked, not copied.
    root = corpus.require_corpus()
    manifest = json.loads((root / "manifest.json").read_text())
    for case in manifest["cases"]:
        case["tolerance"]["abs"] = 1e-300
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    for folder in ("models", "test_data"):
        (tmp_path / folder).symlink_to(root / folder)
    run = _run([str(native)], tmp_path, tmp_path / "dump.bin")
    assert run.summary is not None, run.done.stdout + run.done.stderr
    assert int(run.summary.group(2)) < int(run.summary.group(3))
    assert run.done.returncode == 1
    assert "FAIL keras_dense (double)" in run.done.stdout
