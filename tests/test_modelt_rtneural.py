"""The type ``verify modelt`` prints, compiled against the real RTNeural: ``ModelT::parseJson`` of that type
must load each corpus model completely, so its outputs match our engine's.

One C++ program holds every type (one compile for the whole corpus); the STL backend always, Eigen too under
``HYPOTHESIS_PROFILE=thorough``. Needs a
C++ compiler and an RTNeural checkout in ``$RTNEURAL_DIR``; without them the test skips, under ``CI=true`` it
fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import corpus
import numpy as np
import pytest
from cpp_build import rtneural_toolchain

from verifier.checks.passrule import outside
from verifier.format.loaders.modelt import check_type, file_errors, model_type, parse_type

STEPS = 24
ATOL, RTOL = 1e-4, 1e-4  # float32 engine vs float32 RTNeural STL: summation order only


def _keras_models() -> list[tuple[str, Path]]:
    """Every keras-json model the manifest names: its cases, negative cases and files it keeps aside."""
    root = corpus.require_corpus()
    manifest = corpus.manifest()
    named = [
        e.get("model") for group in ("cases", "negative_cases", "not_replicated") for e in manifest[group]
    ]
    return sorted({m: root / m for m in named if isinstance(m, str) and m.endswith(".json")}.items())


def _program(types: list[str]) -> str:
    calls = "\n".join(
        f"    if (which == {i}) return run<{t.removeprefix('using Model = ').rstrip(';')}>(argv[2]);"
        for i, t in enumerate(types)
    )
    return (
        "#include <RTNeural/RTNeural.h>\n#include <cstdio>\n#include <fstream>\n#include <string>\n"
        "#include <vector>\n\n"
        "template <typename M> int run(const char* path) {\n"
        "    static M model;\n"
        "    std::ifstream stream(path);\n"
        "    model.parseJson(stream, false);\n"
        "    model.reset();\n"
        "    std::vector<float> x(M::input_size);\n"
        "    int steps = 0;\n"
        '    if (std::scanf("%d", &steps) != 1) return 3;\n'
        "    for (int s = 0; s < steps; ++s) {\n"
        '        for (auto& v : x) if (std::scanf("%f", &v) != 1) return 3;\n'
        "        model.forward(x.data());\n"
        "        for (int o = 0; o < M::output_size; ++o)\n"
        '            std::printf("%.9g ", (double) model.getOutputs()[o]);\n'
        '        std::printf("\\n");\n'
        "    }\n"
        "    return 0;\n"
        "}\n\n"
        "int main(int argc, char** argv) {\n"
        "    if (argc != 3) return 2;\n"
        "    const int which = std::stoi(argv[1]);\n"
        f"{calls}\n"
        "    return 2;\n"
        "}\n"
    )


# Declared types that disagree with a corpus file the ways parseJson hides (one replacement in the emitted
# type), and one that spells RTNeural's defaults out and must still load everything.
MUTANTS = {
    "swapped activation": ("models/gru.json", "TanhActivationT<float, 8>", "ReLuActivationT<float, 8>"),
    "skipped layer of other type": ("models/gru.json", "GRULayerT<float, 8, 8>", "LSTMLayerT<float, 8, 8>"),
    "fused activation not declared": ("models/gru.json", "    RTNeural::TanhActivationT<float, 8>,\n", ""),
    "defaults spelt out": (
        "models/gru.json",
        "GRULayerT<float, 8, 8>",
        "GRULayerT<float, 8, 8, RTNeural::SampleRateCorrectionMode::None, RTNeural::DefaultMathsProvider>",
    ),
    "conv1d of other dilation": (
        "models/full_model.json",
        "Conv1DT<float, 8, 4, 3, 2, 1>",
        "Conv1DT<float, 8, 4, 3, 1, 1>",
    ),
    "conv1d of other groups": (
        "models/conv.json",
        "Conv1DT<float, 4, 6, 3, 2, 2>",
        "Conv1DT<float, 4, 6, 3, 2, 1>",
    ),
    "batchnorm not affine": (
        "models/conv.json",
        "BatchNorm1DT<float, 4, true>",
        "BatchNorm1DT<float, 4, false>",
    ),
    "conv2d of other time kernel": (
        "models/conv2d.json",
        "Conv2DT<float, 2, 3, 19, 4, 3, 1, 2, false>",
        "Conv2DT<float, 2, 3, 19, 3, 3, 1, 2, false>",
    ),
}


THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
# The STL backend needs no define and no other headers; Eigen (RTNeural's default) compiles several times
# slower, so it runs in `thorough` only, with the stack limit lifted as a plugin with a large dense must.
BACKENDS = {
    "stl": (),
    "eigen": ("-DRTNEURAL_USE_EIGEN=1", "-DEIGEN_STACK_ALLOCATION_LIMIT=0", "-I{root}/modules/Eigen"),
}


@pytest.fixture(
    scope="module",
    params=["stl", pytest.param("eigen", marks=pytest.mark.skipif(not THOROUGH, reason="thorough only"))],
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[tuple[str, Path, str]]]:
    cxx, root = rtneural_toolchain()
    models = []
    for name, path in _keras_models():
        doc = json.loads(path.read_text())
        emitted = model_type(doc)
        if emitted.model is not None and not file_errors(doc):
            models.append((name, path, emitted.model.render()))
    assert models, "no corpus model has a ModelT type"
    emitted = {name: (path, text) for name, path, text in models}
    for label, (name, old, new) in MUTANTS.items():
        assert name in emitted, f"{label}: {name} has no ModelT type"
        path, text = emitted[name]
        assert old in text, f"{label}: {old!r} is not in the emitted type"
        models.append((label, path, text.replace(old, new)))
    folder = tmp_path_factory.mktemp("modelt")
    (folder / "modelt.cpp").write_text(_program([t for _, _, t in models]))
    command = [
        cxx,
        "-std=c++17",
        "-O1",
        f"-I{root}",
        *(option.format(root=root) for option in BACKENDS[request.param]),
        str(folder / "modelt.cpp"),
        "-o",
        str(folder / "modelt"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-6000:]}"
    return folder / "modelt", models


def _both(program: Path, index: int, path: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(ModelT's outputs, the engine's) on the same random stream."""
    from verifier.engine.model import load

    engine = load(str(path), "float32")
    xs = np.random.default_rng(seed).uniform(-1, 1, size=(STEPS, engine.in_size)).astype(np.float32)
    feed = f"{STEPS}\n" + "\n".join(" ".join(f"{v:.9g}" for v in row) for row in xs) + "\n"
    done = subprocess.run([str(program), str(index), str(path)], input=feed, capture_output=True, text=True)
    assert done.returncode == 0, f"the ModelT program failed ({done.returncode}): {done.stderr}"
    rtneural = np.array([[float(v) for v in line.split()] for line in done.stdout.splitlines()])
    return rtneural, np.asarray(engine.run(xs), dtype=np.float64)


