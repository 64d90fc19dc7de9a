"""What the rule-book agreement compares, and the mutated model files it compares on.

``verdicts(source, limits)`` gives validate's first error and load's refusal as ``(rule, pointer)`` pairs.
``documents()`` draws a valid keras-json model -- widths up to a few hundred, every layer type -- and mutates
it once or twice (a key dropped, a value of another type, a width or size key changed, arrays transposed,
shortened or wrapped, layers duplicated or swapped, names misspelt, sizes beyond the limits); ``limits()``
draws the Limits both sides get. Helper module (not a test): tests/test_rule_book.py and
tools/measure_rule_book.py import it.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import corpus
import numpy as np
from hypothesis import strategies as st

from verifier.engine.model import load
from verifier.errors import ModelFormatError
from verifier.format.findings import Limits
from verifier.format.validate import validate

REPO = Path(__file__).resolve().parents[1]
GOOD = REPO / "fixtures" / "good"

Verdict = tuple[str, str] | None


def verdicts(source: Any, limits: Limits | None = None) -> tuple[Verdict, Verdict]:
    """(rule, pointer) of validate's first error and of load's refusal; None where there is none.

    Any exception of load other than ModelFormatError propagates: it is a crash, not a verdict."""
    errors = [f for f in validate(source, limits=limits) if f.severity == "error"]
    first = (errors[0].rule, errors[0].pointer) if errors else None
    try:
        load(source, limits=limits)
    except ModelFormatError as error:
        return first, (error.rule or "no rule id", error.pointer)
    return first, None


def as_text(doc: dict[str, Any]) -> bytes:
    """``doc`` as a file would hold it (a lone surrogate as its ``\\ud800`` escape; a NaN as NaN)."""
    return json.dumps(doc).encode()


# --- valid documents ----------------------------------------------------------------------------------


def _array(rng: np.random.Generator, *shape: int) -> list:
    return np.round(rng.uniform(-1, 1, size=shape), 3).tolist()


def _entry(kind: str, width: int, weights: list, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "activation": "", "shape": [None, None, width], "weights": weights, **extra}


WIDE = st.one_of(st.integers(1, 8), st.integers(9, 300))
NARROW = st.integers(1, 24)  # recurrent layers: 4 x H x (in + H) weights
ACTIVATION_NAMES = ["", "tanh", "relu", "sigmoid", "softmax", "elu"]
LAYER_KINDS = ["dense", "lstm", "gru", "conv1d", "prelu", "batchnorm", "batchnorm4", "activation"]


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid model of 1 to 3 layers, one of them possibly a few hundred wide."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.integers(0, 9)) == 0:
        return _conv2d_document(draw, rng)
    width = draw(WIDE)
    doc: dict[str, Any] = {"in_shape": [None, None, width], "layers": []}
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["dense", "lstm", "gru", "conv1d", "prelu", "batchnorm", "batchnorm4", "activation"]
            )
        )
        if kind in ("lstm", "gru") and width > 64:
            kind = "dense"  # keeps a recurrent layer's weights small
        if kind == "dense":
            out = draw(WIDE) if width <= 32 else draw(st.integers(1, 16))
            entry = _entry("dense", out, [_array(rng, width, out), _array(rng, out)])
            entry["activation"] = draw(st.sampled_from(ACTIVATION_NAMES))
        elif kind in ("lstm", "gru"):
            gates, out = (4, draw(NARROW)) if kind == "lstm" else (3, draw(NARROW))
            bias = _array(rng, gates * out) if kind == "lstm" else _array(rng, 2, gates * out)
            entry = _entry(kind, out, [_array(rng, width, gates * out), _array(rng, out, gates * out), bias])
            entry["activation"] = "tanh"
        elif kind == "conv1d":
            groups = draw(st.sampled_from([g for g in (1, 2, 4) if width % g == 0]))
            out = groups * draw(st.integers(1, 4))
            size, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 8))
            kernel = _array(rng, size, width // groups, out)
            entry = _entry("conv1d", out, [kernel, _array(rng, out)], kernel_size=[size], dilation=[dilation])
            if groups > 1 or draw(st.booleans()):
                entry["groups"] = groups
        elif kind == "prelu":
            alphas = 1 if draw(st.booleans()) else width
            entry = _entry("prelu", width, [[_array(rng, alphas)]])
        elif kind in ("batchnorm", "batchnorm4"):
            count = 4 if kind == "batchnorm4" else 2
            arrays = [_array(rng, width) for _ in range(count - 1)] + [np.ones(width).tolist()]
            entry = _entry("batchnorm", width, arrays, epsilon=0.001)
        else:
            entry = _entry("activation", width, [], activation=draw(st.sampled_from(ACTIVATION_NAMES[1:])))
        doc["layers"].append(entry)
        width = entry["shape"][-1]
    return doc


def _conv2d_document(draw: st.DrawFn, rng: np.random.Generator) -> dict[str, Any]:
    features, channels = draw(st.integers(1, 40)), draw(st.integers(1, 3))
    k_time, k_feature = draw(st.integers(1, 3)), draw(st.integers(1, features))
    stride, out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    f_out = -(-(features - k_feature + 1) // stride) if padding == "valid" else -(-features // stride)
    layer = {
        "type": "conv2d",
        "activation": draw(st.sampled_from(ACTIVATION_NAMES)),
        "shape": [None, None, f_out, out],
        "kernel_size_time": [k_time],
        "kernel_size_feature": [k_feature],
        "dilation": [draw(st.integers(1, 4))],
        "strides": [stride],
        "num_filters_in": [channels],
        "num_features_in": [features],
        "num_filters_out": [out],
        "padding": padding,
        "weights": [_array(rng, k_time, k_feature, channels, out), _array(rng, out)],
    }
    norm = {
        "type": "batchnorm2d",
        "activation": "",
        "shape": [None, None, f_out, out],
        "epsilon": 0.001,
        "num_filters_in": out,
        "num_features_in": f_out,
        "weights": [_array(rng, out), np.ones(out).tolist()],
    }
    return {"in_shape": [None, None, features, channels], "layers": [layer, norm]}


@cache
def good_files() -> list[dict[str, Any]]:
    """Our valid fixtures, plus RTNeural's keras-json models when the corpus is present (in memory only)."""
    found = [json.loads(p.read_text()) for p in sorted(GOOD.glob("*.json"))]
    if corpus.corpus_dir():
        found += [
            corpus.read_json(c["model"]) for c in corpus.manifest()["cases"] if c["format"] == "keras-json"
        ]
    return found


