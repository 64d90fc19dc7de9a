"""The C++ golden checker (rtneural_verifier/golden.hpp), built and run as a plugin would build and run it.

A small C++ program (tests/cpp/) is built here with CMake through the package's own
``find_package(rtneural_verifier CONFIG)``, against our engine's sources (``check_engine``, an adapter with
RTNeural's three methods over ``native/``) and, when ``RTNEURAL_DIR`` names an RTNeural checkout, against
the real RTNeural (``check_rtneural``, its own ``parseJson``). Both must pass the bundles of correct
exports and fail those of a tampered export, naming the element that is furthest out of tolerance.

Without a C++ compiler or CMake these tests skip, except under ``CI=true`` where that is a failure; without
``RTNEURAL_DIR`` the RTNeural variants skip, except under ``CI=true``, where .ci/run builds against
../shared/rtneural and a missing RTNeural is a failure (it is never vendored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from cpp_build import build_test_programs, skip_or_fail, toolchain_or_skip
from torch import nn

from verifier.checks.golden.bundles import read_bundle, write_bundle
from verifier.checks.run.manifest import load_manifest
from verifier.checks.run.reference import resolve_against
from verifier.engine.model import load
from verifier.format.findings import Limits
from verifier.pytorch.export import export
from verifier.testing.mistakes import corrupt

PROGRAMS = ("check_engine", "check_rtneural")  # parametrised over; check_rtneural_modelt is built beside


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The test programs, configured and built once for this module in a temporary directory."""
    toolchain_or_skip()
    build = tmp_path_factory.mktemp("golden-cpp")
    options = ["-DCMAKE_BUILD_TYPE=Release"]
    if os.environ.get("RTNEURAL_DIR"):
        options.append(f"-DRTNEURAL_DIR={os.environ['RTNEURAL_DIR']}")
    build_test_programs(build, *options)
    names = (*PROGRAMS, "check_rtneural_modelt")
    found = {name: build / name for name in names if (build / name).exists()}
    for variant in ("strict_header", "strict_header_portable_io"):
        found[variant] = next((build / "CMakeFiles" / f"{variant}.dir").rglob("strict_header.cpp.o*"))
    return found


def _program(programs: dict[str, Path], name: str) -> Path:
    if name.startswith("check_rtneural") and name not in programs:
        skip_or_fail("RTNEURAL_DIR is not set: the checker is not run against the real RTNeural")
    return programs[name]


def _check(program: Path, mode: str, model: Path, bundle: Path) -> tuple[int, dict[str, str]]:
    """Run a test program; ``mode`` is the dtype (check_engine, check_rtneural) or the ModelT architecture."""
    command = [str(program), mode, str(model), str(bundle)]
    if program.name == "check_engine":  # our engine takes the limits verifier.load would pass
        limits = Limits()
        sizes = (
            limits.max_layer_width,
            limits.max_total_parameters,
            limits.max_state_values,
            limits.max_depth,
        )
        command += [str(size) for size in sizes]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode in (0, 1), f"{program.name} could not run: {done.stderr}"
    fields = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return done.returncode, fields


