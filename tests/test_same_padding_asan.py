"""The real RTNeural, built with AddressSanitizer, is clean exactly where rule RTN-E207 lets a file through.

tests/rtneural_probes/conv2d_same.cpp runs one frame through RTNeural's own dynamic Conv2D ("same" padding),
compiled here against the headers of ``RTNEURAL_DIR`` with ``-fsanitize=address`` for its STL backend and,
when the checkout vendors Eigen, its Eigen backend (``NDEBUG``, as a plugin's release build: Eigen's own
asserts would otherwise stop the run before the read). The xsimd backend is left out: its dynamic stateless
convolution does not compile against the xsimd RTNeural vendors (``xsimd::reduce`` over a vector's
iterators); its loops index the frame as the STL ones do. Every (features, kernel, stride) with features,
kernel <= 6 and stride <= 3 runs once per backend; where the run is clean its outputs are compared with the
zero-padded convolution.

Without ``RTNEURAL_DIR`` or a C++ compiler that links AddressSanitizer these tests skip, except under
``CI=true`` where that is a failure (.ci/run points ``RTNEURAL_DIR`` at ../shared/rtneural; RTNeural is never
vendored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from same_padding_sim import columns, triples

from verifier.format.same_padding import rtneural_reads_outside_frame, same_pad_left

PROBE = Path(__file__).resolve().parent / "rtneural_probes" / "conv2d_same.cpp"
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("stl", "eigen")


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI that is a failure", pytrace=False)
    pytest.skip(reason)


def _compiler() -> str:
    for cxx in (os.environ.get("CXX", ""), "c++", "g++", "clang++"):
        if cxx and shutil.which(cxx):
            return cxx
    _skip_or_fail("no C++ compiler to build the AddressSanitizer probe")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rtneural = os.environ.get("RTNEURAL_DIR")
    if not rtneural:
        _skip_or_fail("RTNEURAL_DIR is not set: RTNeural is not run under AddressSanitizer")
    cxx = _compiler()
    build = tmp_path_factory.mktemp("asan-probe")
    asan = subprocess.run(
        [cxx, "-fsanitize=address", "-x", "c++", "-", "-o", str(build / "asan-check")],
        input="int main() { return 0; }\n",
        capture_output=True,
        text=True,
    )
    if asan.returncode != 0:
        _skip_or_fail(f"{cxx} cannot link AddressSanitizer: {asan.stderr.strip()[-300:]}")
    common = [
        cxx,
        "-std=c++17",
        "-O1",
        "-g",
        "-DNDEBUG",
        "-fsanitize=address",
        "-fno-omit-frame-pointer",
        "-DRTNEURAL_NAMESPACE=RTNeural",
        "-DRTNEURAL_DEFAULT_ALIGNMENT=16",
        "-isystem",
        rtneural,
    ]
    flags = {"stl": []}
    if (Path(rtneural) / "modules" / "Eigen" / "Eigen" / "Dense").exists():
        flags["eigen"] = ["-DRTNEURAL_USE_EIGEN=1", "-isystem", str(Path(rtneural) / "modules" / "Eigen")]
    built = {}
    for backend, extra in flags.items():
        program = build / f"conv2d_same_{backend}"
        done = subprocess.run(
            [*common, *extra, str(PROBE), "-o", str(program)], capture_output=True, text=True
        )
        assert done.returncode == 0, f"building the {backend} probe failed:\n{done.stderr[-4000:]}"
        built[backend] = program
    return built


def _zero_padded(frame: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    left = same_pad_left(len(frame), len(kernel), stride)
    padded = np.concatenate([np.zeros(left), frame, np.zeros(len(kernel))])
    return np.array(
        [padded[j * stride : j * stride + len(kernel)] @ kernel for j in range(columns(len(frame), stride))]
    )


@pytest.mark.rtneural
@pytest.mark.parametrize("backend", BACKENDS)
def test_rtneural_under_asan_is_clean_exactly_where_e207_lets_the_file_through(probes, backend):
    if backend not in probes:
        pytest.skip(f"{backend}: the RTNeural checkout has no modules/Eigen")
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"}
    rng = np.random.default_rng(3)
    wrong = []
    for features, kernel, stride in triples(6, 6, 3):
        frame = np.round(rng.uniform(-1, 1, features), 3)
        weights = np.round(rng.uniform(-1, 1, kernel), 3)
        run = subprocess.run(
            [
                str(probes[backend]),
                str(features),
                str(kernel),
                str(stride),
                *map(str, frame),
                *map(str, weights),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        clean = run.returncode == 0 and "AddressSanitizer" not in run.stderr
        if clean == rtneural_reads_outside_frame(features, kernel, stride):
            wrong.append((features, kernel, stride, "clean" if clean else run.stderr.strip()[:200]))
        elif clean:
            outputs = np.array([float(v) for v in run.stdout.split()])
            if not np.allclose(outputs, _zero_padded(frame, weights, stride), rtol=0, atol=1e-5):
                wrong.append((features, kernel, stride, f"outputs {outputs.tolist()}"))
    assert wrong == []
