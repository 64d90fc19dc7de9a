"""The engine's shortcuts give the bits of the general path (native/kernels.cpp, native/packed_matrix.h).

Two shortcuts exist for speed only, so nothing but bit equality with the path they stand in for is allowed:
* a matrix visits its panels in the opposite order on every other step (so that the part of a large model
  the last step read is read first, from cache): every step must give the same bits;
* tanh over a vector whose values all lie in the polynomial range (|x| < 0.625) skips the exponential:
  those values must give the bits they get inside a vector that takes the full formula.
"""

from __future__ import annotations

import numpy as np
import pytest

from verifier.engine.model import load

DTYPES = ["float32", "float64"]
# Three whole panels and a ragged tail in both types (a panel is 64 float32 or 32 float64 rows), and a
# tail of whole vectors, which is computed in place.
ROWS = {"float32": [197, 208], "float64": [101, 112]}
TOLERANCE = {"float32": 3e-5, "float64": 1e-12}
TANH_BRANCH = 0.625


def _doc(width: int, entry: dict) -> dict:
    return {"in_shape": [None, None, width], "layers": [entry]}


def _dense(rows: int, cols: int, rng: np.random.Generator) -> tuple[dict, np.ndarray, np.ndarray]:
    kernel, bias = rng.normal(size=(cols, rows)), rng.normal(size=rows)
    entry = {
        "type": "dense",
        "activation": "",
        "shape": [None, None, rows],
        "weights": [kernel.tolist(), bias.tolist()],
    }
    return entry, kernel, bias


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", [0, 1])
def test_every_step_of_a_dense_layer_gives_the_same_bits_whichever_panel_order_it_reads(dtype, index):
    rows, cols = ROWS[dtype][index], 37
    rng = np.random.default_rng(rows)
    entry, kernel, bias = _dense(rows, cols, rng)
    x = rng.uniform(-1, 1, size=cols)
    got = load(_doc(cols, entry), dtype).run(np.tile(x, (4, 1)))
    for step in got[1:]:
        assert step.tobytes() == got[0].tobytes()
    np.testing.assert_allclose(got[0], x @ kernel + bias, atol=TOLERANCE[dtype], rtol=0)


def _tanh(dtype: str, xs: np.ndarray) -> np.ndarray:
    entry = {"type": "activation", "activation": "tanh", "shape": [None, None, len(xs)], "weights": []}
    return load(_doc(len(xs), entry), dtype).forward(xs.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count", [1, 15, 16, 17, 40])
def test_tanh_of_values_all_below_the_branch_point_has_the_bits_they_get_beside_a_larger_one(dtype, count):
    below = np.nextafter(np.array(TANH_BRANCH, dtype=dtype), np.array(0, dtype=dtype))
    small = np.linspace(-below, below, count).astype(dtype)
    small[0] = -0.0  # the sign is put back on the polynomial's result too
    alone = _tanh(dtype, small)
    beside = _tanh(dtype, np.concatenate([small, np.array([TANH_BRANCH], dtype=dtype)]))[:count]
    assert alone.tobytes() == beside.tobytes()
    assert np.signbit(alone[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_of_a_vector_with_a_nan_among_small_values_keeps_the_nan_and_the_small_values(dtype):
    small = np.array([0.25, -0.5, np.nan, 0.125], dtype=dtype)
    got = _tanh(dtype, small)
    assert np.isnan(got[2])
    np.testing.assert_array_equal(got[[0, 1, 3]], _tanh(dtype, small[[0, 1, 3]]))