class Small(nn.Module):
    """A square dense kernel (a transposed one loads fine), a GRU and an LSTM: every tampering applies."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.fc = nn.Linear(6, 6)
        self.act = nn.Tanh()
        self.gru = nn.GRU(6, 5, batch_first=True)
        self.lstm = nn.LSTM(5, 4, batch_first=True)
        self.out = nn.Linear(4, 3)
        self.export_order = ("fc", "act", "gru", "lstm", "out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gru(self.act(self.fc(x)))[0]
        return self.out(self.lstm(x)[0])


def _tolerance(dtype: str) -> tuple[float, float]:
    # The production manifest's tolerances: 1e-5 covers float32 round-off over 256 streamed steps here.
    return {"float32": (1e-5, 0.0), "float64": (1e-9, 0.0)}[dtype]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("small")
    module = Small().eval()
    good = root / "small.json"
    export(module, good)
    return {"module": module, "root": root, "good": good}


def _tampered(small: dict[str, Any], mistake: str, type_: str) -> tuple[Path, Path]:
    """An export with *mistake* made, and its bundle written from the correct torch module: what
    `verify --save-golden` writes when the exporter is the thing that is wrong."""
    doc = json.loads(small["good"].read_text())
    index = next(i for i, entry in enumerate(doc["layers"]) if entry["type"] == type_)
    bad = small["root"] / f"{mistake}.json"
    bad.write_text(json.dumps(corrupt(doc, mistake, index)))
    bundle = write_bundle(
        bad, small["root"] / "bundles" / mistake, torch_module=small["module"], tolerance=_tolerance, steps=64
    )
    return bad, bundle


def _worst_element(model_file: Path, bundle_dir: Path, dtype: str) -> tuple[str, str, int, int]:
    """(pattern, case, step, output) furthest out of tolerance, from our Python-bound engine and numpy."""
    bundle = read_bundle(bundle_dir)
    atol, rtol = bundle.tolerance(dtype)
    model = load(model_file, dtype)
    worst = (-1.0, ("", "", 0, 0))
    for case, xs in bundle.inputs.items():
        frame = model.run_frames(xs)
        model.reset()  # run_frames leaves the state of its last step
        actual = {"frame": frame, "stream": model.run(xs)}
        for pattern in ("frame", "stream"):
            expected = bundle.expected[case, pattern]
            ratio = np.abs(actual[pattern] - expected) / (atol + rtol * np.abs(expected))
            step, output = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            if ratio[step, output] > worst[0]:
                worst = (float(ratio[step, output]), (pattern, case, int(step), int(output)))
    return worst[1]


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("variant", ["strict_header", "strict_header_portable_io"])
def test_the_header_compiles_under_strict_warnings_as_errors(programs: dict[str, Path], variant: str) -> None:
    # tests/cpp/strict_header.cpp is built with -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    # -Wsign-conversion -Wold-style-cast -Werror; the build (the fixture) fails on any warning. The second
    # variant compiles the file reading of platforms without POSIX calls (RTV_GOLDEN_POSIX_IO=0).
    assert programs[variant].stat().st_size > 0


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_correct_export_passes_its_torch_bundle(
    programs: dict[str, Path], small: dict[str, Any], program: str, dtype: str
) -> None:
    bundle = write_bundle(
        small["good"], small["root"] / "bundles" / "good", torch_module=small["module"], tolerance=_tolerance
    )
    status, result = _check(_program(programs, program), dtype, small["good"], bundle)
    assert (status, result["passed"]) == (0, "1"), result["message"]
    assert result["message"].startswith("PASS: ")
    assert "reference torch" in result["message"]
    assert float(result["worst_abs_error"]) <= _tolerance(dtype)[0]
    assert int(result["elements"]) == (256 + 4 * 32) * 3 * 2  # every element of both patterns was compared


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_five_production_exports_pass_their_bundles(
    programs: dict[str, Path], production_exports: Path, tmp_path: Path, program: str
) -> None:
    manifest = load_manifest(production_exports.parent / "manifest.json")
    failures = []
    for entry in manifest.models:
        assert entry.factory is not None
        bundle = write_bundle(
            entry.file,
            tmp_path / entry.name,
            torch_module=resolve_against(entry.factory)(),
            tolerance=lambda dtype, entry=entry: manifest.tolerance_for(entry, dtype),
            steps=64,
        )
        status, result = _check(_program(programs, program), "float32", entry.file, bundle)
        if status != 0:
            failures.append(f"{entry.name}: {result['message']}")
    assert len(manifest.models) == 5
    assert not failures


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize(
    ("mistake", "layer"), [("transposed_kernel", "dense"), ("gru_gates_not_reordered", "gru")]
)
def test_a_tampered_export_fails_naming_its_worst_element(
    programs: dict[str, Path], small: dict[str, Any], program: str, mistake: str, layer: str
) -> None:
    bad, bundle = _tampered(small, mistake, layer)
    status, result = _check(_program(programs, program), "float32", bad, bundle)
    assert (status, result["passed"]) == (1, "0")
    pattern, case, step, output = _worst_element(bad, bundle, "float32")
    assert (result["worst_pattern"], result["worst_case"], result["worst_step"], result["worst_output"]) == (
        pattern,
        case,
        str(step),
        str(output),
    )
    assert (
        f"worst at pattern {pattern}, case {case}, step {step}, output {output}: expected "
        in result["message"]
    )


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_bundle_of_another_model_file_fails_on_its_sha256(
    programs: dict[str, Path], small: dict[str, Any], program: str
) -> None:
    _, bundle = _tampered(small, "transposed_kernel", "dense")
    status, result = _check(_program(programs, program), "float32", small["good"], bundle)
    assert status == 1
    assert "is not the file the bundle" in result["message"]
    assert "SHA-256" in result["message"]


def test_a_damaged_bundle_is_a_failure_naming_the_file(
    programs: dict[str, Path], small: dict[str, Any], tmp_path: Path
) -> None:
    bundle = write_bundle(small["good"], tmp_path / "bundle", tolerance=_tolerance, steps=8)
    stream = bundle / "expected" / "impulse.stream.csv"
    stream.write_text(stream.read_text().replace(",", ";", 1))
    status, result = _check(programs["check_engine"], "float32", small["good"], bundle)
    assert status == 1
    assert result["message"].startswith("FAIL: unusable golden bundle: ")
    assert "impulse.stream.csv:1: expected 3 values, found 2" in result["message"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_heap_is_counted_while_loading_and_is_zero_while_running(
    programs: dict[str, Path], small: dict[str, Any], tmp_path: Path, program: str
) -> None:
    bundle = write_bundle(small["good"], tmp_path / "bundle", tolerance=_tolerance, steps=16)
    status, result = _check(_program(programs, program), "float32", small["good"], bundle)
    assert status == 0
    assert result["heap_counted"] == "1"
    assert int(result["heap_bytes_load"]) > 0  # the operator new counter is live: loading allocates
    assert (result["heap_bytes_run"], result["heap_allocations_run"]) == ("0", "0")
    if sys.platform == "linux":  # glibc's mallinfo2: the heap a loaded model keeps, Eigen's matrices too
        weight_bytes = 4 * load(small["good"], "float32").param_count
        assert int(result["heap_held_load"]) >= weight_bytes
        assert result["heap_held_run"] == "0"


def test_forward_is_timed_on_every_call(
    programs: dict[str, Path], small: dict[str, Any], tmp_path: Path
) -> None:
    bundle = write_bundle(small["good"], tmp_path / "bundle", tolerance=_tolerance, steps=16)
    _, result = _check(programs["check_engine"], "float32", small["good"], bundle)
    assert int(result["forward_calls"]) == (16 + 4 * 16) * 2
    assert 0 < float(result["forward_ns_p50"]) <= float(result["forward_ns_p99"])


def test_rtneurals_compile_time_modelt_fits_the_same_check(
    programs: dict[str, Path], small: dict[str, Any]
) -> None:
    program = _program(programs, "check_rtneural_modelt")
    good = write_bundle(
        small["good"],
        small["root"] / "bundles" / "modelt",
        torch_module=small["module"],
        tolerance=_tolerance,
    )
    status, result = _check(program, "small", small["good"], good)
    assert (status, result["passed"]) == (0, "1"), result["message"]
    bad, bundle = _tampered(small, "gru_gates_not_reordered", "gru")
    status, result = _check(program, "small", bad, bundle)
    assert (status, result["passed"]) == (1, "0")
    assert "worst at pattern " in result["message"]


def test_the_production_dynamics_engine_passes_as_a_modelt(
    programs: dict[str, Path], production_exports: Path, tmp_path: Path
) -> None:
    program = _program(programs, "check_rtneural_modelt")
    manifest = load_manifest(production_exports.parent / "manifest.json")
    entry = next(e for e in manifest.models if e.name == "DynamicsEngine")
    assert entry.factory is not None
    bundle = write_bundle(
        entry.file,
        tmp_path / entry.name,
        torch_module=resolve_against(entry.factory)(),
        tolerance=lambda dtype: manifest.tolerance_for(entry, dtype),
        steps=64,
    )
    status, result = _check(program, "dynamics", entry.file, bundle)
    assert (status, result["passed"]) == (0, "1"), result["message"]
