"""The engine's numbers do not depend on the dispatch level: each level this CPU supports is forced in turn
(RTV_DISPATCH, read once when the module loads, so one child process per level) on the corpus's keras-json
cases and on seeded generated models, and every output must be byte for byte the baseline level's.
A level this CPU lacks is skipped with the reason, never passed.

The one allowance is a NaN's sign and payload: where two NaNs meet (inf - inf in a sum, then an
activation), which one an instruction passes on depends on the operand order the compiler chose for that
level (IEEE 754 leaves it open). Every NaN is compared as "a NaN here", every other value by its bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import _verifier_engine as _engine
import corpus
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
LEVELS = _engine.simd_levels()  # best first; the last is the baseline every CPU of the build runs
BASELINE = LEVELS[-1][0]
VARIABLE = _engine.DISPATCH_VARIABLE


def _run(level: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, VARIABLE: level}
    command = [sys.executable, str(HERE / "dispatch_outputs.py"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)


def _outputs(level: str, tmp: Path, *args: str) -> dict[str, np.ndarray]:
    out = tmp / f"{level}.npz"
    done = _run(level, *args, str(out))
    assert done.returncode == 0, done.stderr
    with np.load(out) as saved:
        arrays = {name: saved[name] for name in saved.files}
    assert str(arrays.pop("level")) == level, "the child did not run the level it was asked for"
    return arrays


def _canonical(array: np.ndarray) -> bytes:
    return np.where(np.isnan(array), array.dtype.type(np.nan), array).tobytes()


def _assert_same_bytes(level: str, got: dict[str, np.ndarray], baseline: dict[str, np.ndarray]) -> None:
    assert got.keys() == baseline.keys()
    differing = [name for name in baseline if _canonical(got[name]) != _canonical(baseline[name])]
    assert not differing, f"{level} differs from {BASELINE} in {len(differing)} outputs: {differing[:10]}"


def _require(level: str, supported: bool) -> None:
    if len(LEVELS) == 1:
        pytest.skip(f"this build has one level ({BASELINE}): nothing to compare it with")
    if not supported:
        pytest.skip(f"this CPU does not run {level}: its bytes are not compared here")


def _level_params() -> list:
    # Every level but the baseline, which is what they are compared with.
    return [pytest.param(name, supported, id=name) for name, supported in LEVELS[:-1]] or [
        pytest.param(BASELINE, True, id=BASELINE)
    ]


@pytest.fixture(scope="module")
def corpus_baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    root = corpus.require_corpus()
    return _outputs(BASELINE, tmp_path_factory.mktemp("corpus"), "corpus", str(root))


@pytest.fixture(scope="module")
def generated_baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    return _outputs(BASELINE, tmp_path_factory.mktemp("generated"), "generated")


@pytest.mark.parametrize(("level", "supported"), _level_params())
def test_corpus_outputs_are_byte_identical_on_every_level(level, supported, corpus_baseline, tmp_path):
    _require(level, supported)
    got = _outputs(level, tmp_path, "corpus", str(corpus.require_corpus()))
    assert len(got) >= 16  # 8 keras-json cases x 2 types
    _assert_same_bytes(level, got, corpus_baseline)


@pytest.mark.parametrize(("level", "supported"), _level_params())
def test_generated_model_outputs_are_byte_identical_on_every_level(
    level, supported, generated_baseline, tmp_path
):
    _require(level, supported)
    got = _outputs(level, tmp_path, "generated")
    _assert_same_bytes(level, got, generated_baseline)


def test_the_generated_models_reach_saturation_overflow_and_every_vector_tail(generated_baseline):
    # The comparison above has teeth only if the outputs are not trivially equal: distinct widths and
    # non-finite results from the extreme inputs are both present.
    widths = {array.shape[1] for array in generated_baseline.values()}
    assert {1, 3, 5, 9, 17, 33, 65, 100} <= widths
    assert any(not np.isfinite(array).all() for array in generated_baseline.values())
    assert all(np.isfinite(array[:24]).all() for name, array in generated_baseline.items() if "dense" in name)


def test_without_the_variable_the_best_supported_level_runs():
    if os.environ.get(VARIABLE):
        pytest.skip(f"{VARIABLE} is set in this environment")
    assert _engine.simd_level() == next(name for name, supported in LEVELS if supported)


@pytest.mark.parametrize("asked", ["x86-64-v9", "avx2"])
def test_a_level_the_build_lacks_fails_the_import_naming_it(asked):
    done = subprocess.run(
        [sys.executable, "-c", "import _verifier_engine"],
        env={**os.environ, VARIABLE: asked},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert f"ImportError: {VARIABLE}={asked}: not a level of this build" in done.stderr
