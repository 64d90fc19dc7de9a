"""The native engine against independent numpy maths, the keras-json corpus, and its own API contract.

Every reference below is written from docs/format.md's equations, not from the engine: dense kernels are
[in][out], LSTM gates i, f, c, o with one bias, GRU blocks z, r, c with two bias rows and the recurrent
candidate term inside r * (...), conv1d causal with Wjson[K-1] on the newest input, conv2d causal-valid in
time and valid/same along features.
"""

from __future__ import annotations

import threading

import corpus
import numpy as np
import pytest

from verifier.engine.model import LayerInfo, Model, load
from verifier.errors import ModelFormatError

DTYPES = ["float32", "float64"]
# float64 agrees with a float64 numpy reference to round-off; float32 to a few float32 ulps of O(1) values.
TOLERANCE = {"float32": 2e-5, "float64": 1e-12}


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _model(in_width: int, *layers: dict) -> dict:
    return {"in_shape": [None, None, in_width], "layers": list(layers)}


def _dense(kernel: np.ndarray, bias: np.ndarray | None = None, activation: str = "") -> dict:
    weights = [kernel.tolist()] + ([] if bias is None else [bias.tolist()])
    return {
        "type": "dense",
        "activation": activation,
        "shape": [None, None, kernel.shape[1]],
        "weights": weights,
    }


def _stream(dtype: str, doc: dict, xs: np.ndarray) -> np.ndarray:
    model = load(doc, dtype)
    return model.run(xs)


# --- independent references ------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": _sigmoid,
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
}