# --- mutations ----------------------------------------------------------------------------------------

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.integers(-2, 40),
    st.floats(-4, 4, allow_nan=False, width=32),
    st.just([]),
    st.just({}),
    st.just([[0.5]]),
    st.just([0]),
    st.just([2, 0]),
).map(copy.deepcopy)  # a fresh copy per draw: a later mutation must not change a constant every draw shares
SIZES = st.one_of(
    st.integers(0, 6),
    st.integers(-1, 400),
    st.sampled_from([2.0, 2.5, 65_536, 65_537, 2**20, 10**9, 10**30]),
    st.integers(65_537, 2**20),  # beyond Limits.max_layer_width, within what a float32 holds exactly
    st.just([2]),
    st.just([]),
    st.just([0, 3]),
    st.lists(st.integers(-1, 4), min_size=2, max_size=3),  # lists read by their last element, zeros inside
    st.sampled_from(["valid", "same", "causal", None, True]),
).map(copy.deepcopy)
# Weights beyond a double, beyond float32 (at its rounding tie to inf, and just below it), and below its
# normal range.
SCALED_WEIGHTS = [0.0, -1.0, 1e300, 10**400, 7, 3.5e38, -3.5e38, 2**128 - 2**103, 2**128 - 2**104, 1e-40]
LONE_SURROGATES = ["\ud800", "tanh\udc00", "\udfff"]  # no UTF-8 spelling: refused wherever they stand
ACTIVATIONS = st.sampled_from(
    [
        "",
        "tanh",
        "relu",
        "sigmoid",
        "softmax",
        "elu",
        "linear",
        "Tanh",
        "gelu",
        None,
        3,
        True,
        *LONE_SURROGATES,
    ]
)
TYPES = st.sampled_from(
    [
        "dense",
        "time-distributed-dense",
        "lstm",
        "gru",
        "conv1d",
        "conv2d",
        "prelu",
        "batchnorm",
        "batchnorm2d",
        "activation",
        "dropout",
        None,
        3,
    ]
)
SIZE_KEYS = st.sampled_from(
    [
        "kernel_size",
        "dilation",
        "groups",
        "num_filters_in",
        "num_features_in",
        "num_filters_out",
        "kernel_size_time",
        "kernel_size_feature",
        "strides",
        "epsilon",
        "padding",
    ]
)
MUTATIONS = [
    "drop",
    "retype",
    "width",
    "transpose",
    "activation",
    "type",
    "shorten",
    "size-key",
    "duplicate-layer",
    "wrap",
    "swap-layers",
    "rename-key",
    "scale-weight",
    "surrogate",
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list) and (len(node) <= 64 or prefix[-1:] == ("layers",)):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    elif isinstance(node, list):  # a long weight array: its first and last few places stand for the rest
        for index in [*range(4), *range(len(node) - 4, len(node))]:
            found += _paths(node[index], (*prefix, index))
    return found


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _is_matrix(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(r, list) and r and not isinstance(r[0], list) for r in value)
    )