def test_emitted_modelt_types_load_every_corpus_model_like_the_engine(built) -> None:
    program, models = built
    worst, count = 0.0, 0
    for index, (name, path, _) in enumerate(models):
        if name in MUTANTS:
            continue
        rtneural, ours = _both(program, index, path)
        assert rtneural.shape == ours.shape, f"{name}: {rtneural.shape} vs {ours.shape}"
        assert np.any(rtneural != 0), f"{name}: all outputs zero: parseJson loaded nothing"
        assert not outside(ours, rtneural, ATOL, RTOL).any(), f"{name}: ModelT disagrees with the engine"
        worst, count = max(worst, float(np.max(np.abs(rtneural - ours)))), count + 1
    print(f"{count} corpus models compiled and loaded; worst |ModelT - engine| = {worst:.3g}")
    print(f"  {', '.join(n for n, _, _ in models if n not in MUTANTS)}")


@pytest.mark.parametrize("label", sorted(MUTANTS))
def test_check_names_a_problem_exactly_when_real_parsejson_leaves_the_model_unlike_the_file(
    built, label: str
) -> None:
    program, models = built
    index = next(i for i, m in enumerate(models) if m[0] == label)
    _, path, declared = models[index]
    problems = check_type(json.loads(path.read_text()), parse_type(declared))
    rtneural, ours = _both(program, index, path)
    agrees = rtneural.shape == ours.shape and not outside(ours, rtneural, ATOL, RTOL).any()
    assert agrees == (problems == []), f"{label}: RTNeural agrees={agrees}, problems={problems}"


@pytest.mark.skipif(not THOROUGH, reason="thorough only: three Eigen compiles")
@pytest.mark.parametrize("width", [255, 256])
def test_eigen_limit_note_appears_exactly_when_eigen_refuses_the_type(tmp_path: Path, width: int) -> None:
    cxx, root = rtneural_toolchain()
    doc = {
        "in_shape": [None, width],
        "layers": [
            {
                "type": "dense",
                "activation": "",
                "shape": [None, 128],
                "weights": [[[0.0] * 128] * width, [0.0] * 128],
            }
        ],
    }
    emitted = model_type(doc)
    assert emitted.model is not None
    noted = any("EIGEN_STACK_ALLOCATION_LIMIT=0" in note for note in emitted.notes)
    source = tmp_path / "limit.cpp"
    declared = emitted.model.render().removeprefix("using Model = ")
    source.write_text(
        f"#include <RTNeural/RTNeural.h>\nstatic {declared.rstrip(';')} model;\nint main() {{ return 0; }}\n"
    )

    def compiles(*options: str) -> bool:
        command = [cxx, "-std=c++17", "-fsyntax-only", "-DRTNEURAL_USE_EIGEN=1", f"-I{root}",
                   f"-I{root}/modules/Eigen", *options, str(source)]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=900).returncode == 0

    assert compiles() == (not noted)
    if noted:
        assert compiles("-DEIGEN_STACK_ALLOCATION_LIMIT=0")