def _lstm_reference(xs, kernel, recurrent, bias):
    units = recurrent.shape[0]
    h, c, out = np.zeros(units), np.zeros(units), []
    for x in xs:
        z = x @ kernel + h @ recurrent + bias
        i, f, g, o = (z[k * units : (k + 1) * units] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def _gru_reference(xs, kernel, recurrent, bias):
    units = recurrent.shape[0]
    h, out = np.zeros(units), []
    for x in xs:
        xp = x @ kernel + bias[0]
        hp = h @ recurrent + bias[1]
        z = _sigmoid(xp[:units] + hp[:units])
        r = _sigmoid(xp[units : 2 * units] + hp[units : 2 * units])
        c = np.tanh(xp[2 * units :] + r * hp[2 * units :])
        h = (1 - z) * c + z * h
        out.append(h)
    return np.array(out)


def _conv1d_reference(xs, kernel, bias, dilation, groups):
    k_size, group_in, out_width = kernel.shape
    group_out = out_width // groups
    padded = np.vstack([np.zeros(((k_size - 1) * dilation, xs.shape[1])), xs])
    ys = np.zeros((len(xs), out_width))
    for t in range(len(xs)):
        for o in range(out_width):
            g = o // group_out
            acc = bias[o]
            for k in range(k_size):
                # padded row t + k*d is input step t - (K-1-k)*d: the last tap meets the newest input
                acc += padded[t + k * dilation, g * group_in : (g + 1) * group_in] @ kernel[k, :, o]
            ys[t, o] = acc
    return ys


def _conv2d_reference(frames, kernel, bias, features_in, stride, dilation, same):
    k_time, k_feature, c_in, c_out = kernel.shape
    x = frames.reshape(len(frames), features_in, c_in)
    if same:
        f_out = -(-features_in // stride)
        rest = features_in % stride
        total = max(k_feature - (stride if rest == 0 else rest), 0)
        left = total // 2
    else:
        f_out = -(-(features_in - k_feature + 1) // stride)
        left = 0
    rf = 1 + (k_time - 1) * dilation
    history = np.vstack([np.zeros((rf - 1, features_in, c_in)), x])
    ys = np.zeros((len(frames), f_out, c_out))
    for t in range(len(frames)):
        for fo in range(f_out):
            acc = bias.copy()
            for i in range(k_time):
                frame = history[t + i * dilation]  # row 0 of the kernel meets the oldest frame
                for kf in range(k_feature):
                    fi = fo * stride + kf - left
                    if 0 <= fi < features_in:
                        acc += frame[fi] @ kernel[i, kf]
            ys[t, fo] = acc
    return ys.reshape(len(frames), -1)


# --- layer maths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_is_x_times_kernel_in_out_plus_bias(dtype):
    rng = _rng(1)
    kernel, bias = rng.normal(size=(3, 5)), rng.normal(size=5)
    xs = rng.uniform(-1, 1, size=(7, 3))
    got = _stream(dtype, _model(3, _dense(kernel, bias)), xs)
    np.testing.assert_allclose(got, xs @ kernel + bias, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_without_bias_uses_zero_bias_and_warns(dtype):
    rng = _rng(2)
    kernel = rng.normal(size=(2, 4))
    xs = rng.uniform(-1, 1, size=(5, 2))
    model = load(_model(2, _dense(kernel)), dtype)
    np.testing.assert_allclose(model.run(xs), xs @ kernel, atol=TOLERANCE[dtype], rtol=0)
    assert model.warnings == [
        ("/layers/0/weights", "dense layer without a bias array: RTNeural uses a zero bias")
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_gates_are_i_f_c_o_with_one_bias(dtype):
    rng = _rng(3)
    units, width = 5, 3
    kernel, recurrent = rng.normal(size=(width, 4 * units)), rng.normal(size=(units, 4 * units)) * 0.5
    bias = rng.normal(size=4 * units)
    xs = rng.uniform(-1, 1, size=(30, width))
    entry = {
        "type": "lstm",
        "activation": "tanh",
        "shape": [None, None, units],
        "weights": [kernel.tolist(), recurrent.tolist(), bias.tolist()],
    }
    got = _stream(dtype, _model(width, entry), xs)
    np.testing.assert_allclose(
        got, _lstm_reference(xs, kernel, recurrent, bias), atol=TOLERANCE[dtype], rtol=0
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_blocks_are_z_r_c_with_recurrent_bias_inside_reset_gate(dtype):
    rng = _rng(4)
    units, width = 4, 3
    kernel, recurrent = rng.normal(size=(width, 3 * units)), rng.normal(size=(units, 3 * units)) * 0.5
    bias = rng.normal(size=(2, 3 * units))
    xs = rng.uniform(-1, 1, size=(30, width))
    entry = {
        "type": "gru",
        "activation": "tanh",
        "shape": [None, None, units],
        "weights": [kernel.tolist(), recurrent.tolist(), bias.tolist()],
    }
    got = _stream(dtype, _model(width, entry), xs)
    np.testing.assert_allclose(
        got, _gru_reference(xs, kernel, recurrent, bias), atol=TOLERANCE[dtype], rtol=0
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("k_size", "dilation", "groups"), [(1, 1, 1), (3, 1, 1), (3, 2, 1), (4, 3, 2), (2, 1, 4)]
)
def test_conv1d_is_causal_with_last_tap_on_newest_input(dtype, k_size, dilation, groups):
    rng = _rng(5)
    width, out_width = 4, 8
    kernel = rng.normal(size=(k_size, width // groups, out_width))
    bias = rng.normal(size=out_width)
    xs = rng.uniform(-1, 1, size=(20, width))
    entry = {
        "type": "conv1d",
        "activation": "",
        "shape": [None, None, out_width],
        "kernel_size": [k_size],
        "dilation": [dilation],
        "groups": groups,
        "weights": [kernel.tolist(), bias.tolist()],
    }
    got = _stream(dtype, _model(width, entry), xs)
    np.testing.assert_allclose(
        got, _conv1d_reference(xs, kernel, bias, dilation, groups), atol=TOLERANCE[dtype], rtol=0
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("k_feature", "stride", "padding"),
    [(3, 1, "valid"), (3, 2, "valid"), (3, 2, "same"), (4, 3, "same"), (2, 1, "same")],
)
def test_conv2d_streams_frames_causal_in_time_and_padded_along_features(dtype, k_feature, stride, padding):
    rng = _rng(6)
    features, c_in, c_out, k_time, dilation = 7, 2, 3, 3, 2
    kernel = rng.normal(size=(k_time, k_feature, c_in, c_out))
    bias = rng.normal(size=c_out)
    frames = rng.uniform(-1, 1, size=(12, features * c_in))
    expected = _conv2d_reference(frames, kernel, bias, features, stride, dilation, padding == "same")
    f_out = expected.shape[1] // c_out
    entry = {
        "type": "conv2d",
        "activation": "",
        "shape": [None, None, f_out, c_out],
        "kernel_size_time": k_time,
        "kernel_size_feature": k_feature,
        "dilation": dilation,
        "strides": stride,
        "num_filters_in": c_in,
        "num_features_in": features,
        "num_filters_out": c_out,
        "padding": padding,
        "weights": [kernel.tolist(), bias.tolist()],
    }
    doc = {"in_shape": [None, None, features, c_in], "layers": [entry]}
    np.testing.assert_allclose(_stream(dtype, doc, frames), expected, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_normalises_with_frozen_statistics(dtype, affine):
    rng = _rng(7)
    width, eps = 5, 0.01
    gamma, beta = rng.normal(size=width), rng.normal(size=width)
    mean, var = rng.normal(size=width), rng.uniform(0.5, 2.0, size=width)
    arrays = [gamma, beta, mean, var] if affine else [mean, var]
    entry = {
        "type": "batchnorm",
        "activation": "",
        "shape": [None, None, width],
        "epsilon": eps,
        "weights": [a.tolist() for a in arrays],
    }
    xs = rng.uniform(-1, 1, size=(6, width))
    scale, shift = (gamma, beta) if affine else (1.0, 0.0)
    expected = scale * (xs - mean) / np.sqrt(var + eps) + shift
    np.testing.assert_allclose(
        _stream(dtype, _model(width, entry), xs), expected, atol=TOLERANCE[dtype], rtol=0
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm2d_applies_channel_parameters_to_every_feature(dtype):
    rng = _rng(8)
    features, channels, eps = 3, 2, 0.1
    gamma, beta, mean = (rng.normal(size=channels) for _ in range(3))
    var = rng.uniform(0.5, 2.0, size=channels)
    entry = {
        "type": "batchnorm2d",
        "activation": "",
        "shape": [None, None, features, channels],
        "epsilon": eps,
        "num_filters_in": channels,
        "num_features_in": features,
        "weights": [a.tolist() for a in (gamma, beta, mean, var)],
    }
    doc = {"in_shape": [None, None, features, channels], "layers": [entry]}
    xs = rng.uniform(-1, 1, size=(4, features * channels))
    frames = xs.reshape(4, features, channels)
    expected = (gamma * (frames - mean) / np.sqrt(var + eps) + beta).reshape(4, -1)
    np.testing.assert_allclose(_stream(dtype, doc, xs), expected, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_scales_negative_inputs_by_alpha(dtype, shared):
    rng = _rng(9)
    width = 6
    alpha = rng.uniform(0.1, 0.9, size=1 if shared else width)
    entry = {"type": "prelu", "activation": "", "shape": [None, None, width], "weights": [[alpha.tolist()]]}
    xs = rng.uniform(-1, 1, size=(5, width))
    expected = np.where(xs >= 0, xs, alpha * xs)
    np.testing.assert_allclose(
        _stream(dtype, _model(width, entry), xs), expected, atol=TOLERANCE[dtype], rtol=0
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layer_matches_its_formula(dtype, name):
    xs = _rng(10).uniform(-3, 3, size=(5, 4))
    entry = {"type": "activation", "activation": name, "shape": [None, None, 4], "weights": []}
    expected = np.array([ACTIVATIONS[name](x) for x in xs])
    np.testing.assert_allclose(_stream(dtype, _model(4, entry), xs), expected, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_on_a_dense_entry_is_applied_after_it(dtype, name):
    rng = _rng(11)
    kernel, bias = rng.normal(size=(2, 3)), rng.normal(size=3)
    xs = rng.uniform(-1, 1, size=(4, 2))
    expected = np.array([ACTIVATIONS[name](x @ kernel + bias) for x in xs])
    got = _stream(dtype, _model(2, _dense(kernel, bias, activation=name)), xs)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE[dtype], rtol=0)


def test_activation_on_a_recurrent_entry_is_ignored_with_a_warning():
    rng = _rng(12)
    units = 3
    weights = [
        rng.normal(size=(1, 4 * units)).tolist(),
        rng.normal(size=(units, 4 * units)).tolist(),
        rng.normal(size=4 * units).tolist(),
    ]
    xs = rng.uniform(-1, 1, size=(10, 1))

    def entry(activation):
        return {"type": "lstm", "activation": activation, "shape": [None, None, units], "weights": weights}

    plain, with_relu = load(_model(1, entry(""))), load(_model(1, entry("relu")))
    np.testing.assert_array_equal(with_relu.run(xs), plain.run(xs))
    assert [p for p, _ in with_relu.warnings] == ["/layers/0/activation"]
    assert plain.warnings == []


# --- state and API -------------------------------------------------------------------------------


def _stateful_model(dtype: str = "float64") -> Model:
    rng = _rng(13)
    conv = {
        "type": "conv1d",
        "activation": "tanh",
        "shape": [None, None, 4],
        "kernel_size": 3,
        "dilation": 2,
        "weights": [rng.normal(size=(3, 2, 4)).tolist(), rng.normal(size=4).tolist()],
    }
    gru = {
        "type": "gru",
        "activation": "",
        "shape": [None, None, 3],
        "weights": [
            rng.normal(size=(4, 9)).tolist(),
            rng.normal(size=(3, 9)).tolist(),
            rng.normal(size=(2, 9)).tolist(),
        ],
    }
    lstm = {
        "type": "lstm",
        "activation": "",
        "shape": [None, None, 2],
        "weights": [
            rng.normal(size=(3, 8)).tolist(),
            rng.normal(size=(2, 8)).tolist(),
            rng.normal(size=8).tolist(),
        ],
    }
    identity = {"type": "activation", "activation": "", "shape": [None, None, 2], "weights": []}
    return load(
        _model(2, conv, gru, lstm, identity, _dense(rng.normal(size=(2, 1)), rng.normal(size=1))), dtype
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_reset_restores_the_initial_state(dtype):
    model = _stateful_model(dtype)
    xs = _rng(14).uniform(-1, 1, size=(25, 2))
    first = model.run(xs)
    model.reset()
    np.testing.assert_array_equal(model.run(xs), first)


def test_state_carries_over_between_runs():
    model = _stateful_model()
    xs = _rng(15).uniform(-1, 1, size=(20, 2))
    whole = model.run(xs)
    model.reset()
    np.testing.assert_array_equal(np.vstack([model.run(xs[:7]), model.run(xs[7:])]), whole)


def test_run_equals_repeated_forward():
    model = _stateful_model()
    xs = _rng(16).uniform(-1, 1, size=(15, 2))
    streamed = model.run(xs)
    model.reset()
    np.testing.assert_array_equal(np.array([model.forward(x) for x in xs]), streamed)


def test_run_frames_equals_reset_before_every_forward():
    model = _stateful_model()
    xs = _rng(17).uniform(-1, 1, size=(10, 2))
    framed = model.run_frames(xs)
    expected = []
    for x in xs:
        model.reset()
        expected.append(model.forward(x))
    np.testing.assert_array_equal(framed, np.array(expected))
    assert not np.array_equal(framed, (model.reset(), model.run(xs))[1])  # state really matters here


def test_layer_outputs_give_one_array_per_entry_and_end_with_forward():
    model = _stateful_model()
    xs = _rng(18).uniform(-1, 1, size=(5, 2))
    for x in xs[:-1]:
        model.forward(x)
    outputs = model.layer_outputs(xs[-1])
    model.reset()
    expected = model.run(xs)[-1]
    assert [o.shape[0] for o in outputs] == [info.out_size for info in model.layers]
    np.testing.assert_array_equal(outputs[-1], expected)
    np.testing.assert_array_equal(outputs[3], outputs[2])  # the identity entry passes its input through


def test_layer_outputs_include_the_entry_activation():
    kernel, bias = np.array([[1.0, -2.0]]), np.array([0.5, 0.25])
    model = load(_model(1, _dense(kernel, bias, activation="relu")), "float64")
    (out,) = model.layer_outputs(np.array([1.0]))
    np.testing.assert_array_equal(out, [1.5, 0.0])


def test_layers_describe_each_json_entry():
    model = _stateful_model()
    assert model.layers[0] == LayerInfo(0, "conv1d", 2, 4, "tanh", "/layers/0")
    assert [(i.index, i.type, i.in_size, i.out_size) for i in model.layers[1:]] == [
        (1, "gru", 4, 3),
        (2, "lstm", 3, 2),
        (3, "activation", 2, 2),
        (4, "dense", 2, 1),
    ]
    assert (model.in_size, model.out_size, model.dtype, model.source) == (2, 1, "float64", "<dict>")


def test_forward_returns_a_copy():
    model = _stateful_model()
    y = model.forward(np.zeros(2))
    y[:] = 123.0
    assert model.layer_outputs(np.zeros(2))[-1][0] != 123.0


def test_param_count_is_the_number_of_weight_values_in_the_file():
    rng = _rng(19)
    doc = corpus.read_json("models/conv.json") if corpus.corpus_dir() else None
    if doc is None:
        doc = _model(2, _dense(rng.normal(size=(2, 3)), rng.normal(size=3)))
    counted = sum(np.asarray(w, dtype=float).size for layer in doc["layers"] for w in layer["weights"])
    assert load(doc).param_count == counted


def test_bytes_held_counts_every_buffer_of_the_numeric_type():
    single, double = _stateful_model("float32"), _stateful_model("float64")
    # weights + state + outputs are all of the model's type, so float64 holds exactly twice as much
    assert double.bytes_held == 2 * single.bytes_held
    assert single.bytes_held >= 4 * single.param_count


def test_time_forward_returns_one_positive_latency_per_step_and_leaves_the_model_reset():
    model = _stateful_model()
    xs = _rng(20).uniform(-1, 1, size=(6, 2))
    fresh = model.run(xs)
    model.reset()
    model.run(xs)
    for reset_each in (False, True):
        times = model.time_forward(steps=50, warmup=5, reset_each=reset_each, seed=3)
        assert times.dtype == np.int64
        assert times.shape == (50,)
        assert (times > 0).all()
    np.testing.assert_array_equal(model.run(xs), fresh)


@pytest.mark.parametrize(
    ("call", "bad"),
    [
        ("forward", np.zeros(3)),
        ("forward", np.zeros((1, 2))),
        ("forward", np.zeros(())),
        ("forward", ["a", "b"]),
        ("forward", np.array([1 + 1j, 2])),
        ("forward", np.array([True, False])),
        ("forward", [[1.0], [2.0, 3.0]]),
        ("run", np.zeros(2)),
        ("run", np.zeros((4, 3))),
        ("run", np.zeros((2, 2, 2))),
        ("run_frames", np.zeros((4, 1))),
        ("layer_outputs", np.zeros(5)),
    ],
)
def test_bad_array_inputs_raise_value_error_naming_the_expected_shape(call, bad):
    model = _stateful_model()
    with pytest.raises(ValueError, match=r"must (have shape|hold real numbers|be a numeric array)"):
        getattr(model, call)(bad)


def test_inputs_of_another_numeric_type_are_converted():
    model = _stateful_model("float32")
    xs = _rng(21).uniform(-1, 1, size=(4, 2))
    got = model.run(xs)  # float64 input, float32 model
    assert got.dtype == np.float32
    model.reset()
    np.testing.assert_array_equal(got, model.run(xs.astype(np.float32)))
    assert model.forward([0, 1]).shape == (1,)


def test_non_contiguous_inputs_are_read_correctly():
    model = _stateful_model()
    xs = _rng(22).uniform(-1, 1, size=(8, 4))[:, ::2]
    expected = model.run(np.ascontiguousarray(xs))
    model.reset()
    np.testing.assert_array_equal(model.run(xs), expected)


def test_an_empty_stream_gives_an_empty_output():
    assert _stateful_model().run(np.zeros((0, 2))).shape == (0, 1)


@pytest.mark.parametrize("dtype", ["float16", "int32", "double precision"])
def test_unsupported_dtype_is_refused(dtype):
    with pytest.raises(ValueError, match="dtype must be"):
        load(_model(1, _dense(np.ones((1, 1)))), dtype)


def test_dtype_may_be_given_as_a_numpy_type():
    assert load(_model(1, _dense(np.ones((1, 1)))), np.float64).dtype == "float64"


def test_loading_never_modifies_the_document():
    doc = _model(1, _dense(np.ones((1, 2)), activation="tanh"))
    snapshot = repr(doc)
    load(doc)
    assert repr(doc) == snapshot


# --- the keras-json corpus -------------------------------------------------------------------------


def _keras_cases() -> list[str]:
    cases = [c for c in corpus.manifest()["cases"] if c["format"] == "keras-json" and c["expected"]]
    return [c["name"] for c in cases] or ["corpus-missing"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", _keras_cases())
def test_keras_corpus_case_matches_rtneural_reference_output(name, dtype):
    case = corpus.case(name)
    model = load(corpus.require_corpus() / case["model"], dtype)
    got = model.run(corpus.steps(case, "input"))
    ours, theirs = corpus.aligned(case, got)
    assert ours.shape == theirs.shape
    # RTNeural asserts these in double; its float runs stayed below 2e-7 (docs/format.md §15.18)
    assert np.abs(ours - theirs).max() <= case["tolerance"]["abs"]


def test_full_model_agrees_between_float32_and_float64():
    case = corpus.case("keras_full_model_self_consistency")
    path = corpus.require_corpus() / case["model"]
    xs = corpus.steps(case, "input")
    single, double = load(path, "float32").run(xs), load(path, "float64").run(xs)
    assert np.abs(single.astype(np.float64) - double).max() <= 1e-6


# --- loader strictness beyond the manifest -------------------------------------------------------


def _one(entry: dict, width: int = 2) -> dict:
    return {"in_shape": [None, width], "layers": [entry]}


def _conv2d(**overrides) -> dict:
    entry = {"type": "conv2d", "shape": [None, 1, 2, 1], "kernel_size_time": 1, "kernel_size_feature": 1,
             "dilation": 1, "strides": 1, "num_filters_in": 1, "num_features_in": 2, "num_filters_out": 1,
             "padding": "valid", "weights": [[[[[1.0]]]], [0.0]]}  # fmt: skip
    return {"in_shape": [None, 1, 2, 1], "layers": [{**entry, **overrides}]}


_DENSE_2x3 = {"type": "dense", "shape": [None, 3], "weights": [[[1, 2, 3], [4, 5, 6]], [0, 0, 0]]}

REFUSED = {
    "declared_width_over_the_limit": (
        _one({"type": "activation", "activation": "tanh", "shape": [None, 10**9], "weights": []}, 10**9),
        "/in_shape",
    ),
    "non_integer_width": ({"in_shape": [None, 2.5], "layers": [_DENSE_2x3]}, "/in_shape/1"),
    "zero_width": ({"in_shape": [None, 0], "layers": [_DENSE_2x3]}, "/in_shape/1"),
    "boolean_width": ({"in_shape": [None, True], "layers": [_DENSE_2x3]}, "/in_shape/1"),
    # beyond any double: refused by the reader where it stands (RTN-E005), as the same number in a file is
    "integer_beyond_double_range": ({"in_shape": [None, 10**400], "layers": [_DENSE_2x3]}, "/in_shape/1"),
    "empty_in_shape": ({"in_shape": [], "layers": [_DENSE_2x3]}, "/in_shape"),
    "nan_weight": (
        _one({**_DENSE_2x3, "weights": [[[1, 2, float("nan")], [4, 5, 6]]]}),
        "/layers/0/weights/0/0/2",
    ),
    "string_weight": (_one({**_DENSE_2x3, "weights": [[[1, 2, "3"], [4, 5, 6]]]}), "/layers/0/weights/0/0/2"),
    "ragged_kernel": (_one({**_DENSE_2x3, "weights": [[[1, 2, 3], [4, 5]]]}), "/layers/0/weights/0/1"),
    "kernel_one_level_too_deep": (
        _one({**_DENSE_2x3, "weights": [[[[1], [2], [3]], [[4], [5], [6]]]]}),
        "/layers/0/weights/0/0/0",
    ),
    "weights_not_a_list": (_one({**_DENSE_2x3, "weights": {}}), "/layers/0/weights"),
    "dense_with_three_arrays": (
        _one({**_DENSE_2x3, "weights": [*_DENSE_2x3["weights"], [0]]}),
        "/layers/0/weights",
    ),
    "layer_entry_not_an_object": ({"in_shape": [None, 2], "layers": [3]}, "/layers/0"),
    "numpy_scalar_in_a_dict": ({"in_shape": [None, np.int64(2)], "layers": [_DENSE_2x3]}, "/in_shape/1"),
    "later_kernel_rows_disagree_with_previous_width": (
        {
            "in_shape": [None, 2],
            "layers": [_DENSE_2x3, {"type": "dense", "shape": [None, 1], "weights": [[[1], [2]]]}],
        },
        "/layers/1/weights/0",
    ),
    "activation_shape_disagrees_with_width": (
        {
            "in_shape": [None, 2],
            "layers": [
                _DENSE_2x3,
                {"type": "activation", "activation": "tanh", "shape": [None, 4], "weights": []},
            ],
        },
        "/layers/1/shape",
    ),
    "only_identity_entries": (_one({"type": "activation", "shape": [None, 2], "weights": []}), "/layers"),
    "groups_not_dividing_the_width": (
        _one(
            {
                "type": "conv1d",
                "shape": [None, 2],
                "kernel_size": 1,
                "dilation": 1,
                "groups": 2,
                "weights": [[[[1, 1]]], [0, 0]],
            },
            3,
        ),
        "/layers/0/groups",
    ),
    "conv1d_empty_kernel_size_list": (
        _one(
            {
                "type": "conv1d",
                "shape": [None, 1],
                "kernel_size": [],
                "dilation": 1,
                "weights": [[[[1]]], [0]],
            },
            1,
        ),
        "/layers/0/kernel_size",
    ),
    "conv1d_history_over_the_limit": (
        _one(
            {
                "type": "conv1d",
                "shape": [None, 32],
                "kernel_size": 2,
                "dilation": 2**20,
                "groups": 32,
                "weights": [[[[1.0] * 32]] * 2, [0.0] * 32],
            },
            32,
        ),
        "/layers/0/dilation",
    ),
    "conv2d_padding_typo": (_conv2d(padding="causal"), "/layers/0/padding"),
    "conv2d_valid_kernel_wider_than_frame": (_conv2d(kernel_size_feature=3), "/layers/0/shape"),
    "conv2d_same_kernel_wider_than_frame": (
        # 2 features, kernel 4, stride 1: pad_left 1, so the first window overhangs both edges (RTN-E207)
        _conv2d(kernel_size_feature=4, padding="same", shape=[None, 1, 2, 1]),
        "/layers/0/kernel_size_feature",
    ),
    "conv2d_channels_disagree_with_shape": (_conv2d(shape=[None, 1, 2, 3]), "/layers/0/shape"),
    "batchnorm_variance_plus_epsilon_not_positive": (
        _one({"type": "batchnorm", "shape": [None, 2], "epsilon": 0.0, "weights": [[0, 0], [1, 0]]}),
        "/layers/0/weights/1/1",
    ),
    "batchnorm_negative_epsilon": (
        _one({"type": "batchnorm", "shape": [None, 2], "epsilon": -1.0, "weights": [[0, 0], [1, 1]]}),
        "/layers/0/epsilon",
    ),
    "prelu_alpha_with_two_rows": (
        _one({"type": "prelu", "shape": [None, 2], "weights": [[[0.1, 0.2], [0.3, 0.4]]]}),
        "/layers/0/weights/0",
    ),
    "prelu_alpha_without_its_row": (
        _one({"type": "prelu", "shape": [None, 2], "weights": [[0.1, 0.2]]}),
        "/layers/0/weights/0",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_loader_refuses_with_the_pointer_of_the_offending_place(name):
    doc, pointer = REFUSED[name]
    with pytest.raises(ModelFormatError) as caught:
        load(doc)
    assert caught.value.pointer == pointer, str(caught.value)
    assert caught.value.expected


def test_nesting_deeper_than_the_engine_allows_is_refused_without_recursion():
    deep: list = []
    node = deep
    for _ in range(10_000):
        node.append([])
        node = node[0]
    with pytest.raises(ModelFormatError, match="nests too deeply"):
        load({"in_shape": [None, 1], "layers": deep})


def test_tuples_are_read_as_lists():
    doc = {"in_shape": (None, 2), "layers": [{**_DENSE_2x3, "weights": (((1, 2, 3), (4, 5, 6)), (0, 0, 0))}]}
    np.testing.assert_array_equal(load(doc, "float64").forward([1.0, 1.0]), [5.0, 7.0, 9.0])


def test_a_plain_number_and_a_list_both_give_kernel_size_and_dilation():
    rng = _rng(23)
    kernel, bias = rng.normal(size=(2, 1, 1)).tolist(), [0.0]
    base = {"type": "conv1d", "shape": [None, 1], "weights": [kernel, bias]}
    xs = rng.uniform(-1, 1, size=(8, 1))
    listed = load(_one({**base, "kernel_size": [5, 2], "dilation": [3]}, 1)).run(xs)
    plain = load(_one({**base, "kernel_size": 2, "dilation": 3}, 1)).run(xs)
    np.testing.assert_array_equal(listed, plain)


# --- threads -------------------------------------------------------------------------------------------


def _recurrent_model(width: int = 16, hidden: int = 32) -> dict:
    r = _rng(41)
    lstm = {
        "type": "lstm",
        "shape": [None, hidden],
        "weights": [
            r.normal(scale=0.3, size=(width, 4 * hidden)).tolist(),
            r.normal(scale=0.3, size=(hidden, 4 * hidden)).tolist(),
            r.normal(scale=0.1, size=4 * hidden).tolist(),
        ],
    }
    return {"in_shape": [None, width], "layers": [lstm]}


def test_two_threads_streaming_one_model_get_what_two_serial_runs_give():
    # Each run() holds the model's lock for its whole stream, so the two streams come out as if run one
    # after the other (in either order), never interleaved step by step.
    doc = _recurrent_model()
    rng = _rng(42)
    streams = [rng.uniform(-1, 1, size=(4000, 16)) for _ in range(2)]
    serial = {}
    for order in ((0, 1), (1, 0)):
        model = load(doc, "float64")
        serial[order] = {i: model.run(streams[i]) for i in order}
    for _ in range(5):
        model = load(doc, "float64")
        barrier = threading.Barrier(2)
        results: dict[int, np.ndarray] = {}

        def stream(i: int, model: Model = model, barrier=barrier, results=results) -> None:
            barrier.wait()
            results[i] = model.run(streams[i])

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert any(
            all(np.array_equal(results[i], expected[i]) for i in range(2)) for expected in serial.values()
        ), "two threads interleaved their steps on one model"


def test_a_reset_from_another_thread_waits_for_a_running_stream():
    doc = _recurrent_model()
    xs = _rng(43).uniform(-1, 1, size=(20000, 16))
    model = load(doc, "float64")
    expected = load(doc, "float64").run(xs)
    results: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: results.append(model.run(xs)))
    thread.start()
    while thread.is_alive():  # resets keep coming while the stream runs; each waits for it to end
        model.reset()
    thread.join()
    np.testing.assert_array_equal(results[0], expected)
