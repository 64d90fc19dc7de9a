"""The optional RTNeural backend: the real library, run side by side with our engine on the same files.

Everything that needs ``_verifier_rtneural`` skips when it is not built (install with ``RTNEURAL_DIR``
naming an RTNeural checkout); when ``RTNEURAL_DIR`` is set but the module is missing, those tests fail
instead, so that a run meant to check against RTNeural never passes without doing so.
"""

from __future__ import annotations

import json
import os
from importlib import import_module
from types import ModuleType
from typing import Any

import corpus
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from same_padding_sim import conv2d_document, reads_outside, same_convolution, triples

from verifier.checks.compare import compare
from verifier.engine.backends import BACKENDS, available_backends, load_backend
from verifier.errors import ModelFormatError

DTYPES = ("float32", "float64")

# Our engine and RTNeural compute the same operations in the same type, but not in the same order (dot
# products, fused multiply-adds, exp/tanh implementations), so they agree to round-off, not bit for bit.
# Measured on every keras-json corpus model and every accepted probe, streamed and frame by frame
# (RTNeural 1fb1f075, Eigen backend): at most 2.2e-16 in float64 and 1.8e-7 in float32. float64 is held to
# 1e-12, the figure RTNeural's own test holds two of its implementations to on full_model.json; float32 to
# 1e-5, about 50x the measured worst.
ENGINE_VS_RTNEURAL_ATOL = {"float32": 1e-5, "float64": 1e-12}


def _rtneural_or_skip() -> ModuleType:
    try:
        return import_module("_verifier_rtneural")
    except ModuleNotFoundError:
        if os.environ.get("RTNEURAL_DIR"):
            pytest.fail(
                "RTNEURAL_DIR is set but _verifier_rtneural is not built: reinstall the package with "
                "RTNEURAL_DIR exported (pip install --no-build-isolation -e .)",
                pytrace=False,
            )
        reason = "RTNeural backend not built: install with RTNEURAL_DIR=/path/to/RTNeural to test against it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; under CI that is a failure (.ci/run builds it from ../shared/rtneural)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def rtneural() -> ModuleType:
    return _rtneural_or_skip()


def _keras_cases(*, with_expected: bool = False) -> list[str]:
    names = [
        e["name"]
        for e in corpus.manifest()["cases"]
        if e["format"] == "keras-json" and (e["expected"] is not None or not with_expected)
    ]
    return names or ["corpus-missing"]


def _model_path(name: str) -> str:
    entry = corpus.case(name)
    return str(corpus.require_corpus() / entry["model"])


