"""Rule RTN-E207 fires exactly where RTNeural's "same" conv2d indexes outside its frame, and the files it lets
through compute what RTNeural computes.

Both definitions of the condition (verifier/format/same_padding.py for validate, native/conv2d.h for load) are
held to a simulation of RTNeural's loop indices (tests/same_padding_sim.py) on every (features, kernel,
stride) with features, kernel <= 16 and stride <= 4. tests/test_same_padding_asan.py holds the simulation to
the real RTNeural built with AddressSanitizer; tests/test_rtneural_backend.py compares the engine with it.
"""

from __future__ import annotations

import numpy as np
import pytest
import rule_book
from same_padding_sim import (
    conv2d_document,
    reads_outside,
    rtneural_visits,
    same_convolution,
    triples,
    zero_padded_taps,
)

from verifier.engine.model import load
from verifier.format.same_padding import rtneural_reads_outside_frame

SMALL = triples(16, 16, 4)
REFUSED = ("RTN-E207", "/layers/0/kernel_size_feature")


def test_the_closed_form_is_true_exactly_where_rtneurals_loops_index_outside_the_frame():
    disagree = [t for t in SMALL if rtneural_reads_outside_frame(*t) != reads_outside(*t)]
    assert disagree == []


def test_kernels_wider_than_the_frame_are_not_all_out_of_bounds_and_narrower_ones_never_are():
    wider = [(f, k, s) for f, k, s in SMALL if k > f]
    assert not any(reads_outside(f, k, s) for f, k, s in SMALL if k <= f)
    assert 0 < sum(reads_outside(*t) for t in wider) < len(wider)
    assert not reads_outside(1, 2, 1)  # one feature, kernel 2, stride 1 (conformance FORMAT.md pitfall 24)


def test_rtneurals_loops_inside_the_frame_visit_exactly_the_zero_padded_convolutions_taps():
    inside = [t for t in SMALL if not reads_outside(*t)]
    wrong = [t for t in inside if sorted(rtneural_visits(*t)) != zero_padded_taps(*t)]
    assert wrong == []


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_validate_and_load_refuse_with_e207_exactly_where_rtneural_reads_outside_the_frame(stride):
    rng = np.random.default_rng(stride)
    for features, kernel, _ in triples(16, 16, 1):
        doc = conv2d_document(features, kernel, stride, rng, channels=(1, 1), kernel_time=1, dilation=1)
        first, refusal = rule_book.verdicts(doc)
        expected = REFUSED if reads_outside(features, kernel, stride) else None
        assert (first, refusal) == (expected, expected), (features, kernel, stride)


def test_one_feature_with_a_kernel_of_two_loads_and_computes_the_left_tap_alone():
    # pad_left is 0 and the second tap always meets padding: y = 0.5 x + 0.125 whatever that tap holds.
    doc = conv2d_document(1, 2, 1, np.random.default_rng(0), channels=(1, 1), kernel_time=1, dilation=1)
    doc["layers"][0]["weights"] = [[[[[0.5]], [[-3.0]]]], [0.125]]
    outputs = load(doc, dtype="float64").run(np.array([[2.0], [-1.0], [0.0]]))
    np.testing.assert_array_equal(outputs, [[1.125], [-0.375], [0.125]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_engine_computes_the_zero_padded_convolution_for_every_wide_kernel_rtneural_runs_in_bounds(dtype):
    loaded = [t for t in triples(6, 6, 3) if t[1] > t[0] and not reads_outside(*t)]
    assert len(loaded) > 10
    rng = np.random.default_rng(11)
    for features, kernel, stride in loaded:
        doc = conv2d_document(features, kernel, stride, rng)
        xs = rng.uniform(-1, 1, size=(7, features * 2))
        atol = 1e-6 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(
            load(doc, dtype=dtype).run(xs),
            same_convolution(doc, xs),
            rtol=0,
            atol=atol,
            err_msg=f"features {features}, kernel {kernel}, stride {stride}",
        )
