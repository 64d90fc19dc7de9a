"""The generator itself: bounds come from the schema, every layer kind is reachable, modules are
deterministic, inputs reach their edge values. (The properties of the verifier are in test_properties.py.)"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from verifier.checks.tolerance import CALIBRATED_STEPS
from verifier.format.schema.validator import validator
from verifier.pytorch.export import export
from verifier.testing.mistakes import MISTAKES
from verifier.testing.strategies import (
    ALL_LAYER_TYPES,
    ARCHITECTURE_SCHEMA_ID,
    architecture_schema,
    architectures,
    bounds,
    corrupted_exports,
    describe,
    documents,
    edge_values,
    inputs,
    modules,
    widths,
)

# See tests/test_properties.py: keeps a failing Hypothesis test from becoming a pytest INTERNALERROR.

NARROW = copy.deepcopy(architecture_schema())
NARROW["properties"]["in_size"]["maximum"] = 2
NARROW["properties"]["layers"]["maxItems"] = 2
NARROW["$defs"]["width"]["maximum"] = 3
NARROW["$defs"]["conv1d"]["properties"]["kernel_size"]["maximum"] = 2


@given(spec=architectures())
def test_generated_architectures_satisfy_their_schema(spec):
    errors = [e.message for e in validator(ARCHITECTURE_SCHEMA_ID).iter_errors(spec)]
    assert not errors, f"{describe(spec)}: {errors}"


@given(spec=architectures(limits=bounds(NARROW)))
def test_bounds_are_read_from_the_schema(spec):
    assert spec["in_size"] <= 2
    assert len(spec["layers"]) <= 2
    assert max(widths(spec)[1:]) <= 3
    assert all(layer.get("kernel_size", 1) <= 2 for layer in spec["layers"])


@given(spec=architectures())
def test_conv_groups_divide_both_widths(spec):
    for layer, width in zip(spec["layers"], widths(spec)[:-1], strict=True):
        if layer["type"] == "conv1d":
            assert width % layer["groups"] == 0
            assert layer["out"] % layer["groups"] == 0


@given(spec=architectures())
def test_modules_are_deterministic_from_spec_and_seed(spec):
    first, second = modules(spec).state_dict(), modules(spec).state_dict()
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].numpy().tobytes() == second[name].numpy().tobytes(), name


def _with_layer(kind: str, **wanted):
    """A predicate: the spec has a layer of *kind* whose keys satisfy *wanted* (a value, or a callable)."""

    def matches(layer: dict) -> bool:
        return layer["type"] == kind and all(
            want(layer[key]) if callable(want) else layer[key] == want for key, want in wanted.items()
        )

    return lambda spec: any(matches(layer) for layer in spec["layers"])


def _more_than_one(n: int) -> bool:
    return n > 1


def _starts_with_rnn_then_conv(spec: dict) -> bool:
    return [layer["type"] for layer in spec["layers"]][:2] in (["lstm", "conv1d"], ["gru", "conv1d"])


@pytest.mark.parametrize(
    ("what", "predicate"),
    [
        ("stacked lstm", _with_layer("lstm", num_layers=_more_than_one)),
        ("stacked gru", _with_layer("gru", num_layers=_more_than_one)),
        ("grouped dilated conv1d", _with_layer("conv1d", groups=_more_than_one, dilation=_more_than_one)),
        ("batchnorm without affine", _with_layer("batchnorm", affine=False)),
        ("shared prelu", _with_layer("prelu", shared=True)),
        ("bias-free dense", _with_layer("dense", bias=False)),
        *[
            (f"dense with {a}", _with_layer("dense", activation=a))
            for a in ("tanh", "relu", "sigmoid", "softmax", "elu")
        ],
        *[(f"standalone {a}", _with_layer("activation", activation=a)) for a in ("tanh", "softmax", "elu")],
        ("rnn then conv", _starts_with_rnn_then_conv),
    ],
)
def test_every_layer_kind_is_reachable(what, predicate):
    assert predicate(find(architectures(), predicate))


@pytest.mark.parametrize("value", edge_values())
def test_inputs_reach_every_edge_value(value):
    xs = find(inputs(3), lambda xs: bool(np.any(xs == value)) and xs.shape[0] > 1)
    assert np.any(xs == value)


@given(xs=inputs(4))
def test_inputs_are_float32_values_within_the_schema_magnitude(xs):
    assert xs.dtype == np.float64
    assert np.array_equal(xs, xs.astype(np.float32).astype(np.float64))
    assert np.all(np.abs(xs) <= bounds().magnitude)
    assert bounds().steps.lo <= xs.shape[0] <= bounds().steps.hi


@given(spec=architectures())
def test_a_drawn_spec_pastes_back_as_the_same_module(spec):
    pasted = json.loads(describe(spec))
    assert pasted == spec
    a, b = modules(spec).state_dict(), modules(pasted).state_dict()
    assert all(a[k].equal(b[k]) for k in a)


def test_tolerance_calibration_covers_the_schema_stream_length():
    # COEFFICIENT was fitted on streams up to CALIBRATED_STEPS long; a longer schema bound needs a re-fit
    # (python tools/measure.py tolerance, docs/tolerance.md).
    assert bounds().steps.hi == CALIBRATED_STEPS


def test_building_a_module_leaves_torch_global_random_state_alone():
    import torch

    before = torch.random.get_rng_state()
    modules({"in_size": 3, "seed": 1, "layers": [{"type": "lstm", "hidden": 4, "num_layers": 2}]})
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("mistake", MISTAKES)
@given(data=st.data())
def test_a_corruption_changes_a_copy_and_leaves_the_export_alone(mistake, data):
    case = data.draw(corrupted_exports(mistake))
    assert case.doc == export(case.module, in_size=case.spec["in_size"])  # the original is untouched
    assert case.bad != case.doc


# --- keras-json only layer types: time-distributed-dense, conv2d, batchnorm2d ---------------------------


@given(spec=architectures(types=ALL_LAYER_TYPES))
def test_architectures_of_every_entry_type_satisfy_their_schema(spec):
    errors = [e.message for e in validator(ARCHITECTURE_SCHEMA_ID).iter_errors(spec)]
    assert not errors, f"{describe(spec)}: {errors}"


@settings(max_examples=30)
@given(spec=architectures())
def test_the_document_of_an_exportable_spec_is_the_export_of_its_module(spec):
    assert documents(spec) == export(modules(spec), in_size=spec["in_size"])


@settings(max_examples=40)
@given(spec=architectures(types=ALL_LAYER_TYPES, required=("conv2d",)))
def test_documents_chain_their_widths_and_load_unless_a_same_window_overhangs_the_frame(spec):
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError

    doc = documents(spec)
    try:
        model = load(doc, "float64")
    except ModelFormatError as refusal:  # the one refusal the generator draws on purpose
        rule = refusal.rule
    else:
        rule = None
        assert (model.in_size, model.out_size) == (widths(spec)[0], widths(spec)[-1])
    assert rule in (None, "RTN-E207"), describe(spec)


def test_modules_refuses_a_keras_only_layer_naming_documents():
    spec = {"in_size": 4, "layers": [{"type": "batchnorm2d", "filters_in": 2}]}
    with pytest.raises(ValueError, match=r"documents\(spec\)"):
        modules(spec)


@pytest.mark.parametrize(
    ("what", "predicate"),
    [
        ("bias-free time-distributed dense", _with_layer("time-distributed-dense", bias=False)),
        ("strided same conv2d", _with_layer("conv2d", padding="same", stride=_more_than_one)),
        ("dilated valid conv2d", _with_layer("conv2d", padding="valid", dilation=_more_than_one)),
        ("conv2d over channels", _with_layer("conv2d", filters_in=_more_than_one)),
        ("batchnorm2d without affine", _with_layer("batchnorm2d", affine=False)),
    ],
)
def test_every_keras_only_layer_kind_is_reachable(what, predicate):
    assert predicate(find(architectures(types=ALL_LAYER_TYPES), predicate))
