"""Building the C++ golden checker's test programs (tests/cpp/) with CMake, through the package's own
``find_package(rtneural_verifier CONFIG)``, as a plugin builds them.

Shared by tests/test_golden_cpp.py and tests/test_golden_cpp_bundles.py. Without a C++ compiler or CMake the
tests that build skip, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def compiler() -> str | None:
    """The C++ compiler CMake would pick first: $CXX, else c++, g++, clang++."""
    return next(
        (c for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c and shutil.which(c)), None
    )


def toolchain_or_skip() -> None:
    missing = [tool for tool in ("cmake",) if shutil.which(tool) is None]
    if compiler() is None:
        missing.append("a C++ compiler")
    if missing:
        skip_or_fail(f"no {' and no '.join(missing)} to build the C++ checker's test program")


def rtneural_toolchain() -> tuple[str, Path]:
    """(C++ compiler, RTNeural checkout in $RTNEURAL_DIR) to compile ModelT types against, or skip (fail
    under CI)."""
    cxx = compiler()
    root = os.environ.get("RTNEURAL_DIR")
    if cxx is None or not root or not (Path(root) / "RTNeural" / "ModelT.h").is_file():
        skip_or_fail(
            "no C++ compiler or no RTNeural checkout in $RTNEURAL_DIR to compile ModelT types against"
        )
    assert cxx is not None
    assert root
    return cxx, Path(root)


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI that is a failure", pytrace=False)
    pytest.skip(reason)


def cmake_dir() -> str:
    """``python -m verifier.cpp --cmakedir``: where find_package(rtneural_verifier) looks."""
    return subprocess.run(
        [sys.executable, "-m", "verifier.cpp", "--cmakedir"], capture_output=True, text=True, check=True
    ).stdout.strip()


def build_test_programs(build: Path, *options: str, target: str | None = None) -> None:
    """Configures tests/cpp in *build* with the CMake *options* and builds it (only *target* when given)."""
    configure = [
        "cmake",
        "-S",
        str(ROOT / "tests" / "cpp"),
        "-B",
        str(build),
        f"-Drtneural_verifier_DIR={cmake_dir()}",
        f"-DVERIFIER_NATIVE_DIR={ROOT / 'native'}",
        *options,
    ]
    compile_ = ["cmake", "--build", str(build), "--parallel", "2", *(["--target", target] if target else [])]
    for command in (configure, compile_):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, (
            f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
