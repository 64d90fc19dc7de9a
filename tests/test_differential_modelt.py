"""Differential property, compile-time leg: generated models run through our engine and through RTNeural's
``ModelT`` (the type ``verify modelt`` prints, loaded with ``ModelT::parseJson``) must agree.

A ``ModelT`` type fixes the architecture, not the weights, so the architectures are compiled once per
session, all in one translation unit (float and double), and the property draws everything else: weight
seeds, weight arrays rescaled across float32's range, inputs of any float32 magnitude with NaN and ±inf,
streamed and frame by frame (a reset before each step). Agreement is test_differential's
(:func:`check_agreement`): the engine's tolerance against RTNeural plus the model's rounding spread, before a
chaotic model's horizon, and where it still fails RTNeural's builds must disagree and ``check_builds`` warn.

The compiled architectures are :data:`COMPILED`: together they hold every entry type and activation the
dynamic loader and ``ModelT`` share, one of them hundreds wide; under ``HYPOTHESIS_PROFILE=thorough`` also
:data:`THOROUGH_DRAWN` architectures drawn (reproducibly) as the dynamic leg draws them, and the Eigen
backend besides the STL one. Needs a C++ compiler and RTNeural in ``$RTNEURAL_DIR``: without them it skips,
under ``CI=true`` it fails.

One difference is RTNeural's, and documented (docs/format.md §16.1): ``ModelT::parseJson`` reads batchnorm
``epsilon`` as ``float`` in a double model too, so the engine is given the file with that value.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cpp_build import rtneural_toolchain
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from test_differential import EXAMPLES, WIDTH_TIERS, check_agreement, weights_and_inputs
from test_modelt_rtneural import BACKENDS, THOROUGH
from test_rtneural_backend import DTYPES

from verifier.engine.backends import load_backend
from verifier.errors import ModelFormatError
from verifier.format.loaders.modelt import file_errors, model_type
from verifier.testing.strategies import ALL_LAYER_TYPES, Range, architectures, bounds, documents

NUMERIC = {"float32": "float", "float64": "double"}
MODES = {"run": "run", "run_frames": "frames"}  # the engine's pattern -> the program's mode

# Every entry type and activation shared by the dynamic loader and ModelT, across four models: recurrent
# layers stacked and single, conv1d dilated and grouped, conv2d "same" and "valid" with strides, batchnorm
# and batchnorm2d with and without affine parameters, prelu per channel and shared, dense with and without
# bias, each activation fused and standalone (the exporter fuses a standalone one into a dense before it
# without activation), and a dense 256 wide.
COMPILED: tuple[dict[str, Any], ...] = (
    {"in_size": 3, "seed": 0, "layers": [
        {"type": "conv1d", "out": 4, "kernel_size": 3, "dilation": 2, "groups": 1, "activation": "elu",
         "bias": True},
        {"type": "prelu", "shared": False},
        {"type": "lstm", "hidden": 8, "num_layers": 1},
        {"type": "dense", "out": 3, "activation": "softmax", "bias": True},
    ]},
    {"in_size": 4, "seed": 0, "layers": [
        {"type": "gru", "hidden": 6, "num_layers": 2},
        {"type": "batchnorm", "affine": True, "eps": 0.001},
        {"type": "time-distributed-dense", "out": 8, "activation": "relu", "bias": True},
        {"type": "conv1d", "out": 4, "kernel_size": 2, "dilation": 3, "groups": 2, "activation": "sigmoid",
         "bias": False},
        {"type": "activation", "activation": "tanh"},
    ]},
    {"in_size": 12, "seed": 0, "layers": [
        {"type": "conv2d", "filters_in": 2, "filters_out": 3, "kernel_time": 2, "kernel_feature": 3,
         "dilation": 2, "stride": 2, "padding": "same", "activation": "tanh"},
        {"type": "batchnorm2d", "filters_in": 3, "affine": False, "eps": 1e-05},
        {"type": "conv2d", "filters_in": 3, "filters_out": 2, "kernel_time": 1, "kernel_feature": 2,
         "dilation": 1, "stride": 1, "padding": "valid", "activation": "relu"},
        {"type": "batchnorm2d", "filters_in": 2, "affine": True, "eps": 0.001},
        {"type": "prelu", "shared": True},
        {"type": "dense", "out": 2, "activation": "sigmoid", "bias": False},
    ]},
    {"in_size": 8, "seed": 0, "layers": [
        {"type": "dense", "out": 256, "activation": "elu", "bias": True},
        {"type": "batchnorm", "affine": False, "eps": 1e-05},
        {"type": "gru", "hidden": 48, "num_layers": 1},
        {"type": "lstm", "hidden": 5, "num_layers": 2},
        {"type": "activation", "activation": "relu"},
        {"type": "dense", "out": 3, "activation": "", "bias": True},
        {"type": "activation", "activation": "tanh"},
        {"type": "activation", "activation": "softmax"},
        {"type": "activation", "activation": "elu"},
        {"type": "activation", "activation": "sigmoid"},
    ]},
)  # fmt: skip
THOROUGH_DRAWN = 12
ARCHITECTURES = len(COMPILED) + (THOROUGH_DRAWN if THOROUGH else 0)
# Examples per compiled architecture and dtype: the dynamic leg's count shared out, at least a few each.
MODELT_EXAMPLES = max(4, EXAMPLES // ARCHITECTURES)


@dataclasses.dataclass(frozen=True)
class Program:
    """The compiled program: ``types[k][numeric]`` is the ModelT type of ``specs[k]`` it runs as index
    ``2 * k`` (float) or ``2 * k + 1`` (double)."""

    path: Path
    backend: str
    specs: tuple[dict[str, Any], ...]
    types: tuple[dict[str, str], ...]


def _drawn_architectures(count: int) -> list[dict[str, Any]]:
    """``count`` architectures drawn as the dynamic leg draws them, the same ones every session
    (derandomized), among those ModelT can hold (every one the engine loads has a type): of two layers or
    more, no two with the same sequence of layer types (Hypothesis tries the simplest first, and often)."""
    wide = dataclasses.replace(bounds(), width=Range(1, WIDTH_TIERS[-1]), in_size=Range(1, WIDTH_TIERS[-1]))
    found: list[dict[str, Any]] = []
    seen: set[str] = set()

    @settings(
        max_examples=count * 20,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=architectures(types=ALL_LAYER_TYPES, limits=wide, min_layers=2, max_layers=4))
    def collect(spec: dict[str, Any]) -> None:
        shape = " ".join(layer["type"] for layer in spec["layers"])
        if len(found) == count or shape in seen:
            return
        seen.add(shape)
        doc = documents(spec)
        if not file_errors(doc) and model_type(doc).model is not None:
            found.append(spec)

    collect()
    return found


def _types(doc: dict[str, Any]) -> dict[str, str]:
    types = {}
    for numeric in NUMERIC.values():
        emitted = model_type(doc, numeric)
        assert emitted.model is not None, f"no ModelT type: {emitted.problems}"
        types[numeric] = emitted.model.render().removeprefix("using Model = ").rstrip(";")
    return types


def _source(types: list[str]) -> str:
    """One program for every type: ``program INDEX FILE run|frames`` loads FILE with ``parseJson`` into type
    INDEX, reads input steps from stdin (raw doubles, converted to the model's type: NaN and ±inf pass
    unchanged) and writes each step's outputs as raw doubles; ``frames`` resets before every step."""
    calls = "\n".join(f"    if (which == {i}) return run<{t}>(argv[2], mode);" for i, t in enumerate(types))
    return f"""#include <RTNeural/RTNeural.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <type_traits>

template <typename M> int run(const char* path, const char* mode) {{
    static M model;  // static: a wide model's weights do not fit a stack
    std::ifstream stream(path);
    model.parseJson(stream, false);
    model.reset();
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(model.getOutputs())>>;
    const bool frames = std::strcmp(mode, "frames") == 0;
    alignas(64) static T x[M::input_size];  // Eigen's layers read their input as aligned memory
    static double step[M::input_size];
    while (std::fread(step, sizeof(double), M::input_size, stdin) == M::input_size) {{
        for (int i = 0; i < M::input_size; ++i) x[i] = static_cast<T>(step[i]);
        if (frames) model.reset();
        model.forward(x);
        for (int o = 0; o < M::output_size; ++o) {{
            const double y = static_cast<double>(model.getOutputs()[o]);
            std::fwrite(&y, sizeof(double), 1, stdout);
        }}
    }}
    return 0;
}}

int main(int argc, char** argv) {{
    if (argc != 4) return 2;
    const int which = std::atoi(argv[1]);
    const char* mode = argv[3];
{calls}
    return 2;
}}
"""


