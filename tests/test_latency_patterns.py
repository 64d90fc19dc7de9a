"""``time_forward``'s signal-then-silence pattern and its flush-to-zero switch, on both backends.

What is pinned is the pattern, seen through the outputs the timed loop produced (``outputs=``), never a
timing: the timed steps after the signal get exact zeros with the state carried, and flush-to-zero is on
inside the loop and off again after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _verifier_engine as _engine
import numpy as np
import pytest

from verifier.engine.backends import load_backend, rtneural_times_silence
from verifier.engine.model import FLUSH_TO_ZERO_AVAILABLE, load

BACKENDS = [
    "engine",
    pytest.param(
        "rtneural",
        marks=pytest.mark.skipif(
            not rtneural_times_silence(), reason="_verifier_rtneural not built (or built without the pattern)"
        ),
    ),
]
needs_ftz = pytest.mark.skipif(not FLUSH_TO_ZERO_AVAILABLE, reason="this CPU has no flush-to-zero switch")
# float32's smallest normal number is 2^-126 ~ 1.18e-38: a weight of 1e-39 is subnormal, and so is its
# product with any input in [-1, 1] (or zero, once flushed).
SUBNORMAL = 1e-39


def _dense(weight: float, bias: float, width: int = 3) -> dict[str, Any]:
    kernel = [[weight if i == j else 0.0 for j in range(width)] for i in range(width)]
    layer = {
        "type": "dense",
        "activation": "",
        "shape": [None, None, width],
        "weights": [kernel, [bias] * width],
    }
    return {"in_shape": [None, None, width], "layers": [layer]}


def _gru(width: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    weights = [
        rng.normal(scale=0.5, size=shape).tolist() for shape in ((width, 3 * width), (width, 3 * width))
    ]
    weights.append(rng.normal(scale=0.1, size=(2, 3 * width)).tolist())
    layer = {"type": "gru", "activation": "", "shape": [None, None, width], "weights": weights}
    return {"in_shape": [None, None, width], "layers": [layer]}


def _timed_outputs(model: Any, steps: int, warmup: int, **pattern: Any) -> np.ndarray:
    outputs = np.full((steps, model.out_size), np.nan, dtype=model.dtype)
    times = model.time_forward(steps, warmup, False, 3, outputs=outputs, **pattern)
    assert times.shape == (steps,)
    return outputs


@pytest.mark.parametrize("backend", BACKENDS)
def test_signal_then_silence_feeds_exact_zeros_after_the_signal(backend: str) -> None:
    # A stateless dense layer: each output is the bias plus the input, so the input of every step shows.
    model = load_backend(_dense(1.0, 0.25), backend)
    outputs = _timed_outputs(model, 40, 10, signal_steps=25)
    silent = model.forward(np.zeros(3, dtype=np.float32))
    assert not np.any(np.all(outputs[:15] == silent, axis=1))  # steps 10-24: the signal
    np.testing.assert_array_equal(outputs[15:], np.broadcast_to(silent, (25, 3)))  # steps 25-49: zeros


@pytest.mark.parametrize("backend", BACKENDS)
def test_silence_after_signal_carries_the_state_the_signal_left(backend: str) -> None:
    model = load_backend(_gru(), backend)
    outputs = _timed_outputs(model, 20, 10, signal_steps=10)  # every timed step is silent
    from_reset = model.run(np.zeros((20, 3), dtype=np.float32))
    assert not np.allclose(outputs[0], from_reset[0])  # the hidden state after the signal, not zero state
    np.testing.assert_allclose(outputs[-1], from_reset[-1], atol=0.05)  # ... decaying towards the same place


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_signal_steps_every_step_gets_signal_as_before(backend: str) -> None:
    model = load_backend(_dense(1.0, 0.25), backend)
    outputs = _timed_outputs(model, 30, 0)
    silent = model.forward(np.zeros(3, dtype=np.float32))
    assert not np.any(np.all(outputs == silent, axis=1))


@needs_ftz
@pytest.mark.parametrize("backend", BACKENDS)
def test_flush_to_zero_flushes_subnormals_inside_the_timed_loop_only(backend: str) -> None:
    model = load_backend(_dense(SUBNORMAL, 0.0), backend)
    assert not _engine.flush_to_zero_active()
    plain = _timed_outputs(model, 20, 0)
    flushed = _timed_outputs(model, 20, 0, flush_to_zero=True)
    assert np.count_nonzero(plain) > 0  # subnormal products survive without the switch
    assert np.count_nonzero(flushed) == 0
    # afterwards the thread computes with subnormals again: the control word was restored
    assert not _engine.flush_to_zero_active()
    assert np.count_nonzero(model.forward(np.ones(3, dtype=np.float32))) == 3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "outputs",
    [
        np.zeros((5, 3), dtype=np.float64),  # another dtype: a converted copy would take the outputs away
        np.zeros((4, 3), dtype=np.float32),
        np.zeros((5, 3), dtype=np.float32)[:, ::-1],
        [[0.0] * 3] * 5,
    ],
    ids=["dtype", "shape", "strided", "list"],
)
def test_an_outputs_array_it_cannot_write_in_place_is_refused(backend: str, outputs: Any) -> None:
    model = load_backend(_dense(1.0, 0.0), backend)
    with pytest.raises(ValueError, match="outputs must be"):
        model.time_forward(5, 0, False, outputs=outputs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "value"), [("signal_steps", -1), ("signal_steps", True), ("flush_to_zero", 1)]
)
def test_bad_pattern_arguments_are_refused_by_name(backend: str, name: str, value: Any) -> None:
    model = load_backend(_dense(1.0, 0.0), backend)
    with pytest.raises(ValueError, match=name):
        model.time_forward(5, 0, False, **{name: value})


def _allocations(call: Callable[[], object]) -> int:
    before = _engine.allocation_count()
    call()
    return _engine.allocation_count() - before


@pytest.mark.parametrize("flush_to_zero", [False, pytest.param(True, marks=needs_ftz)])
def test_the_silence_pattern_allocates_nothing_per_timed_step(flush_to_zero: bool) -> None:
    model = load(_gru(), "float32")

    def timed(steps: int) -> Callable[[], object]:
        outputs = np.zeros((steps, model.out_size), dtype=np.float32)
        return lambda: model.time_forward(
            steps, 4, False, signal_steps=4, flush_to_zero=flush_to_zero, outputs=outputs
        )

    timed(1)()
    assert _allocations(timed(257)) == _allocations(timed(1))
