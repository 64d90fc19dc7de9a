"""Hypothesis strategies for random RTNeural-compatible architectures, and the torch modules they describe.

Public, for the project's property tests and for users' own::

    from hypothesis import given, strategies as st
    from verifier.testing.strategies import architectures, inputs, modules

    @given(spec=architectures(), data=st.data())
    def test_my_exporter(spec, data):
        module = modules(spec)
        xs = data.draw(inputs(spec["in_size"]))
        ...

An architecture *spec* is a plain JSON-able dict described by ``schemas/architecture.schema.json``
(``{"in_size": 3, "seed": 0, "layers": [{"type": "dense", "out": 4, "activation": "tanh", "bias": true}]}``)
so that a failing case prints as JSON a user can paste back into :func:`modules`. Every size bound the
generator uses is read from that schema; nothing here repeats a number.

Shrinking works because every structural choice (layer count, types, widths, kernel, groups, the weight
seed) is drawn from Hypothesis; only the weight *values* come from a torch generator seeded by the drawn
seed, and the seed shrinks to 0 like any other integer.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from verifier.format.reader.float32 import FLOAT32_MAX

ARCHITECTURE_SCHEMA_ID = "https://rtneural-verifier.dev/schemas/architecture.schema.json"

# Layer types in the order Hypothesis shrinks towards: a failing case prefers a dense layer, the simplest.
LAYER_TYPES = ("dense", "lstm", "gru", "conv1d", "batchnorm", "prelu", "activation")
# Entry types of RTNeural's keras-json that no PyTorch module exports to: :func:`documents` writes them
# directly (time-distributed-dense is dense per step, but only Keras labels it so).
KERAS_ONLY_TYPES = ("time-distributed-dense", "conv2d", "batchnorm2d")
# Every entry type RTNeural's dynamic loader builds a layer for (docs/format.md §3.3).
ALL_LAYER_TYPES = LAYER_TYPES + KERAS_ONLY_TYPES


# --------------------------------------------------------------------------------------------- bounds


@dataclass(frozen=True)
class Range:
    """Inclusive integer bounds taken from a schema's minimum/maximum (or minItems/maxItems)."""

    lo: int
    hi: int

    def strategy(self, hi: int | None = None) -> st.SearchStrategy[int]:
        return st.integers(self.lo, self.hi if hi is None else min(hi, self.hi))


@dataclass(frozen=True)
class Bounds:
    """Every size bound of the generator, read from the architecture schema."""

    in_size: Range
    layers: Range
    width: Range
    num_layers: Range
    kernel_size: Range
    dilation: Range
    groups: Range
    filters_in: Range
    kernel_time: Range
    kernel_feature: Range
    frame_dilation: Range
    stride: Range
    activations: tuple[str, ...]
    standalone_activations: tuple[str, ...]
    eps: tuple[float, ...]
    steps: Range
    magnitude: float


def architecture_schema() -> dict[str, Any]:
    """The architecture schema, found by its ``$id`` (verifier.format.schema.validator; a shared object: do
    not
    mutate)."""
    from verifier.format.schema.validator import schema

    return schema(ARCHITECTURE_SCHEMA_ID)


def bounds(schema: Mapping[str, Any] | None = None) -> Bounds:
    """The generator's bounds, read from *schema* (default: the architecture schema)."""
    if schema is None:
        return _default_bounds()
    return _read_bounds(schema)


@lru_cache(maxsize=1)
def _default_bounds() -> Bounds:
    return _read_bounds(architecture_schema())


def _read_bounds(schema: Mapping[str, Any]) -> Bounds:
    defs = schema["$defs"]

    def rng(node: Mapping[str, Any]) -> Range:
        if "minItems" in node:
            return Range(int(node["minItems"]), int(node["maxItems"]))
        return Range(int(node["minimum"]), int(node["maximum"]))

    conv = defs["conv1d"]["properties"]
    conv2d = defs["conv2d"]["properties"]
    stream = defs["stream"]["properties"]
    return Bounds(
        in_size=rng(schema["properties"]["in_size"]),
        layers=rng(schema["properties"]["layers"]),
        width=rng(defs["width"]),
        num_layers=rng(defs["lstm"]["properties"]["num_layers"]),
        kernel_size=rng(conv["kernel_size"]),
        dilation=rng(conv["dilation"]),
        groups=rng(conv["groups"]),
        filters_in=rng(conv2d["filters_in"]),
        kernel_time=rng(conv2d["kernel_time"]),
        kernel_feature=rng(conv2d["kernel_feature"]),
        frame_dilation=rng(conv2d["dilation"]),
        stride=rng(conv2d["stride"]),
        activations=tuple(defs["activation"]["enum"]),
        standalone_activations=tuple(defs["activation_layer"]["properties"]["activation"]["enum"]),
        eps=tuple(float(e) for e in defs["batchnorm"]["properties"]["eps"]["enum"]),
        steps=rng(stream["steps"]),
        magnitude=float(stream["magnitude"]["maximum"]),
    )


