"""The C++ golden checker's timing (rtneural_verifier/latency.hpp), built with CMake as a plugin's tests build
it: every pattern is run with the inputs it promises (signal, then exact zeros), flush-to-zero is on inside
the silence_ftz loop only, nothing is allocated between timed steps, and the file it writes is what
``verify --plugin-latency`` reads. Counts and shapes are asserted, never timings.

Skips without a C++ compiler or CMake (a failure under ``CI=true``, as tests/test_golden_cpp.py); the
RTNeural ``ModelT`` case needs ``RTNEURAL_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cpp_build import build_test_programs, skip_or_fail, toolchain_or_skip

from verifier.checks.run.plugin_latency import read_plugin_latency

STEPS, WARMUP = 300, 200  # the toy's state reaches subnormal numbers about 130 steps into the silence


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toolchain_or_skip()
    folder = tmp_path_factory.mktemp("golden-cpp-latency")
    options = ["-DCMAKE_BUILD_TYPE=Release"]
    if os.environ.get("RTNEURAL_DIR"):
        options.append(f"-DRTNEURAL_DIR={os.environ['RTNEURAL_DIR']}")
    build_test_programs(folder, *options, target="time_toy")
    return folder


def _run(command: list[str]) -> tuple[int, dict[str, str]]:
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode in (0, 1), f"{command[0]} could not run: {done.stderr}"
    return done.returncode, dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def toy(build: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    latency = tmp_path_factory.mktemp("toy") / "toy.json"
    status, fields = _run([str(build / "time_toy"), str(STEPS), str(WARMUP), str(latency)])
    assert status == 0, fields
    return fields, latency


def test_every_pattern_is_timed_for_the_steps_asked(toy: tuple[dict[str, str], Path]) -> None:
    fields, _ = toy
    patterns = 4 if fields["ftz_available"] == "1" else 3
    assert int(fields["calls"]) == patterns * (STEPS + WARMUP)
    for pattern in ("frame", "stream", "silence"):
        assert fields[f"{pattern}_steps"] == str(STEPS)
        assert 0 < float(fields[f"{pattern}_p50_ns"]) <= float(fields[f"{pattern}_p99_ns"])
        assert float(fields[f"{pattern}_p99_ns"]) <= float(fields[f"{pattern}_max_ns"])
    assert fields["silence_ftz_measured"] == fields["ftz_available"]


def test_the_silence_patterns_feed_exact_zeros_after_the_warmup_signal(
    toy: tuple[dict[str, str], Path],
) -> None:
    fields, _ = toy
    silent_patterns = 2 if fields["ftz_available"] == "1" else 1
    assert int(fields["zero_inputs"]) == silent_patterns * STEPS
    assert int(fields["subnormal_steps"]) > 0  # the decaying state does pass through the subnormals


def test_flush_to_zero_is_on_in_its_loop_only_and_restored_after(toy: tuple[dict[str, str], Path]) -> None:
    fields, _ = toy
    if fields["ftz_available"] != "1":
        pytest.skip("this CPU has no flush-to-zero switch")
    assert int(fields["under_ftz"]) == STEPS + WARMUP
    assert fields["subnormal_under_ftz"] == "0"
    assert (fields["ftz_before"], fields["ftz_after"]) == ("0", "0")


def test_nothing_is_allocated_between_timed_steps(toy: tuple[dict[str, str], Path]) -> None:
    fields, _ = toy
    assert fields["heap_counted"] == "1"
    assert fields["allocations_between_steps"] == "0"


def test_the_written_file_is_a_plugin_latency_file_verify_reads(toy: tuple[dict[str, str], Path]) -> None:
    fields, latency = toy
    given = read_plugin_latency(latency)
    assert (given.model, given.build, given.dtype) == ("toy", "Decay, tests/cpp", "float32")
    assert given.figures["silence"]["steps"] == STEPS
    assert given.figures["stream"]["p99_ns"] == float(fields["stream_p99_ns"])


def test_the_plugins_modelt_is_timed_and_fed_back_to_verify(
    build: Path, production_exports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not os.environ.get("RTNEURAL_DIR"):
        skip_or_fail("RTNEURAL_DIR is not set: RTNeural's ModelT is not built")
    from verifier.checks.golden.bundles import write_bundle
    from verifier.checks.run.manifest import load_manifest
    from verifier.cli import main

    build_test_programs(build, f"-DRTNEURAL_DIR={os.environ['RTNEURAL_DIR']}", target="check_rtneural_modelt")
    manifest_path = production_exports.parent / "manifest.json"
    entry = next(e for e in load_manifest(manifest_path).models if e.name == "DynamicsEngine")
    bundle = write_bundle(entry.file, tmp_path / "bundle", tolerance=lambda dtype: (1e-5, 0.0), steps=8)
    latency = tmp_path / "dynamics.json"
    program = build / "check_rtneural_modelt"
    status, fields = _run([str(program), "dynamics", str(entry.file), str(bundle), str(latency)])
    assert (status, fields["latency_written"]) == (0, "1"), fields
    assert read_plugin_latency(latency).model == Path(entry.file).stem

    report = tmp_path / "report.json"
    arguments = [
        entry.file,
        "--manifest",
        manifest_path,
        "--steps",
        8,
        "--timing-steps",
        20,
        "--rss-copies",
        0,
    ]
    code = main([str(a) for a in (*arguments, "--plugin-latency", latency, "--format", "json", "-o", report)])
    assert "Traceback" not in capsys.readouterr().err
    assert code in (0, 1)  # the verdict is on timings: only what was judged is asserted
    checks = json.loads(report.read_text())["files"][0]["checks"]
    latency_check = next(c for c in checks if c["name"] == "latency")
    assert latency_check["figures"]["verdict_on"]["source"] == "the plugin's build"
    assert latency_check["figures"]["plugin"]["build"].startswith("RTNeural ModelT<float>")
