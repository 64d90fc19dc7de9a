"""The vectorised kernels behind the layers: packed matrices at every panel and vector boundary, and the
fast activations within their stated error (native/kernels.cpp).

References are numpy written from docs/format.md's equations; the activation references are computed in
extended precision (np.longdouble) so that the measured error is the engine's, not numpy's.
"""

from __future__ import annotations

import numpy as np
import pytest

from verifier.engine.model import load
from verifier.format.findings import Limits

DTYPES = ["float32", "float64"]
# Products of O(1) values over up to a few hundred terms, summed in a different order than numpy's.
TOLERANCE = {"float32": 3e-5, "float64": 1e-12}
# Largest absolute error of tanh / sigmoid / elu against the exact function, as stated in kernels.cpp (one
# float32 ulp of 1.0; two float64 ulps of 1.0). Measured: 6.0e-8 and 1.1e-16.
ACTIVATION_ERROR = {"float32": 1.2e-7, "float64": 2.3e-16}
# Rows 64 (float32) / 32 (float64) fill one panel; 16 is the padding step of the last panel.
WIDTHS = [1, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _doc(width: int, *layers: dict) -> dict:
    return {"in_shape": [None, None, width], "layers": list(layers)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", WIDTHS)
@pytest.mark.parametrize("cols", [1, 7, 70])
def test_dense_matches_x_kernel_plus_bias_at_every_panel_boundary(dtype, rows, cols):
    rng = _rng(rows * 1000 + cols)
    kernel, bias = rng.normal(size=(cols, rows)), rng.normal(size=rows)
    xs = rng.uniform(-1, 1, size=(3, cols))
    entry = {
        "type": "dense",
        "activation": "",
        "shape": [None, None, rows],
        "weights": [kernel.tolist(), bias.tolist()],
    }
    got = load(_doc(cols, entry), dtype).run(xs)
    np.testing.assert_allclose(got, xs @ kernel + bias, atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("units", [1, 15, 17, 40, 70])
def test_lstm_fused_gate_product_matches_separate_input_and_recurrent_products(dtype, units):
    rng = _rng(units)
    width = 11
    kernel, recurrent = rng.normal(size=(width, 4 * units)), rng.normal(size=(units, 4 * units)) / 4
    bias = rng.normal(size=4 * units)
    xs = rng.uniform(-1, 1, size=(6, width))
    entry = {
        "type": "lstm",
        "activation": "",
        "shape": [None, None, units],
        "weights": [kernel.tolist(), recurrent.tolist(), bias.tolist()],
    }
    h, c, expected = np.zeros(units), np.zeros(units), []
    for x in xs:
        z = x @ kernel + h @ recurrent + bias
        i, f, g, o = (z[k * units : (k + 1) * units] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        expected.append(h)
    got = load(_doc(width, entry), dtype).run(xs)
    np.testing.assert_allclose(got, np.array(expected), atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("units", [1, 15, 17, 40, 70])
def test_gru_with_summed_gate_biases_matches_the_two_bias_rows(dtype, units):
    rng = _rng(100 + units)
    width = 9
    kernel, recurrent = rng.normal(size=(width, 3 * units)), rng.normal(size=(units, 3 * units)) / 4
    bias = rng.normal(size=(2, 3 * units))
    xs = rng.uniform(-1, 1, size=(6, width))
    entry = {
        "type": "gru",
        "activation": "",
        "shape": [None, None, units],
        "weights": [kernel.tolist(), recurrent.tolist(), bias.tolist()],
    }
    h, expected = np.zeros(units), []
    for x in xs:
        xp, hp = x @ kernel + bias[0], h @ recurrent + bias[1]
        z = _sigmoid(xp[:units] + hp[:units])
        r = _sigmoid(xp[units : 2 * units] + hp[units : 2 * units])
        candidate = np.tanh(xp[2 * units :] + r * hp[2 * units :])
        h = (1 - z) * candidate + z * h
        expected.append(h)
    got = load(_doc(width, entry), dtype).run(xs)
    np.testing.assert_allclose(got, np.array(expected), atol=TOLERANCE[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("width", "out", "groups"), [(8, 70, 1), (66, 66, 2), (20, 40, 4)])
def test_conv1d_gathered_taps_match_the_causal_sum(dtype, width, out, groups):
    rng = _rng(width + out)
    k_size, dilation = 3, 2
    kernel = rng.normal(size=(k_size, width // groups, out))
    bias = rng.normal(size=out)
    xs = rng.uniform(-1, 1, size=(12, width))
    entry = {
        "type": "conv1d",
        "activation": "",
        "shape": [None, None, out],
        "kernel_size": [k_size],
        "dilation": [dilation],
        "groups": groups,
        "weights": [kernel.tolist(), bias.tolist()],
    }
    gi, go = width // groups, out // groups
    expected = np.tile(bias, (len(xs), 1))
    for t in range(len(xs)):
        for k in range(k_size):
            src = t - (k_size - 1 - k) * dilation
            if src < 0:
                continue
            for g in range(groups):
                expected[t, g * go : (g + 1) * go] += (
                    xs[src, g * gi : (g + 1) * gi] @ kernel[k, :, g * go : (g + 1) * go]
                )
    got = load(_doc(width, entry), dtype).run(xs)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE[dtype], rtol=0)


# --- fast activations ----------------------------------------------------------------------------------

EXACT = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "elu": lambda x: np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1),
}


def _activation(name: str, dtype: str, xs: np.ndarray) -> np.ndarray:
    """Runs one activation entry over xs (one step of len(xs) values)."""
    entry = {"type": "activation", "activation": name, "shape": [None, None, len(xs)], "weights": []}
    # One step over the whole grid: a layer wider than the default limits admit, so they are raised here.
    wide = Limits(max_layer_width=len(xs), max_state_values=4 * len(xs))
    return load(_doc(len(xs), entry), dtype, limits=wide).forward(xs)


def _grid(dtype: str) -> np.ndarray:
    # Dense on the range where these functions change, plus both sides of the tanh branch point (0.625),
    # the float32 / float64 saturation points and the exp overflow and underflow thresholds.
    dense = np.linspace(-30, 30, 200_001)
    edges = np.array([0.625, 9.0, 19.1, 44.4, 88.72, 88.73, 103.9, 104.1, 709.7, 709.8, 745.2, 1e4, 3e38])
    near = np.concatenate([edges * (1 + d) for d in (-1e-7, 0, 1e-7)])
    return np.concatenate([dense, near, -near]).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(EXACT))
def test_fast_activation_error_is_within_the_stated_bound(dtype, name):
    xs = _grid(dtype)
    with np.errstate(over="ignore"):  # exp(3e38) in the reference: inf, as intended
        exact = EXACT[name](xs.astype(np.longdouble))
    error = np.abs(_activation(name, dtype, xs).astype(np.longdouble) - exact)
    assert float(error.max()) <= ACTIVATION_ERROR[dtype], f"worst at x = {xs[np.argmax(error)]!r}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_exp_over_the_sum_in_index_order(dtype):
    xs = _rng(3).uniform(-20, 20, size=37).astype(dtype)
    e = np.exp(xs.astype(np.longdouble))
    got = _activation("softmax", dtype, xs)
    np.testing.assert_allclose(got, e / e.sum(), atol=4 * float(np.finfo(dtype).eps), rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_overflows_like_rtneural_without_max_subtraction(dtype):
    # exp(1000) is inf in both types: inf / inf is NaN there, finite / inf is 0 elsewhere.
    got = _activation("softmax", dtype, np.array([1000.0, 0.0, 1.0], dtype=dtype))
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], [0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_activations_keep_ieee_special_values(dtype):
    xs = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], dtype=dtype)
    tanh = _activation("tanh", dtype, xs)
    sigmoid = _activation("sigmoid", dtype, xs)
    elu = _activation("elu", dtype, xs)
    assert np.isnan([tanh[0], sigmoid[0], elu[0]]).all()
    np.testing.assert_array_equal(tanh[1:], [1.0, -1.0, -0.0, 0.0])
    np.testing.assert_array_equal(np.signbit(tanh[3:]), [True, False])
    np.testing.assert_array_equal(sigmoid[1:], [1.0, 0.0, 0.5, 0.5])
    np.testing.assert_array_equal(elu[1:], [np.inf, -1.0, 0.0, 0.0])