# ------------------------------------------------------------------------------------- architectures


def output_width(layer: Mapping[str, Any], in_width: int) -> int:
    """The width a spec layer produces from an input of *in_width*."""
    kind = layer["type"]
    if kind in ("dense", "conv1d", "time-distributed-dense"):
        return int(layer["out"])
    if kind == "conv2d":
        return frame_features_out(layer, in_width) * int(layer["filters_out"])
    if kind in ("lstm", "gru"):
        return int(layer["hidden"])
    return in_width


def frame_features_out(layer: Mapping[str, Any], in_width: int) -> int:
    """Features per output frame of a spec conv2d over *in_width* inputs (docs/format.md §10; 0: none)."""
    features, kernel, stride = (
        in_width // int(layer["filters_in"]),
        int(layer["kernel_feature"]),
        int(layer.get("stride", 1)),
    )
    span = features if layer["padding"] == "same" else features - kernel + 1
    return max(-(-span // stride), 0)


def widths(spec: Mapping[str, Any]) -> list[int]:
    """Input width of the model followed by the output width of every spec layer."""
    out = [int(spec["in_size"])]
    for layer in spec["layers"]:
        out.append(output_width(layer, out[-1]))
    return out


def _activation(width: int, names: Sequence[str]) -> st.SearchStrategy[str]:
    # softmax over one value is the constant 1: it would hide every upstream difference.
    return st.sampled_from([a for a in names if not (a == "softmax" and width == 1)])


# A flag that shrinks towards True (the usual case: a layer with bias, a batchnorm with affine parameters).
_TRUE_FIRST = st.booleans().map(operator.not_)


@st.composite
def layer_specs(
    draw: st.DrawFn, in_width: int, types: Sequence[str] = LAYER_TYPES, b: Bounds | None = None
) -> dict[str, Any]:
    """One spec layer that accepts *in_width* inputs, with every choice drawn."""
    b = b or bounds()
    kind = draw(st.sampled_from(list(types)))
    if kind in ("dense", "time-distributed-dense"):
        out = draw(b.width.strategy())
        return {
            "type": kind,
            "out": out,
            "activation": draw(_activation(out, b.activations)),
            "bias": draw(_TRUE_FIRST),
        }
    if kind in ("lstm", "gru"):
        return {"type": kind, "hidden": draw(b.width.strategy()), "num_layers": draw(b.num_layers.strategy())}
    if kind == "conv1d":
        divisors = [g for g in range(b.groups.lo, b.groups.hi + 1) if in_width % g == 0]
        groups = draw(st.sampled_from(divisors))
        out = groups * draw(st.integers(max(1, -(-b.width.lo // groups)), b.width.hi // groups))
        return {
            "type": "conv1d",
            "out": out,
            "kernel_size": draw(b.kernel_size.strategy()),
            "dilation": draw(b.dilation.strategy()),
            "groups": groups,
            "activation": draw(_activation(out, b.activations)),
            "bias": draw(_TRUE_FIRST),
        }
    if kind == "batchnorm":
        return {"type": "batchnorm", "affine": draw(_TRUE_FIRST), "eps": draw(st.sampled_from(b.eps))}
    if kind == "prelu":
        return {"type": "prelu", "shared": draw(st.booleans())}
    if kind == "conv2d":
        return draw(_conv2d_specs(in_width, b))
    if kind == "batchnorm2d":
        return {
            "type": "batchnorm2d",
            "filters_in": draw(st.sampled_from(_divisors(in_width, b.filters_in))),
            "affine": draw(_TRUE_FIRST),
            "eps": draw(st.sampled_from(b.eps)),
        }
    return {"type": "activation", "activation": draw(_activation(in_width, b.standalone_activations))}


def _divisors(width: int, bound: Range) -> list[int]:
    return [n for n in range(bound.lo, bound.hi + 1) if width % n == 0] or [1]


@st.composite
def _conv2d_specs(draw: st.DrawFn, in_width: int, b: Bounds) -> dict[str, Any]:
    """A conv2d over frames of ``in_width / filters_in`` features: any kernel with "same" (some of which
    RTNeural reads outside its frame for, RTN-E207), one no wider than the frame with "valid"; ``filters_out``
    keeps the output frame within the widest width (or one channel)."""
    filters_in = draw(st.sampled_from(_divisors(in_width, b.filters_in)))
    features = in_width // filters_in
    padding = draw(st.sampled_from(["same", "valid"]))
    kernel = draw(b.kernel_feature.strategy(None if padding == "same" else features))
    layer: dict[str, Any] = {
        "type": "conv2d",
        "filters_in": filters_in,
        "kernel_time": draw(b.kernel_time.strategy()),
        "kernel_feature": kernel,
        "dilation": draw(b.frame_dilation.strategy()),
        "stride": draw(b.stride.strategy()),
        "padding": padding,
    }
    f_out = frame_features_out(layer, in_width)
    layer["filters_out"] = draw(st.integers(b.width.lo, max(b.width.lo, b.width.hi // max(f_out, 1))))
    layer["activation"] = draw(_activation(f_out * layer["filters_out"], b.activations))
    return layer


@st.composite
def architectures(
    draw: st.DrawFn,
    *,
    types: Sequence[str] = LAYER_TYPES,
    min_layers: int | None = None,
    max_layers: int | None = None,
    required: Sequence[str] = (),
    limits: Bounds | None = None,
) -> dict[str, Any]:
    """Architecture specs within the schema's bounds.

    ``types`` restricts the layer types drawn (:data:`ALL_LAYER_TYPES` adds those only :func:`documents`
    can build); ``required`` lists types that must appear at least once
    (each is inserted at a drawn position, so shrinking can still move it). ``min_layers``/``max_layers``
    narrow the schema's layer count, never widen it. ``limits`` replaces the schema's bounds (e.g.
    ``bounds(my_schema)`` for a project with its own size limits).
    """
    b = limits or bounds()
    lo = max(b.layers.lo, min_layers or 0, len(required))
    hi = min(b.layers.hi, max_layers or b.layers.hi)
    if lo > hi:
        raise ValueError(f"cannot draw {lo}..{hi} layers (schema allows {b.layers.lo}..{b.layers.hi})")
    in_size = draw(b.in_size.strategy())
    n_required = len(required)
    kinds = draw(st.lists(st.sampled_from(list(types)), min_size=lo - n_required, max_size=hi - n_required))
    for kind in required:
        kinds.insert(draw(st.integers(0, len(kinds))), kind)
    layers: list[dict[str, Any]] = []
    width = in_size
    for kind in kinds:
        layer = draw(layer_specs(width, (kind,), b))
        layers.append(layer)
        width = output_width(layer, width)
    seed = draw(st.integers(0, 2**32 - 1))
    return {"in_size": in_size, "seed": seed, "layers": layers}


def describe(spec: Mapping[str, Any]) -> str:
    """The spec as one line of JSON, ready to paste into ``modules(json.loads(...))``."""
    return json.dumps(spec, separators=(", ", ": "))


# ------------------------------------------------------------------------------------------- modules

# Scale of the drawn weights relative to 1/sqrt(fan_in): slightly above 1 so that a chain of layers neither
# decays to zero nor (with the bounded inputs of `inputs`) drives tanh/sigmoid into full saturation.
_GAIN = 1.2
_BIAS = 0.3


def modules(spec: Mapping[str, Any], seed: int | None = None) -> Any:
    """The torch module a spec describes, in eval mode, weights drawn from ``seed`` (default: the spec's).

    An ``nn.Sequential`` of standard modules (``nn.LSTM``/``nn.GRU`` with ``batch_first=True``), the kind
    :func:`verifier.pytorch.export` accepts. Weights are uniform in ``±gain*sqrt(3/fan_in)`` (unit-variance
    preserving, times a small gain) and biases in ``±0.3``, so activations stay in a useful range; batchnorm
    running statistics are drawn away from the identity. Deterministic: the same spec and seed give the
    same bits; torch's global random state is left as it was (the caller's own seeding is not disturbed).
    """
    import torch

    with torch.random.fork_rng(devices=[]):  # module constructors draw default weights from the global RNG
        return _build(spec, seed)


def _build(spec: Mapping[str, Any], seed: int | None) -> Any:
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(int(spec.get("seed", 0) if seed is None else seed))

    def uniform(shape: Sequence[int], bound: float) -> torch.Tensor:
        return (torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound

    def fill(param: torch.Tensor, fan_in: int, bias: bool = False) -> None:
        bound = _BIAS if bias else _GAIN * math.sqrt(3.0 / max(fan_in, 1))
        with torch.no_grad():
            param.copy_(uniform(param.shape, bound))

    parts: list[nn.Module] = []
    width = int(spec["in_size"])
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "dense":
            lin = nn.Linear(width, layer["out"], bias=layer.get("bias", True))
            fill(lin.weight, width)
            if lin.bias is not None:
                fill(lin.bias, 0, bias=True)
            parts.append(lin)
            parts.extend(_activation_modules(layer.get("activation", "")))
        elif kind in ("lstm", "gru"):
            cls = nn.LSTM if kind == "lstm" else nn.GRU
            rnn = cls(width, layer["hidden"], num_layers=layer.get("num_layers", 1), batch_first=True)
            for param in rnn.parameters():
                fan = param.shape[1] if param.dim() == 2 else 0
                fill(param, fan, bias=param.dim() == 1)
            parts.append(rnn)
        elif kind == "conv1d":
            groups = layer.get("groups", 1)
            conv = nn.Conv1d(
                width,
                layer["out"],
                layer["kernel_size"],
                dilation=layer.get("dilation", 1),
                groups=groups,
                bias=layer.get("bias", True),
            )
            fill(conv.weight, (width // groups) * layer["kernel_size"])
            if conv.bias is not None:
                fill(conv.bias, 0, bias=True)
            parts.append(conv)
            parts.extend(_activation_modules(layer.get("activation", "")))
        elif kind == "batchnorm":
            bn = nn.BatchNorm1d(width, eps=layer.get("eps", 1e-5), affine=layer.get("affine", True))
            with torch.no_grad():
                bn.get_buffer("running_mean").copy_(uniform((width,), 0.5))
                bn.get_buffer("running_var").copy_(0.25 + uniform((width,), 1.0).abs() * 1.75)
                if bn.affine:
                    bn.weight.copy_(0.5 + uniform((width,), 1.0).abs())
                    bn.bias.copy_(uniform((width,), 0.3))
            parts.append(bn)
        elif kind == "prelu":
            prelu = nn.PReLU(1 if layer.get("shared", False) else width)
            with torch.no_grad():
                # negative slopes too: a slope of exactly 0.25 everywhere would make channels interchangeable
                prelu.weight.copy_(uniform(prelu.weight.shape, 0.5))
            parts.append(prelu)
        elif kind == "activation":
            parts.extend(_activation_modules(layer["activation"]))
        elif kind in KERAS_ONLY_TYPES:
            raise ValueError(
                f"{kind} has no PyTorch module here: documents(spec) writes its keras-json entry"
            )
        else:
            raise ValueError(f"unknown layer type {kind!r} in spec")
        width = output_width(layer, width)
    return nn.Sequential(*parts).eval()


def _activation_modules(name: str) -> list:
    from torch import nn

    table = {
        "": None,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "elu": lambda: nn.ELU(alpha=1.0),
        "softmax": lambda: nn.Softmax(dim=-1),
    }
    make = table[name]
    return [] if make is None else [make()]


# ------------------------------------------------------------------------------------ keras-json files


def documents(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The keras-json document of a spec of any layer types (:data:`ALL_LAYER_TYPES`).

    Each run of exportable layers is ``export(modules(...))`` of that run (the whole spec when it has no
    keras-only layer: then this is exactly the export of ``modules(spec)``); each keras-only layer is written
    as its entry, weights drawn as :func:`modules` draws them (uniform, ``gain * sqrt(3 / fan_in)``; batchnorm
    statistics away from the identity) from a generator seeded by the spec's seed and the layer's place."""
    from verifier.pytorch.export import export

    seed = int(spec.get("seed", 0))
    width = int(spec["in_size"])
    layers: list[dict[str, Any]] = []
    run: list[Mapping[str, Any]] = []
    run_width, run_start = width, 0
    for index, layer in enumerate([*spec["layers"], None]):
        if layer is not None and layer["type"] not in KERAS_ONLY_TYPES:
            run.append(layer)
            width = output_width(layer, width)
            continue
        if run:
            part = {"in_size": run_width, "seed": (seed + run_start) % 2**32, "layers": run}
            layers += export(modules(part), in_size=run_width)["layers"]
        if layer is None:
            break
        rng = np.random.default_rng((seed, index))
        layers.append(_keras_only_entry(layer, width, rng))
        width = output_width(layer, width)
        run, run_width, run_start = [], width, index + 1
    first = spec["layers"][0] if spec["layers"] else {}
    in_shape: list[Any] = [None, None, int(spec["in_size"])]
    if first.get("type") in ("conv2d", "batchnorm2d"):  # Keras writes a frame model's input as F x C
        in_shape = [None, None, int(spec["in_size"]) // int(first["filters_in"]), int(first["filters_in"])]
    return {"in_shape": in_shape, "layers": layers}


def _keras_only_entry(layer: Mapping[str, Any], in_width: int, rng: np.random.Generator) -> dict[str, Any]:
    def uniform(shape: Sequence[int], bound: float) -> list[Any]:
        return rng.uniform(-bound, bound, size=tuple(shape)).tolist()

    kind = layer["type"]
    out = output_width(layer, in_width)
    entry: dict[str, Any] = {"type": kind, "activation": layer.get("activation", "")}
    if kind == "time-distributed-dense":
        weights = [uniform((in_width, out), _GAIN * math.sqrt(3.0 / in_width))]
        if layer.get("bias", True):
            weights.append(uniform((out,), _BIAS))
        return {**entry, "shape": [None, None, out], "weights": weights}
    filters = int(layer["filters_in"])
    features = in_width // filters
    if kind == "batchnorm2d":
        mean, var = uniform((filters,), 0.5), (0.25 + np.abs(uniform((filters,), 1.0)) * 1.75).tolist()
        affine = [(0.5 + np.abs(uniform((filters,), 1.0))).tolist(), uniform((filters,), 0.3)]
        return {
            **entry,
            "shape": [None, None, features, filters],
            "epsilon": layer.get("eps", 1e-5),
            "num_filters_in": filters,
            "num_features_in": features,
            "weights": [*(affine if layer.get("affine", True) else []), mean, var],
        }
    k_time, k_feature = int(layer["kernel_time"]), int(layer["kernel_feature"])
    filters_out = int(layer["filters_out"])
    fan_in = k_time * k_feature * filters
    return {
        **entry,
        "shape": [None, None, frame_features_out(layer, in_width), filters_out],
        "kernel_size_time": [k_time],
        "kernel_size_feature": [k_feature],
        "dilation": [int(layer.get("dilation", 1))],
        "strides": [int(layer.get("stride", 1))],
        "num_filters_in": [filters],
        "num_features_in": [features],
        "num_filters_out": [filters_out],
        "padding": layer["padding"],
        "weights": [
            uniform((k_time, k_feature, filters, filters_out), _GAIN * math.sqrt(3.0 / fan_in)),
            uniform((filters_out,), _BIAS),
        ],
    }


# -------------------------------------------------------------------------------------------- inputs


def edge_values(magnitude: float | None = None) -> tuple[float, ...]:
    """The values :func:`inputs` mixes in: zeros, ±1 and ± the schema's largest magnitude."""
    m = bounds().magnitude if magnitude is None else magnitude
    return (0.0, 1.0, -1.0, m, -m)


# The non-finite values `inputs(non_finite=True)` mixes in: what a broken upstream stage hands a plugin.
NON_FINITE = (math.nan, math.inf, -math.inf)


def inputs(
    in_size: int, steps: int | None = None, *, magnitude: float | None = None, non_finite: bool = False
) -> st.SearchStrategy[np.ndarray]:
    """Input streams ``[T, in_size]`` (float64 holding float32-representable values, so that float32 and
    float64 runs see the same numbers). ``T`` is drawn within the schema's bounds unless *steps* is given.
    Elements mix edge values (0, ±1, ±large) with floats in ``[-large, large]``; shrinking goes to zeros.
    Two shapes of stream: mostly one held value with a few drawn ones (Hypothesis' sparse fill: a held or
    silent input, which drives LSTM cell states far), and, for streams small enough, every value drawn.

    *magnitude* replaces the schema's "large" (up to :data:`FLOAT32_MAX`, for a differential campaign that
    leaves the ranges real models see); *non_finite* mixes NaN and ±inf into the edge values."""
    b = bounds()
    m = b.magnitude if magnitude is None else magnitude
    if not 0 <= m <= FLOAT32_MAX:
        raise ValueError(f"magnitude must be within [0, {FLOAT32_MAX:g}] (float32's range), got {m!r}")
    edges = edge_values(m) + (NON_FINITE if non_finite else ())
    element = st.one_of(
        st.sampled_from(edges),
        st.floats(-m, m, width=32, allow_nan=False, allow_infinity=False),
    )

    def streams(n: int) -> st.SearchStrategy[np.ndarray]:
        held = arrays(np.float32, (n, in_size), elements=element)
        if n * in_size > _MAX_DRAWN_VALUES:
            return held
        return st.one_of(held, arrays(np.float32, (n, in_size), elements=element, fill=st.nothing()))

    t = st.just(steps) if steps is not None else b.steps.strategy()
    return t.flatmap(streams).map(lambda a: a.astype(np.float64))


# Above this many values a fully drawn stream would exceed Hypothesis' per-example data budget.
_MAX_DRAWN_VALUES = 1024


def smooth_inputs(in_size: int, steps: int, seed: int) -> np.ndarray:
    """A deterministic, moderate input stream (uniform in ``[-1, 1]``, float32-representable) for checks that
    need every layer active rather than edge values, e.g. whether a corrupted export is detected."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (steps, in_size)).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------------------- weights of any size


# Binary exponents across float32's range and a little past it: a generated weight (of order one) times 2**e
# is still a float32, exactly (a power of two moves only the exponent), from the subnormals up to about the
# largest float32; the top exponents push weights past it, which the float32 loader refuses (RTN-E208).
_PAST_FLOAT32 = 4
_EXPONENTS = st.integers(int(np.finfo(np.float32).minexp), int(np.finfo(np.float32).maxexp) + _PAST_FLOAT32)


@st.composite
def rescaled(draw: st.DrawFn, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the keras-json *doc* with each weight array of each layer multiplied by a drawn power of two
    (each factor shrinks to 1): kernels, recurrent kernels, biases and statistics of very different sizes,
    whose terms overflow or cancel. *doc* is not modified."""
    layers = []
    for layer in doc["layers"]:
        weights = [
            (np.asarray(w, np.float64) * 2.0 ** draw(st.one_of(st.just(0), _EXPONENTS))).tolist()
            for w in layer.get("weights", [])
        ]
        layers.append({**layer, "weights": weights})
    return {**doc, "layers": layers}


# ------------------------------------------------------------------------------- corrupted exports


@dataclass(frozen=True)
class CorruptedExport:
    """A generated model, its correct export, and the export with one known mistake made on one entry."""

    spec: dict[str, Any]
    module: Any
    doc: dict[str, Any]
    bad: dict[str, Any]
    mistake: str
    index: int  # the JSON entry the mistake was made on


@st.composite
def corrupted_exports(draw: st.DrawFn, mistake: str) -> CorruptedExport:
    """Generated models exported with *mistake* (a name from verifier.testing.mistakes.MISTAKES) made on a
    drawn entry. Cases where the mistake cannot change the maths (a 1x1 kernel, one group, identical gate
    blocks...) are rejected with ``assume`` and the reason recorded as a Hypothesis event, so they are
    never counted as detected."""
    from hypothesis import assume, event

    from verifier.pytorch.export import export
    from verifier.testing import mistakes

    needed = mistakes.TARGET_TYPE[mistake]
    spec = draw(architectures(required=(needed,) if needed else (), min_layers=None if needed else 2))
    module = modules(spec)
    doc = export(module, in_size=spec["in_size"])
    candidates = mistakes.candidate_layers(doc, mistake)
    if not candidates:
        event(f"excluded: no entry {mistake} applies to")
        assume(False)
    index = draw(st.sampled_from(candidates), label="entry")
    reason = mistakes.no_op_reason(doc, mistake, index)
    if reason is None and mistake == "lstm_bias_unsummed":
        reason = mistakes.lstm_bias_is_no_op(doc, index, module)
    if reason is not None:
        event(f"excluded: {reason}")
        assume(False)
    bad = mistakes.corrupt(doc, mistake, index, module)
    return CorruptedExport(spec, module, doc, bad, mistake, index)
