"""The side-by-side speed benchmark times what is verified: each of its C++ workers computes the engine's
outputs on the five production models, and a bad command gets an error line, not a crash.

One RTNeural build (plain Eigen, the dynamic model and the ModelT) and the engine worker are compiled, about
a minute on 2 cores; later runs reuse them (build/bench-workers/). Without RTNEURAL_DIR, a compiler or CMake
the tests skip, except under CI=true where that is a failure (tests/cpp_build.py). The statistical rule of
tests/bench/side_by_side.py is pinned here too, on figures worked out by hand.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cpp_build import skip_or_fail
from timing_workers import (
    ROOT,
    RTNeuralBuild,
    Worker,
    WorkerError,
    build_engine_worker,
    build_rtneural_worker,
    compiler,
    engine_arguments,
)

import verifier

sys.path.insert(0, str(ROOT / "tests" / "bench"))
from side_by_side import (
    Campaign,
    Runtime,
    campaign_from_json,
    main,
    paired_ratio,
    production_models,
    report,
)

MANIFEST = json.loads((ROOT / "fixtures" / "production" / "manifest.json").read_text())
ATOL = MANIFEST["tolerance"]["float32"]["atol"]
STEPS = 12


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    return production_models(tmp_path_factory.mktemp("production"))


def _rtneural_dir() -> Path:
    named = os.environ.get("RTNEURAL_DIR")
    if not named or not (Path(named) / "RTNeural" / "RTNeural.h").is_file():
        skip_or_fail(
            f"RTNEURAL_DIR={named!r} names no RTNeural checkout to build the benchmark's worker from"
        )
    return Path(str(named))


def _toolchain() -> None:
    import shutil

    if compiler() is None or shutil.which("cmake") is None:
        skip_or_fail("no C++ compiler or no cmake to build the benchmark's timing workers")


@pytest.fixture(scope="module")
def rtneural_worker(models: list[tuple[str, Path]]) -> Iterator[Worker]:
    _toolchain()
    program = build_rtneural_worker(RTNeuralBuild("eigen", avx=False), _rtneural_dir(), models)
    with Worker(program, [f"{name}={path}" for name, path in models]) as worker:
        yield worker


@pytest.fixture(scope="module")
def engine_worker(models: list[tuple[str, Path]]) -> Iterator[Worker]:
    _toolchain()
    program = build_engine_worker(ROOT / "native")
    with Worker(program, [*engine_arguments(), *(f"{name}={path}" for name, path in models)]) as worker:
        yield worker


def _inputs(tmp_path: Path, name: str, width: int) -> tuple[np.ndarray, Path]:
    xs = np.random.default_rng(26).uniform(-1.0, 1.0, (STEPS, width)).astype(np.float32)
    path = tmp_path / f"{name}.f32"
    path.write_bytes(xs.astype("<f4").tobytes())
    return xs, path


@pytest.mark.parametrize("pattern", ["stream", "frame"])
def test_the_timed_rtneural_models_compute_the_engines_outputs_within_the_manifest_tolerance(
    rtneural_worker: Worker, models: list[tuple[str, Path]], pattern: str, tmp_path: Path
) -> None:
    for name, path in models:
        engine = verifier.load(path, dtype="float32")
        xs, inputs = _inputs(tmp_path, name, engine.in_size)
        expected = (engine.run_frames(xs) if pattern == "frame" else engine.run(xs)).ravel()
        for kind in ("dynamic", "modelt"):
            found = np.array(rtneural_worker.run(name, kind, pattern, inputs), dtype=np.float32)
            assert found.shape == expected.shape, (name, kind)
            worst = float(np.max(np.abs(found - expected)))
            assert worst <= ATOL, f"{name} {kind} {pattern}: {worst:.3g} from the engine (atol {ATOL})"


@pytest.mark.parametrize("pattern", ["stream", "frame"])
def test_the_timed_engine_is_bit_identical_to_the_verified_module(
    engine_worker: Worker, models: list[tuple[str, Path]], pattern: str, tmp_path: Path
) -> None:
    for name, path in models:
        engine = verifier.load(path, dtype="float32")
        xs, inputs = _inputs(tmp_path, name, engine.in_size)
        expected = (engine.run_frames(xs) if pattern == "frame" else engine.run(xs)).ravel()
        found = np.array(engine_worker.run(name, "engine", pattern, inputs), dtype=np.float32)
        assert found.tobytes() == expected.astype(np.float32).tobytes(), f"{name} {pattern}"


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("bogus", "unknown command 'bogus'"),
        ("time NoSuchModel dynamic stream 10 1 0", "no model 'NoSuchModel' of kind 'dynamic'"),
        ("time DynamicsEngine engine stream 10 1 0", "of kind 'engine'"),
        ("time DynamicsEngine modelt sideways 10 1 0", "PATTERN must be stream, frame or silence"),
        ("time DynamicsEngine modelt frame 10 64 0", "BLOCK must be 1"),
        ("time DynamicsEngine modelt stream -5 1 0", "SAMPLES must be a whole number"),
        ("time DynamicsEngine modelt stream 99999999999 1 0", "SAMPLES must be in [1, 100000]"),
        ("time DynamicsEngine modelt stream 10 1 2", "FTZ must be in [0, 1]"),
        ("run DynamicsEngine dynamic stream /nonexistent/inputs.f32", "cannot open input file"),
        (
            "run DynamicsEngine dynamic stream /dev/null",
            "cannot open input file '/dev/null': not a regular file",
        ),
        ("run DynamicsEngine dynamic stream {empty}", "must hold whole rows of 32 float32 values"),
        ("", "empty command"),
    ],
)
def test_a_bad_command_gets_an_error_line_and_the_worker_goes_on(
    rtneural_worker: Worker, command: str, says: str, tmp_path: Path
) -> None:
    (tmp_path / "empty.f32").write_bytes(b"")
    with pytest.raises(WorkerError) as refused:
        rtneural_worker.ask(command.format(empty=tmp_path / "empty.f32"))
    assert says in str(refused.value)
    assert len(rtneural_worker.ask("info")["models"]) == 10


def test_a_model_file_the_worker_cannot_read_is_named_in_its_error(tmp_path: Path) -> None:
    _toolchain()
    broken = tmp_path / "broken.json"
    broken.write_text('{"in_shape": [null, 4], "layers": [')
    with pytest.raises(WorkerError) as refused:
        Worker(build_engine_worker(ROOT / "native"), [*engine_arguments(), f"Broken={broken}"])
    assert f"cannot read '{broken}'" in str(refused.value)


def test_an_engine_worker_asked_for_a_dispatch_level_it_cannot_run_refuses_to_start(
    models: list[tuple[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _toolchain()
    program = build_engine_worker(ROOT / "native")
    monkeypatch.setenv("RTV_DISPATCH", "x86-64-v99")
    with pytest.raises(WorkerError) as refused:
        Worker(program, [*engine_arguments(), *(f"{name}={path}" for name, path in models[:1])])
    assert "x86-64-v99" in str(refused.value)


def test_the_ratio_interval_is_students_t_on_the_log_ratios() -> None:
    # log ratios -0.1, 0.1, 0: mean 0, standard deviation 0.1, t(0.975, 2) = 4.303, half-width
    # 4.303 * 0.1 / sqrt(3) = 0.24844
    engine = [math.exp(-0.1), math.exp(0.1), 1.0]
    ratio = paired_ratio(engine, [1.0, 1.0, 1.0])
    assert ratio.mean == pytest.approx(1.0)
    assert (ratio.low, ratio.high) == (pytest.approx(0.78003, abs=1e-5), pytest.approx(1.28202, abs=1e-5))
    assert ratio.verdict == "indistinguishable"


def test_the_verdict_needs_the_whole_interval_on_one_side_of_one() -> None:
    # per-round ratios 0.5 and 0.52: the interval is [0.39, 0.66] (t(0.975, 1) = 12.706), wholly below 1
    assert paired_ratio([1.0, 1.04], [2.0, 2.0]).verdict == "faster"
    assert paired_ratio([2.0, 2.08], [1.0, 1.0]).verdict == "slower"
    # 0.9 and 1.05: the geometric mean is below 1, but the interval holds 1
    assert paired_ratio([0.9, 1.05], [1.0, 1.0]).verdict == "indistinguishable"


def _small_campaign() -> Campaign:
    runtimes = [Runtime("engine", "engine", "engine"), Runtime("eigen dynamic", "eigen", "dynamic")]
    machine = {
        "cpu": "test CPU",
        "cores": 2,
        "pinned_core": 1,
        "load_average_before": [0.5, 0.5, 0.5],
        "load_average_after": [0.6, 0.5, 0.5],
        "compiler": "c++ 12",
        "rtneural_commit": "1fb1f07",
        "engine_level": "x86-64-v3",
        "rtneural_flags": {"eigen": "-O3"},
        "started": "2026-12-08",
    }
    result = Campaign(machine, runtimes, ["Tiny"], {"Tiny": 64}, 2)
    result.figures["stream"] = {
        "Tiny": {
            "engine": [(500.0, 900.0), (510.0, 800.0)],
            "eigen dynamic": [(1000.0, 1500.0), (1050.0, 1400.0)],
        }
    }
    result.figures["silence"] = {
        "Tiny": {
            "engine": [(400.0, 700.0), (420.0, 650.0)],
            "eigen dynamic": [(900.0, 1200.0), (950.0, 1250.0)],
        }
    }
    return result


def test_a_saved_run_prints_the_same_tables_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = _small_campaign()
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(original.as_json()))
    assert main(["--from-json", str(saved)]) == 0
    assert capsys.readouterr().out == report(original) + "\n"
    # medians over the two rounds: 505 ns and 1,025 ns
    assert "| Tiny (blocks of 64) | 0.505 µs | 1.02 µs |" in report(campaign_from_json(original.as_json()))


@pytest.mark.parametrize(
    "content", [None, "", "[1, 2]", '{"runtimes": []}', '{"machine": {}, "runtimes": [], "models": ["x"]}']
)
def test_a_file_that_is_not_a_saved_run_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    assert main(["--from-json", str(path)]) == 2
    assert f"side_by_side: {path}: not a run written by --json" in capsys.readouterr().err
