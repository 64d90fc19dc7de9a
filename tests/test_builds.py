"""The ``rtneural-builds`` check: a layer whose answer depends on how RTNeural was built is a warning naming
the layer and the builds that disagree, never a silent pass (verifier/checks/builds.py, docs/format.md
§15.24-25).

The cancelling examples are one-unit layers whose gate terms are ±1e20 (float64) or ±1e9 (float32) around
an ordinary result; their expected outputs are worked out by hand below, in each build's order, and checked
against the real RTNeural (its Eigen build, ``_verifier_rtneural``) where it is built.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.checks.builds import check_builds
from verifier.checks.results import PASS, WARN
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_file
from verifier.checks.tolerance import tolerance_for
from verifier.engine.model import load

GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "good"
BIG = {"float64": 1e20, "float32": 1e9}  # large enough that the run's type loses the ordinary terms
FAST = {"timing": False, "rss_copies": 0, "steps": 32}


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _gru(big: float) -> dict[str, Any]:
    # Every gate's two bias rows are +big and -big: they cancel in the builds that add them to each other
    # first, and swallow W x and U h in the builds that add a product to one of them first.
    return {
        "in_shape": [None, None, 1],
        "layers": [
            {
                "type": "gru",
                "activation": "tanh",
                "shape": [None, None, 1],
                "weights": [[[0.5, 0.5, 0.5]], [[0.5, 0.5, 0.5]], [[big] * 3, [-big] * 3]],
            }
        ],
    }


def _lstm(big: float, *, constant: bool = True) -> dict[str, Any]:
    # Gates i, f, o whose kernel -big cancels their bias +big around 0.5 h when the input is 1 (which a dense
    # layer of zero kernel and bias 1 makes constant, unless `constant` is False); the candidate is tanh(1).
    lstm = {
        "type": "lstm",
        "activation": "tanh",
        "shape": [None, None, 1],
        "weights": [[[-big, -big, 0.0, -big]], [[0.5, 0.5, 0.0, 0.5]], [big, big, 1.0, big]],
    }
    one = {"type": "dense", "activation": "", "shape": [None, None, 1], "weights": [[[0.0]], [1.0]]}
    return {"in_shape": [None, None, 1], "layers": [one, lstm] if constant else [lstm]}


# By hand, first step of the GRU from h = 0 with x = 1. Eigen adds (W x + b0) to (U h + b1): the biases
# cancel and W x is lost, so z = r = 1/2 and the candidate is tanh(big/2) = 1, h = 1/2. This engine (and
# GRULayerT) pre-sums b0 + b1 = 0, so z = r = sigmoid(1/2), the candidate is tanh((1/2 + big) - r big) = 1,
# and h = 1 - sigmoid(1/2).
GRU_FIRST_STEP = {"Eigen GRULayer/GRULayerT": 0.5, "this engine": 1 - _sigmoid(0.5)}


def _lstm_second_step() -> dict[str, float]:
    # Step 0 is the same in every build (h = 0: every gate is sigmoid(0) = 1/2): c0 = tanh(1)/2. At step 1 the
    # builds that add the kernel before the bias lose 0.5 h0 (gates 1/2 again); this engine, starting from
    # the bias, keeps it (gates sigmoid(0.5 h0)).
    c0 = math.tanh(1) / 2
    h0 = 0.5 * math.tanh(c0)
    eigen = 0.5 * math.tanh(0.5 * c0 + 0.5 * math.tanh(1))
    s = _sigmoid(0.5 * h0)
    engine = s * math.tanh(s * c0 + s * math.tanh(1))
    return {"Eigen LSTMLayer/LSTMLayerT": eigen, "this engine": engine}


def _tolerance(doc: dict[str, Any], dtype: str) -> tuple[float, float]:
    return tolerance_for(doc, dtype, 64)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_gru_with_cancelling_biases_warns_naming_the_layer_and_the_builds_that_disagree(dtype):
    doc = _gru(BIG[dtype])
    xs = np.vstack([[1.0], np.random.default_rng(1).uniform(-1, 1, (63, 1))])
    atol, rtol = _tolerance(doc, dtype)
    check = check_builds(load(doc, dtype), doc, xs, atol=atol, rtol=rtol)
    assert check.status == WARN
    [finding] = check.figures["findings"]
    assert (finding["pointer"], finding["kind"], finding["step"]) == ("/layers/0", "addition-order", 0)
    for build, value in GRU_FIRST_STEP.items():
        assert finding["values"][build] == pytest.approx(value, rel=1e-6)
    assert check.summary.startswith("/layers/0 (gru): RTNeural's builds can disagree")
    assert "Eigen GRULayer/GRULayerT and STL/xsimd GRULayer give 0.5" in check.summary
    assert "STL GRULayerT, xsimd GRULayerT and this engine give 0.37754" in check.summary


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_lstm_whose_kernel_cancels_its_bias_warns_naming_the_layer_and_the_builds_that_disagree(dtype):
    doc = _lstm(BIG[dtype])
    atol, rtol = _tolerance(doc, dtype)
    xs = np.random.default_rng(2).uniform(-1, 1, (64, 1))
    check = check_builds(load(doc, dtype), doc, xs, atol=atol, rtol=rtol)
    assert check.status == WARN
    [finding] = check.figures["findings"]
    assert (finding["pointer"], finding["type"]) == ("/layers/1", "lstm")
    assert "Eigen LSTMLayer/LSTMLayerT, STL/xsimd LSTMLayer and STL/xsimd LSTMLayerT give" in check.summary
    assert "this engine gives" in check.summary
    assert finding["terms"] >= 2 * BIG[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_engine_computes_one_of_the_builds_answers_on_the_cancelling_examples(dtype):
    gru = load(_gru(BIG[dtype]), dtype).run(np.array([[1.0]]))
    assert gru[0, 0] == pytest.approx(GRU_FIRST_STEP["this engine"], rel=1e-6)
    lstm = load(_lstm(BIG[dtype]), dtype).run(np.zeros((2, 1)))
    assert lstm[1, 0] == pytest.approx(_lstm_second_step()["this engine"], rel=1e-6)


@pytest.mark.parametrize("name", ["gru.json", "lstm.json", "mlp.json", "conv1d.json", "conv2d.json"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ordinary_models_pass_the_builds_check(name, dtype):
    doc = json.loads((GOOD / name).read_text())
    model = load(doc, dtype)
    atol, rtol = tolerance_for(doc, dtype, 256)
    xs = np.random.default_rng(0).uniform(-1, 1, (256, model.in_size))
    check = check_builds(model, doc, xs, atol=atol, rtol=rtol)
    assert check.status == PASS, check.summary


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_exports_have_no_build_dependent_layer(data):
    from verifier.pytorch.export import export
    from verifier.testing.strategies import architectures, describe, modules

    spec = data.draw(architectures(), label="spec")
    doc = export(modules(spec), in_size=spec["in_size"])
    model = load(doc, "float32")
    atol, rtol = tolerance_for(doc, "float32", 64)
    xs = np.random.default_rng(0).uniform(-1, 1, (64, model.in_size))
    check = check_builds(model, doc, xs, atol=atol, rtol=rtol)
    assert check.status == PASS, f"{describe(spec)}: {check.summary}"


def _nan_into_relu(last: dict[str, Any]) -> dict[str, Any]:
    # float32: 3e38 * 2 overflows to +inf and -inf, whose sum is NaN.
    dense = {"type": "dense", "activation": "", "shape": [None, None, 2]}
    return {
        "in_shape": [None, None, 1],
        "layers": [
            {**dense, "weights": [[[3e38, -3e38]], [0.0, 0.0]]},
            {**dense, "weights": [[[1, 1], [1, 1]], [0, 0]]},
            last,
        ],
    }


NAN_CASES = {
    "activation-entry": {"type": "activation", "activation": "relu", "shape": [None, None, 2], "weights": []},
    "dense-activation": {
        "type": "dense",
        "activation": "relu",
        "shape": [None, None, 2],
        "weights": [[[1, 0], [0, 1]], [0, 0]],
    },
}


@pytest.mark.parametrize("case", sorted(NAN_CASES))
def test_a_nan_reaching_relu_warns_that_the_builds_disagree(case):
    doc = _nan_into_relu(NAN_CASES[case])
    model = load(doc, "float32")
    check = check_builds(model, doc, np.full((4, 1), 2.0), atol=1e-5, rtol=1e-5)
    assert check.status == WARN
    # the sum that makes the NaN (inf - inf) may be named too: its overflow is build-dependent as well
    kinds = {f["kind"]: f for f in check.figures["findings"]}
    assert set(kinds) <= {"nan-into-relu", "overflow"}
    finding = kinds["nan-into-relu"]
    assert (finding["pointer"], finding["step"]) == ("/layers/2", 0)
    assert "Eigen builds output NaN" in finding["summary"]
    assert "STL builds (and this engine) 0" in finding["summary"]
    np.testing.assert_array_equal(model.run(np.full((1, 1), 2.0)), [[0.0, 0.0]])


def test_a_relu_dense_entry_without_bias_is_checked_not_a_traceback():
    # Found by tests/test_differential.py: a dense entry exported with bias=False holds its kernel only.
    doc = _nan_into_relu({"type": "dense", "activation": "relu", "shape": [None, None, 2],
                          "weights": [[[1, 0], [0, 1]]]})  # fmt: skip
    model = load(doc, "float32")
    check = check_builds(model, doc, np.full((2, 1), 2.0), atol=1e-5, rtol=1e-5)
    assert check.status == WARN
    nan = [f for f in check.figures["findings"] if f["kind"] == "nan-into-relu"]
    assert [(f["pointer"], f["step"]) for f in nan] == [("/layers/2", 0)]
    clean = {**doc, "layers": doc["layers"][2:], "in_shape": [None, None, 2]}
    assert check_builds(load(clean), clean, np.ones((2, 2)), atol=1e-5, rtol=1e-5).status == PASS


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_relu_convolution_fed_an_infinity_warns_that_a_nan_can_reach_relu(dtype):
    # Found by tests/test_differential.py: inf - inf inside the convolution's own sum is NaN before relu;
    # RTNeural's Eigen build outputs it, this engine 0.
    from verifier.pytorch.export import export
    from verifier.testing.strategies import modules

    spec = {"in_size": 2, "layers": [{"type": "conv1d", "out": 2, "kernel_size": 2, "activation": "relu"}]}
    doc = export(modules(spec), in_size=2)
    model = load(doc, dtype)
    xs = np.array([[1.0, 0.5], [np.inf, -np.inf], [0.0, 0.0]])
    check = check_builds(model, doc, xs, atol=1e-5, rtol=1e-5)
    assert check.status == WARN
    [finding] = check.figures["findings"]
    assert (finding["pointer"], finding["kind"], finding["step"]) == ("/layers/0", "nan-into-relu", 1)
    assert check_builds(model, doc, xs[[0, 2]], atol=1e-5, rtol=1e-5).status == PASS
    huge = np.full((1, 2), float(np.finfo(dtype).max) / 2)
    assert check_builds(model, doc, huge, atol=1e-5, rtol=1e-5).status == WARN


def test_a_relu_only_model_without_nan_passes():
    doc = json.loads((GOOD / "mlp.json").read_text())
    assert any(e.get("activation") == "relu" for e in doc["layers"])
    model = load(doc)
    assert check_builds(model, doc, np.zeros((3, model.in_size)), atol=1e-5, rtol=1e-5).status == PASS


def test_verify_reports_the_build_dependent_gru_as_a_warning_check(tmp_path):
    path = tmp_path / "gru.json"
    path.write_text(json.dumps(_gru(BIG["float32"])))
    result = verify_file(str(path), Options(**FAST))
    check = result.check("rtneural-builds")
    assert check is not None
    assert check.status == WARN
    assert check.figures["findings"][0]["pointer"] == "/layers/0"


def test_verify_skips_the_builds_check_of_a_file_that_does_not_load(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"in_shape": [None, None, 1], "layers": []}))
    check = verify_file(str(path), Options(**FAST)).check("rtneural-builds")
    assert check is not None
    assert check.status == "skip"


def _recurrent_of_overflowing_input(kind: str, big: float) -> dict[str, Any]:
    # One unit fed three inputs: each gate's kernel column is big, big, -big. From inputs of 1 the exact sum
    # is big, but (big + big) overflows first in one order and (big - big) cancels first in another.
    gates = 4 if kind == "lstm" else 3
    bias = [0.0] * gates if kind == "lstm" else [[0.0] * gates] * 2
    return {
        "in_shape": [None, None, 3],
        "layers": [{"type": kind, "activation": "tanh", "shape": [None, None, 1],
                    "weights": [[[big] * gates, [big] * gates, [-big] * gates], [[0.5] * gates], bias]}],
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_recurrent_gate_whose_input_product_can_overflow_warns_that_builds_may_give_inf_or_nan(kind):
    # Found by tests/test_differential_modelt.py: a 279-wide LSTM fed float32's largest value gave NaN in
    # RTNeural's Eigen builds and finite outputs in this engine, and the check passed: it recomputes W x
    # exactly, rounded once, which no build does when a partial sum overflows.
    doc = _recurrent_of_overflowing_input(kind, float(np.finfo(np.float32).max) * 0.75)
    model = load(doc, "float32")
    check = check_builds(model, doc, np.ones((2, 3)), atol=1e-5, rtol=1e-5)
    assert check.status == WARN
    [finding] = check.figures["findings"]
    assert (finding["pointer"], finding["kind"], finding["step"]) == ("/layers/0", "overflow", 0)
    calm = check_builds(model, doc, np.full((2, 3), 1e-3), atol=1e-5, rtol=1e-5)
    assert calm.status == PASS


@pytest.mark.parametrize(("activation", "kind"), [("", "overflow"), ("relu", "nan-into-relu")])
def test_a_conv2d_sum_that_can_overflow_warns_that_builds_may_give_inf_or_nan(activation, kind):
    # Found by tests/test_differential_modelt.py: a conv2d fed float32's largest values (and one of weights
    # near it) gave NaN in RTNeural's Eigen ModelT and finite values in this engine, and the check passed.
    big = float(np.finfo(np.float32).max) * 0.75
    doc = {
        "in_shape": [None, None, 3, 1],
        "layers": [{"type": "conv2d", "activation": activation, "shape": [None, None, 1, 1],
                    "kernel_size_time": 1, "kernel_size_feature": 3, "dilation": 1, "strides": 1,
                    "num_filters_in": 1, "num_features_in": 3, "num_filters_out": 1, "padding": "valid",
                    "weights": [[[[[big]], [[big]], [[-big]]]], [0.0]]}],
    }  # fmt: skip
    model = load(doc, "float32")
    check = check_builds(model, doc, np.ones((2, 3)), atol=1e-5, rtol=1e-5)
    assert check.status == WARN
    [finding] = check.figures["findings"]
    assert (finding["pointer"], finding["kind"], finding["step"]) == ("/layers/0", kind, 0)
    calm = check_builds(model, doc, np.full((2, 3), 1e-3), atol=1e-5, rtol=1e-5)
    assert calm.status == PASS


# --------------------------------------------------------------------------- against the real RTNeural


def _rtneural_or_skip() -> Any:
    try:
        return import_module("_verifier_rtneural")
    except ModuleNotFoundError:
        if os.environ.get("RTNEURAL_DIR"):  # a run meant to check against RTNeural must not pass without it
            pytest.fail("RTNEURAL_DIR is set but _verifier_rtneural is not built", pytrace=False)
        reason = "RTNeural backend not built: install with RTNEURAL_DIR=/path/to/RTNeural to test against it"
        if IN_CI:
            pytest.fail(f"{reason}; under CI that is a failure", pytrace=False)
        pytest.skip(reason)


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rtneurals_eigen_build_gives_the_answer_the_warning_names_for_it(dtype):
    from verifier.engine.backends import load_backend

    rtneural = _rtneural_or_skip()
    assert rtneural.backend.lower().startswith("eigen"), "these expected values are the Eigen build's"
    gru = load_backend(_gru(BIG[dtype]), backend="rtneural", dtype=dtype).run(np.array([[1.0]]))
    assert gru[0, 0] == pytest.approx(GRU_FIRST_STEP["Eigen GRULayer/GRULayerT"], rel=1e-6)
    lstm = load_backend(_lstm(BIG[dtype]), backend="rtneural", dtype=dtype).run(np.zeros((2, 1)))
    assert lstm[1, 0] == pytest.approx(_lstm_second_step()["Eigen LSTMLayer/LSTMLayerT"], rel=1e-6)
    # and the check's teacher-forced values for that build are the same numbers
    doc = _lstm(BIG[dtype])
    check = check_builds(load(doc, dtype), doc, np.zeros((2, 1)), atol=1e-12, rtol=1e-12)
    assert check.figures["findings"][0]["values"]["Eigen LSTMLayer/LSTMLayerT"] == pytest.approx(lstm[1, 0])


@pytest.mark.rtneural
@pytest.mark.parametrize("case", sorted(NAN_CASES))
def test_rtneurals_eigen_build_outputs_nan_where_the_engine_outputs_zero(case):
    from verifier.engine.backends import load_backend

    _rtneural_or_skip()
    doc = _nan_into_relu(NAN_CASES[case])
    assert np.isnan(load_backend(doc, backend="rtneural", dtype="float32").run(np.full((1, 1), 2.0))).all()


# --------------------------------------------------------------------------- against RTNeural's own builds
# tests/rtneural_probes/build_orders.cpp loads a file with RTNeural's dynamic parseJson and into a ModelT, for
# its STL, Eigen and xsimd backends: each must give what the check says that build gives.

PROBE = Path(__file__).resolve().parent / "rtneural_probes" / "build_orders.cpp"
IN_CI = os.environ.get("CI", "").lower() == "true"
# backend -> (the build name of its dynamic Model, of its ModelT), per layer type
PROBE_BUILDS = {
    "stl": {
        "gru": ("STL/xsimd GRULayer", "STL GRULayerT"),
        "lstm": ("STL/xsimd LSTMLayer", "STL/xsimd LSTMLayerT"),
    },
    "eigen": {
        "gru": ("Eigen GRULayer/GRULayerT", "Eigen GRULayer/GRULayerT"),
        "lstm": ("Eigen LSTMLayer/LSTMLayerT", "Eigen LSTMLayer/LSTMLayerT"),
    },
    "xsimd": {
        "gru": ("STL/xsimd GRULayer", "xsimd GRULayerT"),
        "lstm": ("STL/xsimd LSTMLayer", "STL/xsimd LSTMLayerT"),
    },
}


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = os.environ.get("RTNEURAL_DIR")
    if not root:
        reason = "RTNEURAL_DIR is not set: RTNeural's builds are not compiled"
        if IN_CI:
            pytest.fail(f"{reason}; under CI that is a failure", pytrace=False)
        pytest.skip(reason)
    cxx = next(
        (c for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c and shutil.which(c)), None
    )
    if cxx is None:
        reason = "no C++ compiler to build the RTNeural probe"
        if IN_CI:
            pytest.fail(f"{reason}; under CI that is a failure", pytrace=False)
        pytest.skip(reason)
    build = tmp_path_factory.mktemp("build-orders")
    modules = Path(root) / "modules"
    flags = {"stl": []}
    if (modules / "Eigen" / "Eigen" / "Dense").exists():
        flags["eigen"] = ["-DRTNEURAL_USE_EIGEN=1", "-isystem", str(modules / "Eigen")]
    if (modules / "xsimd" / "include" / "xsimd" / "xsimd.hpp").exists():
        flags["xsimd"] = ["-DRTNEURAL_USE_XSIMD=1", "-isystem", str(modules / "xsimd" / "include")]
    common = [cxx, "-std=c++17", "-O2", "-DRTNEURAL_NAMESPACE=RTNeural", "-DRTNEURAL_DEFAULT_ALIGNMENT=16"]
    running = {
        backend: subprocess.Popen(
            [*common, "-isystem", root, *extra, str(PROBE), "-o", str(build / backend)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for backend, extra in flags.items()
    }
    for backend, process in running.items():
        _, err = process.communicate()
        assert process.returncode == 0, f"building the {backend} probe failed:\n{err[-4000:]}"
    return {backend: build / backend for backend in running}


def _probe(
    program: Path, arch: str, dtype: str, doc: dict[str, Any], xs: list[float], tmp: Path
) -> list[list[float]]:
    model = tmp / f"{arch}-{dtype}.json"
    model.write_text(json.dumps(doc))
    done = subprocess.run(
        [str(program), arch, dtype, str(model), *map(str, xs)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [[float(v) for v in line.split()[1:]] for line in done.stdout.splitlines()]


@pytest.mark.rtneural
@pytest.mark.parametrize("backend", ["stl", "eigen", "xsimd"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_each_of_rtneurals_builds_gives_what_the_check_says_it_gives(probes, backend, dtype, tmp_path):
    if backend not in probes:
        pytest.skip(f"the RTNeural checkout has no {backend} module")
    cases = {
        # (document, inputs, the step where the builds first differ from one shared state)
        "gru": (_gru(BIG[dtype]), [1.0], 0),
        "lstm": (_lstm(BIG[dtype], constant=False), [1.0, 1.0], 1),
    }
    for arch, (doc, xs, step) in cases.items():
        dynamic, static = _probe(probes[backend], arch, dtype, doc, xs, tmp_path)
        inputs = np.array(xs)[:, None]
        check = check_builds(load(doc, dtype), doc, inputs, atol=1e-12, rtol=1e-12)
        [finding] = check.figures["findings"]
        assert finding["step"] == step
        rel = 1e-6 if dtype == "float32" else 1e-12
        for name, real in zip(PROBE_BUILDS[backend][arch], (dynamic[step], static[step]), strict=True):
            assert finding["values"][name] == pytest.approx(real, rel=rel), f"{arch} {name} ({backend} build)"


def test_a_stream_of_no_steps_skips_the_builds_check():
    doc = _gru(1.0)
    assert check_builds(load(doc), doc, np.zeros((0, 1)), atol=1e-5, rtol=1e-5).status == "skip"


def test_a_numeric_failure_on_a_build_dependent_layer_says_the_builds_disagree(tmp_path):
    # The candidate's bias rows are +1e9 and -1e9 with r saturated at 1: float32 loses W x and U h (any
    # order of additions does), the float64 reference keeps them. The failure is not an export mistake.
    doc = _gru(1.0)
    bias = [[0.0, 100.0, 1e9], [0.0, 0.0, -1e9]]
    doc["layers"][0]["weights"] = [[[0.5, 0.0, 0.5]], [[0.5, 0.0, 0.5]], bias]
    path = tmp_path / "gru.json"
    path.write_text(json.dumps(doc))
    result = verify_file(str(path), Options(**FAST))
    for name in ("numeric-frame", "numeric-stream"):
        check = result.check(name)
        assert check is not None
        assert check.failed
        assert "RTNeural's own builds disagree on /layers/0 (rtneural-builds)" in check.summary
        assert check.figures["builds_disagree"] == ["/layers/0"]
    builds = result.check("rtneural-builds")
    assert builds is not None
    assert builds.status == WARN


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_sum_that_can_overflow_warns_that_builds_may_give_inf_or_nan(dtype):
    # Found by tests/test_differential.py: a wide dense sum of huge terms of both signs was NaN in this engine
    # and -inf in RTNeural's Eigen build; no order is "right", so the check names it instead of passing.
    big = float(np.finfo(dtype).max) / 4
    doc = {
        "in_shape": [None, None, 4],
        "layers": [{"type": "dense", "activation": "", "shape": [None, None, 1],
                    "weights": [[[big], [big], [-big], [-big]], [0.0]]}],
    }  # fmt: skip
    model = load(doc, dtype)
    check = check_builds(model, doc, np.full((3, 4), 2.0), atol=1e-5, rtol=1e-5)
    assert check.status == WARN
    [finding] = check.figures["findings"]
    assert (finding["pointer"], finding["kind"], finding["step"]) == ("/layers/0", "overflow", 0)
    calm = check_builds(model, doc, np.full((3, 4), 1e-3), atol=1e-5, rtol=1e-5)
    assert calm.status == PASS