def mutate(draw: st.DrawFn, doc: dict[str, Any]) -> None:
    """One mutation of ``doc``, in place."""
    kind = draw(st.sampled_from(MUTATIONS))
    layers = doc.get("layers") if isinstance(doc.get("layers"), list) else []
    layer = draw(st.sampled_from(layers)) if layers and isinstance(layers[0], dict) else None
    paths = _paths(doc)
    if kind == "drop" and paths:
        path = draw(st.sampled_from(paths))
        del _parent(doc, path)[path[-1]]
    elif kind == "retype" and paths:
        path = draw(st.sampled_from(paths))
        _parent(doc, path)[path[-1]] = draw(ODD_VALUES)
    elif kind == "width":
        target = layer if isinstance(layer, dict) and isinstance(layer.get("shape"), list) else None
        shape = target["shape"] if target else doc.get("in_shape")
        if isinstance(shape, list) and shape:
            shape[draw(st.integers(0, len(shape) - 1))] = draw(
                st.one_of(st.integers(0, 400), st.integers(65_537, 2**20), SIZES)
            )
    elif kind == "transpose":
        matrices = [p for p in paths if _is_matrix(_parent(doc, p)[p[-1]])]
        if matrices:
            path = draw(st.sampled_from(matrices))
            value = _parent(doc, path)[path[-1]]
            if len({len(r) for r in value}) == 1:
                _parent(doc, path)[path[-1]] = [list(c) for c in zip(*value, strict=True)]
    elif kind == "activation" and isinstance(layer, dict):
        layer["activation"] = draw(ACTIVATIONS)
    elif kind == "type" and isinstance(layer, dict):
        layer["type"] = draw(TYPES)
    elif kind == "shorten":
        lists = [p for p in paths if isinstance(_parent(doc, p)[p[-1]], list) and _parent(doc, p)[p[-1]]]
        if lists:
            path = draw(st.sampled_from(lists))
            _parent(doc, path)[path[-1]].pop()
    elif kind == "size-key" and isinstance(layer, dict):
        layer[draw(SIZE_KEYS)] = draw(SIZES)
    elif kind == "duplicate-layer" and layers:
        index = draw(st.integers(0, len(layers) - 1))
        layers.insert(index, copy.deepcopy(layers[index]))
    elif kind == "wrap" and paths:
        path = draw(st.sampled_from(paths))
        _parent(doc, path)[path[-1]] = [_parent(doc, path)[path[-1]]]
    elif kind == "swap-layers" and len(layers) > 1:
        i, j = draw(st.lists(st.integers(0, len(layers) - 1), min_size=2, max_size=2, unique=True))
        layers[i], layers[j] = layers[j], layers[i]
    elif kind == "rename-key" and isinstance(layer, dict) and layer:
        key = draw(st.sampled_from(sorted(layer)))
        new = draw(st.sampled_from(["weight", "Type", "activations", "kernel", key.upper()]))
        layer[new] = layer.pop(key)
    elif kind == "scale-weight" and paths:
        numbers = [p for p in paths if type(_parent(doc, p)[p[-1]]) is float]
        if numbers:
            path = draw(st.sampled_from(numbers))
            _parent(doc, path)[path[-1]] = draw(st.sampled_from(SCALED_WEIGHTS))
    elif kind == "surrogate" and isinstance(layer, dict):
        # Any string of an entry, of any layer type (activation, type, padding), or a key of it.
        strings = [k for k, v in layer.items() if isinstance(v, str)]
        if strings and draw(st.booleans()):
            layer[draw(st.sampled_from(strings))] = draw(st.sampled_from(LONE_SURROGATES))
        else:
            layer[draw(st.sampled_from(LONE_SURROGATES))] = draw(st.sampled_from(["tanh", 3, []]))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document (generated, or one of the good files) mutated once or twice."""
    base = draw(st.one_of(valid_documents(), st.sampled_from(good_files()).map(copy.deepcopy)))
    # (good_files is cached and never mutated: every draw gets a deep copy)
    for _ in range(draw(st.integers(1, 2))):
        mutate(draw, base)
    return base


def limits() -> st.SearchStrategy[Limits]:
    """The default limits mostly; sometimes tight ones, so that the limit rules meet every layer type."""
    return st.one_of(
        st.just(Limits()),
        st.builds(
            Limits,
            max_layer_width=st.sampled_from([65_536, 300, 16]),
            max_total_parameters=st.sampled_from([50_000_000, 5_000, 100]),
            max_state_values=st.sampled_from([1 << 20, 2_000, 40]),
        ),
    )