def _aligned(entry: dict[str, Any], outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(expected, actual) steps the manifest says to compare, following its offsets and output choice."""
    actual, expected = corpus.aligned(entry, outputs)
    return expected, actual


# --------------------------------------------------------------------------- backends without RTNeural


def test_engine_is_always_available() -> None:
    assert available_backends()[0] == "engine"
    assert set(available_backends()) <= set(BACKENDS)


def test_unknown_backend_name_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="engine, rtneural"):
        load_backend({"in_shape": [None, 1], "layers": []}, backend="onnx")


def test_asking_for_rtneural_when_it_is_not_built_says_how_to_build_it(monkeypatch) -> None:
    import verifier.engine.backends as backends

    monkeypatch.setattr(backends, "_rtneural_module", lambda: None)
    assert backends.available_backends() == ["engine"]
    with pytest.raises(ImportError, match="RTNEURAL_DIR"):
        backends.load_backend(_model_path("keras_dense"), backend="rtneural")


def test_rtneural_is_listed_exactly_when_its_module_imports() -> None:
    try:
        import_module("_verifier_rtneural")
        built = True
    except ModuleNotFoundError:
        built = False
    assert ("rtneural" in available_backends()) is built


# --------------------------------------------------------------------------- RTNeural vs the corpus


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", _keras_cases(with_expected=True))
def test_rtneural_backend_reproduces_conformance_case(rtneural: ModuleType, name: str, dtype: str) -> None:
    # keras_full_model_self_consistency has no expected file: it is checked engine-vs-RTNeural below.
    entry = corpus.case(name)
    model = load_backend(_model_path(name), backend="rtneural", dtype=dtype)
    expected, actual = _aligned(entry, model.run(corpus.steps(entry, "input")))
    result = compare(expected, actual, atol=entry["tolerance"]["abs"])
    assert result.passed, f"{name} ({dtype}, RTNeural {rtneural.backend}): {result.summary()}"


# --------------------------------------------------------------------------- our engine vs RTNeural


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", _keras_cases())
def test_engine_agrees_with_rtneural_on_corpus_model(rtneural: ModuleType, name: str, dtype: str) -> None:
    entry = corpus.case(name)
    xs = corpus.steps(entry, "input")
    engine = load_backend(_model_path(name), backend="engine", dtype=dtype)
    real = load_backend(_model_path(name), backend="rtneural", dtype=dtype)
    assert (engine.in_size, engine.out_size) == (real.in_size, real.out_size)
    for pattern in ("run", "run_frames"):
        engine.reset()
        real.reset()
        result = compare(
            getattr(real, pattern)(xs), getattr(engine, pattern)(xs), ENGINE_VS_RTNEURAL_ATOL[dtype]
        )
        assert result.passed, f"{name} {pattern} ({dtype}): engine vs RTNeural: {result.summary()}"


def _export_spec(spec: dict[str, Any]) -> dict[str, Any]:
    from verifier.pytorch.export import export
    from verifier.testing.strategies import modules

    return export(modules(spec), in_size=spec["in_size"])


def _random_model_tolerance(doc: dict[str, Any], dtype: str) -> tuple[float, float]:
    # The engine's own tolerance against the float64 reference. Between the engine and RTNeural, in the same
    # type, the worst error measured over 5,000 generated models was a few percent of it.
    from verifier.checks.tolerance import tolerance_for

    return tolerance_for(doc, dtype)


def _architectures() -> st.SearchStrategy[dict[str, Any]]:
    from verifier.testing.strategies import architectures

    return architectures()


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_engine_agrees_with_rtneural_on_random_models(
    rtneural: ModuleType, dtype: str, data: st.DataObject
) -> None:
    from verifier.testing.strategies import describe, inputs

    spec = data.draw(_architectures(), label="spec")
    doc = _export_spec(spec)
    xs = data.draw(inputs(spec["in_size"]), label="xs")
    try:
        engine = load_backend(doc, backend="engine", dtype=dtype)
    except ModelFormatError:  # an export our loader refuses must not reach RTNeural either
        with pytest.raises(ModelFormatError):
            load_backend(doc, backend="rtneural", dtype=dtype)
        return
    real = load_backend(doc, backend="rtneural", dtype=dtype)
    atol, rtol = _random_model_tolerance(doc, dtype)
    for pattern in ("run", "run_frames"):
        engine.reset()
        real.reset()
        result = compare(getattr(real, pattern)(xs), getattr(engine, pattern)(xs), atol, rtol)
        assert result.passed, f"{pattern} ({dtype}) of {describe(spec)}: vs RTNeural: {result.summary()}"


# --------------------------------------------------------------------------- the gate in front of RTNeural


def _negative_names(rejected: bool) -> list[str]:
    names = [
        e["name"]
        for e in corpus.manifest()["negative_cases"]
        if e["expected_verifier_behaviour"].startswith("reject") is rejected
    ]
    return names or ["corpus-missing"]


@pytest.mark.rtneural
@pytest.mark.parametrize("name", _negative_names(rejected=True))
def test_rtneural_backend_refuses_every_rejected_negative_case_before_rtneural_sees_it(
    rtneural: ModuleType, name: str
) -> None:
    # Several of these crash the real RTNeural (docs/format.md §13): reaching it would end this process.
    doc = corpus.negative_document(corpus.case(name, "negative_cases"))
    with pytest.raises(ModelFormatError) as caught:
        load_backend(doc, backend="rtneural", dtype="float64")
    assert not caught.value.message.startswith("RTNeural refuses"), "our loader must refuse it first"
    assert caught.value.source == "<dict>"


def _base_case_input(entry: dict[str, Any]) -> np.ndarray:
    base = next(e for e in corpus.manifest()["cases"] if e.get("model") == entry["base_model"])
    return corpus.steps(base, "input")


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", _negative_names(rejected=False))
def test_engine_agrees_with_rtneural_on_accepted_quirks(rtneural: ModuleType, name: str, dtype: str) -> None:
    # Files RTNeural reads without complaint but that are odd or wrong (an ignored activation, a missing
    # dense bias, unswapped GRU gates): whatever they mean, our engine must compute what RTNeural computes.
    entry = corpus.case(name, "negative_cases")
    doc = corpus.negative_document(entry)
    try:
        engine = load_backend(doc, backend="engine", dtype=dtype)
    except ModelFormatError:
        with pytest.raises(ModelFormatError):
            load_backend(doc, backend="rtneural", dtype=dtype)
        return
    real = load_backend(doc, backend="rtneural", dtype=dtype)
    xs = _base_case_input(entry)
    result = compare(real.run(xs), engine.run(xs), ENGINE_VS_RTNEURAL_ATOL[dtype])
    assert result.passed, f"{name} ({dtype}): engine vs RTNeural: {result.summary()}"


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
def test_engine_and_rtneural_agree_on_same_conv2d_kernels_wider_than_the_frame_that_rule_e207_lets_through(
    rtneural: ModuleType, dtype: str
) -> None:
    # Rule E207 refuses only the kernels RTNeural reads outside its frame with (tests/test_same_padding.py);
    # every other wide kernel loads, and RTNeural must then compute the zero-padded convolution, as we do.
    loaded = [t for t in triples(6, 6, 3) if t[1] > t[0] and not reads_outside(*t)]
    rng = np.random.default_rng(5)
    for features, kernel, stride in loaded:
        doc = conv2d_document(features, kernel, stride, rng)
        xs = rng.uniform(-1, 1, size=(7, features * 2))
        real = load_backend(doc, backend="rtneural", dtype=dtype).run(xs)
        where = f"features {features}, kernel {kernel}, stride {stride} ({dtype})"
        engine = compare(
            real, load_backend(doc, backend="engine", dtype=dtype).run(xs), ENGINE_VS_RTNEURAL_ATOL[dtype]
        )
        assert engine.passed, f"{where}: engine vs RTNeural: {engine.summary()}"
        zero_padded = compare(same_convolution(doc, xs), real, 1e-5 if dtype == "float32" else 1e-12)
        assert zero_padded.passed, (
            f"{where}: RTNeural vs the zero-padded convolution: {zero_padded.summary()}"
        )


@pytest.mark.rtneural
def test_refusal_names_the_file_it_came_from(rtneural: ModuleType, tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"in_shape": [None, 1], "layers": []}))
    with pytest.raises(ModelFormatError) as caught:
        load_backend(str(path), backend="rtneural")
    assert str(caught.value.source).endswith("bad.json")


# --------------------------------------------------------------------------- the model surface


def _conv2d_model(dtype: str):
    return load_backend(_model_path("keras_conv2d"), backend="rtneural", dtype=dtype)


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_returns_the_whole_output_vector_like_a_streamed_step(
    rtneural: ModuleType, dtype: str
) -> None:
    model = _conv2d_model(dtype)
    xs = corpus.steps(corpus.case("keras_conv2d"), "input")[:20]
    streamed = model.run(xs)
    model.reset()
    stepped = np.stack([model.forward(x) for x in xs])
    assert stepped.shape == (20, model.out_size) == (20, 8)
    assert stepped.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(stepped, streamed)


@pytest.mark.rtneural
def test_run_frames_resets_before_every_step(rtneural: ModuleType) -> None:
    model = load_backend(_model_path("keras_lstm"), backend="rtneural", dtype="float64")
    xs = corpus.steps(corpus.case("keras_lstm"), "input")[:10]
    frames = model.run_frames(xs)
    one_by_one = []
    for x in xs:
        model.reset()
        one_by_one.append(model.forward(x))
    np.testing.assert_array_equal(frames, np.stack(one_by_one))
    model.reset()
    assert not np.array_equal(frames, model.run(xs)), "the LSTM must carry state when streamed"


# A first layer that RTNeural's Eigen backend reads through an aligned map of the model's input pointer.
_ACTIVATION_FIRST = {
    "in_shape": [None, None, 5],
    "layers": [
        {"type": "activation", "activation": "tanh", "shape": [None, None, 5], "weights": []},
        {
            "type": "dense",
            "activation": "",
            "shape": [None, None, 2],
            "weights": [[[0.5, -0.25]] * 5, [0.1, 0.2]],
        },
    ],
}


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
def test_unaligned_input_memory_gives_the_same_outputs(rtneural: ModuleType, dtype: str) -> None:
    # The adapter copies each step into an aligned buffer before RTNeural sees it; without that copy, a view
    # one element into an array is a misaligned SIMD load in RTNeural's tanh layer.
    model = load_backend(_ACTIVATION_FIRST, backend="rtneural", dtype=dtype)
    xs = np.linspace(-2.0, 2.0, 40).reshape(8, 5).astype(dtype)
    buffer = np.zeros(xs.size + 1, dtype=dtype)
    unaligned = buffer[1:].reshape(xs.shape)
    unaligned[:] = xs
    assert unaligned.ctypes.data % 16 != 0
    aligned = model.run(xs)
    model.reset()
    np.testing.assert_array_equal(model.run(unaligned), aligned)
    np.testing.assert_array_equal(model.forward(unaligned[3]), aligned[3])


@pytest.mark.rtneural
def test_wrong_input_width_is_a_value_error_not_a_crash(rtneural: ModuleType) -> None:
    model = _conv2d_model("float64")
    with pytest.raises(ValueError, match="expected 23 input values"):
        model.forward(np.zeros(22))
    with pytest.raises(ValueError, match="expected a \\[steps, 23\\] array"):
        model.run(np.zeros(23))


@pytest.mark.rtneural
def test_time_forward_gives_one_positive_latency_per_step(rtneural: ModuleType) -> None:
    model = load_backend(_model_path("keras_gru"), backend="rtneural", dtype="float32")
    for reset_each in (False, True):
        ns = model.time_forward(50, 5, reset_each, seed=1)
        assert ns.dtype == np.int64
        assert ns.shape == (50,)
        assert (ns > 0).all()
