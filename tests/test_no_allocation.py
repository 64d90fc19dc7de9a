"""A forward step, a stream and a reset allocate nothing, for every layer type the engine has.

The engine module counts its own calls to operator new (``_engine.allocation_count()``, a replaced global
operator new compiled into the module only). The Python-facing calls allocate a fixed amount around the
loop (the output array's shape, for one), so each test compares a long run with a one-step run of the same
call: any allocation inside forward() or reset() would grow with the number of steps.
"""

from __future__ import annotations

from collections.abc import Callable

import _verifier_engine as _engine
import numpy as np
import pytest

from verifier.engine.model import Model, load

DTYPES = ["float32", "float64"]
STEPS = 257  # crosses every ring-buffer wrap of the convolutions below many times


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _array(rng: np.random.Generator, *shape: int) -> list:
    return rng.normal(scale=0.5, size=shape).tolist()


def _entry(kind: str, width: int, weights: list, activation: str = "", **extra: object) -> dict:
    return {"type": kind, "activation": activation, "shape": [None, None, width], "weights": weights, **extra}


def _vector_model(width: int, *layers: dict) -> dict:
    return {"in_shape": [None, None, width], "layers": list(layers)}


def _layer_models() -> dict[str, dict]:
    """One small model per layer type, widths chosen to leave partial panels and partial vectors."""
    r = _rng(0)
    w = 20
    models = {
        "dense": _vector_model(w, _entry("dense", 70, [_array(r, w, 70), _array(r, 70)])),
        "dense-without-bias": _vector_model(w, _entry("dense", 9, [_array(r, w, 9)])),
        "lstm": _vector_model(w, _entry("lstm", 19, [_array(r, w, 76), _array(r, 19, 76), _array(r, 76)])),
        "gru": _vector_model(w, _entry("gru", 21, [_array(r, w, 63), _array(r, 21, 63), _array(r, 2, 63)])),
        "conv1d": _vector_model(
            w,
            _entry(
                "conv1d", 12, [_array(r, 3, 5, 12), _array(r, 12)], kernel_size=[3], dilation=[2], groups=4
            ),
        ),
        "prelu": _vector_model(w, _entry("prelu", w, [[_array(r, w)]])),
        "batchnorm": _vector_model(
            w,
            _entry(
                "batchnorm", w, [_array(r, w), _array(r, w), _array(r, w), np.ones(w).tolist()], epsilon=1e-3
            ),
        ),
    }
    for name in ("tanh", "relu", "sigmoid", "softmax", "elu"):
        models[f"activation-{name}"] = _vector_model(w, _entry("activation", w, [], activation=name))
    features, c_in, c_out = 6, 2, 3
    models["conv2d"] = {
        "in_shape": [None, None, features, c_in],
        "layers": [
            {
                "type": "conv2d",
                "activation": "tanh",
                "shape": [None, None, features, c_out],
                "kernel_size_time": 2,
                "kernel_size_feature": 3,
                "dilation": 2,
                "strides": 1,
                "num_filters_in": c_in,
                "num_features_in": features,
                "num_filters_out": c_out,
                "padding": "same",
                "weights": [_array(r, 2, 3, c_in, c_out), _array(r, c_out)],
            },
            {
                "type": "batchnorm2d",
                "activation": "",
                "shape": [None, None, features, c_out],
                "epsilon": 1e-3,
                "num_filters_in": c_out,
                "num_features_in": features,
                "weights": [_array(r, c_out), np.ones(c_out).tolist()],
            },
        ],
    }
    return models


MODELS = _layer_models()


def _allocations(call: Callable[[], object]) -> int:
    before = _engine.allocation_count()
    call()
    return _engine.allocation_count() - before


def _inputs(model: Model, steps: int) -> np.ndarray:
    return _rng(1).uniform(-1, 1, size=(steps, model.in_size)).astype(model.dtype)


def test_the_counter_sees_the_engine_allocating():
    # Loading builds layers and buffers with operator new: a counter that missed it would make every
    # zero below meaningless.
    assert _allocations(lambda: load(MODELS["lstm"], "float32")) > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_streaming_steps_allocate_nothing(name, dtype):
    model = load(MODELS[name], dtype)
    one, many = _inputs(model, 1), _inputs(model, STEPS)
    model.run(one)  # first call of a kind may set up pybind11's own caches
    assert _allocations(lambda: model.run(many)) == _allocations(lambda: model.run(one))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_reset_and_step_frames_allocate_nothing(name, dtype):
    model = load(MODELS[name], dtype)
    one, many = _inputs(model, 1), _inputs(model, STEPS)
    model.run_frames(one)
    assert _allocations(lambda: model.run_frames(many)) == _allocations(lambda: model.run_frames(one))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_reset_allocates_nothing(name, dtype):
    model = load(MODELS[name], dtype)
    model.reset()
    assert _allocations(model.reset) == 0


@pytest.mark.parametrize("reset_each", [False, True])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_timed_steps_allocate_nothing(name, reset_each):
    # time_forward allocates its input pool once; the timed loop must add nothing per step.
    model = load(MODELS[name], "float32")
    model.time_forward(1, 0, reset_each)

    def timed(steps: int) -> Callable[[], object]:
        return lambda: model.time_forward(steps, 0, reset_each)

    assert _allocations(timed(STEPS)) == _allocations(timed(1))