@pytest.fixture(
    scope="session",
    params=["stl", pytest.param("eigen", marks=pytest.mark.skipif(not THOROUGH, reason="thorough only"))],
)
def program(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Program:
    cxx, root = rtneural_toolchain()
    specs = list(COMPILED) + (_drawn_architectures(THOROUGH_DRAWN) if THOROUGH else [])
    types = [_types(documents(spec)) for spec in specs]
    folder = tmp_path_factory.mktemp(f"differential-modelt-{request.param}")
    (folder / "modelt.cpp").write_text(_source([t[n] for t in types for n in NUMERIC.values()]))
    command = [
        cxx,
        "-std=c++17",
        "-O1",
        "-DRTNEURAL_DEFAULT_ALIGNMENT=16",
        f"-I{root}",
        *(option.format(root=root) for option in BACKENDS[request.param]),
        str(folder / "modelt.cpp"),
        "-o",
        str(folder / "modelt"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-6000:]}"
    return Program(folder / "modelt", request.param, tuple(specs), tuple(types))


def test_the_compiled_architectures_hold_every_layer_type_and_activation() -> None:
    held = {layer["type"] for spec in COMPILED for layer in documents(spec)["layers"]}
    assert held == set(ALL_LAYER_TYPES)
    fused = {
        layer["activation"]
        for spec in COMPILED
        for layer in documents(spec)["layers"]
        if layer["type"] != "activation"
    }
    standalone = {
        layer["activation"]
        for spec in COMPILED
        for layer in documents(spec)["layers"]
        if layer["type"] == "activation"
    }
    names = set(bounds().standalone_activations)
    assert names <= fused
    assert names <= standalone


def _with_float_epsilon(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with each batchnorm epsilon as ``ModelT::parseJson`` reads it: rounded to float."""
    out = copy.deepcopy(doc)
    for layer in out["layers"]:
        if "epsilon" in layer:
            layer["epsilon"] = float(np.float32(layer["epsilon"]))
    return out


def _modelt_outputs(
    program: Program, index: int, dtype: str, path: Path, xs: np.ndarray, mode: str, width: int
) -> np.ndarray:
    which = 2 * index + (dtype == "float64")
    done = subprocess.run(
        [str(program.path), str(which), str(path), mode],
        input=np.ascontiguousarray(xs, np.float64).tobytes(),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the ModelT program failed ({done.returncode}): {done.stderr!r}"
    return np.frombuffer(done.stdout, np.float64).reshape(len(xs), width)


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(ARCHITECTURES))
@settings(max_examples=MODELT_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engine_agrees_with_rtneural_modelt_or_rtneural_builds_disagree(
    program: Program, tmp_path_factory: pytest.TempPathFactory, index: int, dtype: str, data: st.DataObject
) -> None:
    if index >= len(program.specs):
        pytest.skip(f"only {len(program.specs)} drawn architectures have a ModelT type")
    seed = data.draw(st.integers(0, 2**32 - 1), label="weight seed")
    spec = {**program.specs[index], "seed": seed}
    doc, xs = data.draw(weights_and_inputs(spec), label="weights and inputs")
    assert _types(doc) == program.types[index], "the drawn weights changed the architecture"
    doc = _with_float_epsilon(doc)
    try:
        engine = load_backend(doc, backend="engine", dtype=dtype)
    except ModelFormatError as refusal:  # the dynamic leg checks RTNeural refuses it too
        event(f"refused by the engine ({refusal.rule}): not run through ModelT")
        return
    path = tmp_path_factory.mktemp("doc") / "model.json"
    path.write_text(json.dumps(doc, allow_nan=False))
    width = int(engine.out_size)

    def modelt(pattern: str) -> np.ndarray:
        return _modelt_outputs(program, index, dtype, path, xs, MODES[pattern], width)

    check_agreement(engine, modelt, doc, xs, dtype, spec, against=f"RTNeural ModelT ({program.backend})")
    event(f"ModelT ({program.backend}): compared")
