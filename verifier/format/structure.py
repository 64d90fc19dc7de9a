"""The checks a JSON Schema cannot express: every declared width is defined and within the limits
(:func:`check_in_shape`, :func:`check_declarations`, before any weight array is looked at), widths chain from
layer to layer and every weight array has exactly the shape those widths imply (:func:`check_layers`,
docs/format.md §3.2).

These run after the schema, on entries the schema accepted, so every key read here exists with the right
JSON type. RTNeural itself checks none of this except conv2d's output size: a weight array that is too long
throws ``std::out_of_range``, one that is too short is read as zeros or past its end, so one mismatch per
layer is reported (the first, in weight order) -- later arrays of the same layer usually repeat it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verifier.format.findings import Finding, Limits, finding, pointer_join
from verifier.format.reader.arrays import array_shape, float32_scalar, is_finite_number, is_numeric_array
from verifier.format.rules import Outcome
from verifier.format.same_padding import rtneural_reads_outside_frame
from verifier.quoting import quoted

KNOWN_TYPES = frozenset(
    {
        "dense",
        "time-distributed-dense",
        "conv1d",
        "conv2d",
        "gru",
        "lstm",
        "prelu",
        "batchnorm",
        "batchnorm2d",
        "activation",
    }
)
# parseJson never reads `activation` for these entries; "tanh" on a recurrent entry is what Keras writes and
# what the cell computes anyway, so only a different name is worth a warning there.
_IGNORES_ACTIVATION = {
    "lstm": {"", "tanh"},
    "gru": {"", "tanh"},
    "prelu": {""},
    "batchnorm": {""},
    "batchnorm2d": {""},
}
# The size keys each type reads; each is a declared width for the limits.
_SIZE_KEYS = {
    "conv1d": ("kernel_size", "dilation", "groups"),
    "conv2d": (
        "dilation",
        "kernel_size_time",
        "kernel_size_feature",
        "strides",
        "num_filters_in",
        "num_features_in",
        "num_filters_out",
    ),
    "batchnorm2d": ("num_filters_in", "num_features_in"),
}


def is_known_entry(body: Any) -> bool:
    """An entry RTNeural builds a layer for (others are dropped, or refused before parseJson dispatches)."""
    return isinstance(body, dict) and isinstance(body.get("type"), str) and body["type"] in KNOWN_TYPES


def positive_int(value: Any) -> int | None:
    """``value`` as a positive integer (JSON ``3`` or ``3.0``), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value) if value >= 1 else None


def last_int(value: Any) -> int | None:
    """RTNeural reads size keys as "the last element, or the number itself"."""
    if isinstance(value, list):
        return positive_int(value[-1]) if value else None
    return positive_int(value)


def width_index(shape: Any) -> list[int]:
    """Indices of a shape list that define its width."""
    if not isinstance(shape, list) or not shape:
        return []
    return [2, 3] if len(shape) == 4 else [len(shape) - 1]


def shape_width(shape: Any) -> int | None:
    """The width a keras shape declares: last entry, or ``[2] * [3]`` for a 4-entry shape."""
    used = [positive_int(shape[i]) for i in width_index(shape)]
    if not used or None in used:
        return None
    return math.prod(used)  # type: ignore[arg-type]


def undefined_width(shape: Any, pointer: str, what: str) -> Finding:
    bad = next((i for i in width_index(shape) if positive_int(shape[i]) is None), None)
    where = pointer if bad is None else pointer_join(pointer, bad)
    found = "[]" if bad is None else ("null" if shape[bad] is None else quoted(shape[bad]))
    outcome: Outcome = "exception" if bad is not None and shape[bad] is None else "silently wrong"
    return finding(
        "RTN-E108",
        where,
        f"{what} must end in a positive integer width (or hold 4 entries with [2] and [3] set)",
        expected="a positive integer",
        found=found,
        rtneural=outcome,
    )


def _size_outcome(found: int, expected: int) -> Outcome:
    return "exception" if found > expected else "silently wrong"


@dataclass(frozen=True)
class Entry:
    """One layer entry with the widths the chain gives it."""

    index: int
    pointer: str
    body: dict[str, Any]
    in_width: int | None
    in_from: str  # "in_shape" or "layer 3 (dense)", for messages
    out_width: int | None  # from `shape`
    float32: bool = False  # checked for a float32 engine: numbers beyond its range are errors
    # warnings about numbers met while the arrays are read (RTN-W008), reported after the entry's checks
    notes: list[Finding] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.body["type"]

    def at(self, *parts: object) -> str:
        return pointer_join(self.pointer, *parts)

    def weights(self, j: int) -> Any:
        return self.body["weights"][j]


Check = Callable[[Entry], Iterator[Finding]]


def model_input_width(doc: dict[str, Any]) -> int | None:
    return shape_width(doc["in_shape"])


def layer_entries(doc: dict[str, Any]) -> Iterator[Entry]:
    """Known-type entries with their chained widths; unknown types are skipped, as RTNeural drops them."""
    width = model_input_width(doc)
    source = "in_shape"
    for index, body in enumerate(doc["layers"]):
        if not is_known_entry(body):
            continue
        out = shape_width(body.get("shape"))
        entry = Entry(index, pointer_join("/layers", index), body, width, source, out)
        yield entry
        width = width if entry.type in _KEEPS_WIDTH and width is not None else out
        source = f"layer {index} ({entry.type})"


# prelu is built with the incoming width (its shape is read but unused); activation and batchnorm entries
# must repeat it in their shape (a mismatch is reported once, and the chain goes on with the width that
# flowed in).
_KEEPS_WIDTH = frozenset({"prelu", "activation", "batchnorm", "batchnorm2d"})


# --- limits ---------------------------------------------------------------------------------------------


def _declared_params(entry: Entry) -> int:
    body, w_in, out = entry.body, entry.in_width or 0, entry.out_width or 0

    def key(name: str) -> int:
        return last_int(body.get(name)) or 1

    kind = entry.type
    if kind in ("dense", "time-distributed-dense"):
        return w_in * out + out
    if kind == "lstm":
        return 4 * out * (w_in + out + 1)
    if kind == "gru":
        return 3 * out * (w_in + out + 2)
    if kind == "conv1d":
        return key("kernel_size") * (w_in // key("groups")) * out + out
    if kind == "conv2d":
        return key("kernel_size_time") * key("kernel_size_feature") * key("num_filters_in") * key(
            "num_filters_out"
        ) + key("num_filters_out")
    if kind in ("batchnorm", "batchnorm2d", "prelu"):
        return 4 * w_in
    return 0


def _declared_held_values(entry: Entry, out_width: int) -> int:
    """Values the engine holds for the entry besides its weights: its output, recurrent state, and a
    convolution's history of past inputs (what a hostile file can make large with a few bytes)."""
    body, w_in, out = entry.body, entry.in_width or 0, entry.out_width or 0

    def key(name: str) -> int:
        return last_int(body.get(name)) or 1

    kind = entry.type
    if kind == "lstm":
        return out_width + 2 * out
    if kind == "gru":
        return out_width + out
    if kind == "conv1d":
        return out_width + ((key("kernel_size") - 1) * key("dilation") + 1) * w_in
    if kind == "conv2d":
        history = (key("kernel_size_time") - 1) * key("dilation") + 1
        return out_width + history * key("num_features_in") * key("num_filters_in")
    return out_width


def _too_wide(pointer: str, what: str, value: int | None, limits: Limits) -> Finding | None:
    if value is None or value <= limits.max_layer_width:
        return None
    return finding(
        "RTN-E303",
        pointer,
        f"{what} exceeds the limit on declared widths",
        expected=f"at most {limits.max_layer_width} (Limits.max_layer_width)",
        found=value,
    )


def check_in_shape(doc: dict[str, Any], limits: Limits) -> list[Finding]:
    """in_shape's width: defined, and within the limit (when in_shape is a non-empty list)."""
    shape = doc.get("in_shape")
    if not isinstance(shape, list) or not shape:
        return []  # the schema's finding
    width = shape_width(shape)
    if width is None:
        return [undefined_width(shape, "/in_shape", "in_shape")]
    over = _too_wide("/in_shape", "the model input width", width, limits)
    return [over] if over else []


def check_declarations(doc: dict[str, Any], limits: Limits) -> list[Finding]:
    """Every entry's declared width, then the limits, found from the keys alone (no weight array is read).

    The limits stop at the first entry over one of them: the loader refuses there, before allocating."""
    found: list[Finding] = []
    parameters = held = 0
    for entry in layer_entries(doc):
        shape = entry.body.get("shape")
        if isinstance(shape, list) and shape and entry.out_width is None:
            found.append(undefined_width(shape, entry.at("shape"), f"layer {entry.index} shape"))
    for entry in layer_entries(doc):
        label = f"layer {entry.index} ({entry.type})"
        over = [_too_wide(entry.at("shape"), f"{label} width", entry.out_width, limits)]
        over += [
            _too_wide(entry.at(name), f"{entry.type} {name}", last_int(entry.body[name]), limits)
            for name in _SIZE_KEYS.get(entry.type, ())
            if name in entry.body
        ]
        if any(over):
            return found + [f for f in over if f is not None]
        parameters += _declared_params(entry)
        if parameters > limits.max_total_parameters:
            return [
                *found,
                finding(
                    "RTN-E304",
                    entry.pointer,
                    f"the declared widths up to layer {entry.index} imply more weights than allowed",
                    expected=f"at most {limits.max_total_parameters} (Limits.max_total_parameters)",
                    found=parameters,
                ),
            ]
        keeps = entry.type in _KEEPS_WIDTH and entry.in_width is not None
        held += _declared_held_values(entry, (entry.in_width if keeps else entry.out_width) or 0)
        if held > limits.max_state_values:
            return [
                *found,
                finding(
                    "RTN-E305",
                    entry.pointer,
                    f"the outputs, recurrent state and convolution history declared up to layer "
                    f"{entry.index} exceed the limit on values the engine holds",
                    expected=f"at most {limits.max_state_values} (Limits.max_state_values)",
                    found=held,
                ),
            ]
    return found


def computes(doc: dict[str, Any]) -> bool:
    """Whether some entry makes a layer (RTNeural's model without layers crashes on forward())."""
    return any(
        entry.type != "activation" or entry.body.get("activation", "") != "" for entry in layer_entries(doc)
    )


# --- per-layer checks -----------------------------------------------------------------------------------


def _shape_of(entry: Entry, j: int, ndim: int) -> tuple[int, ...] | Finding:
    return array_shape(
        entry.weights(j), ndim, entry.at("weights", j), float32=entry.float32, notes=entry.notes
    )


def _chain(entry: Entry, pointer: str, what: str, found: int) -> Finding:
    assert entry.in_width is not None
    return finding(
        "RTN-E201",
        pointer,
        f"{what} disagrees with the width {entry.in_from} feeds into layer {entry.index}",
        expected=f"{entry.in_width} (from {entry.in_from})",
        found=found,
        rtneural=_size_outcome(found, entry.in_width),
    )


def _mismatch(pointer: str, what: str, expected: tuple[int, ...], found: tuple[int, ...]) -> Finding:
    bigger = any(f > e for f, e in zip(found, expected, strict=False)) or len(found) > len(expected)
    return finding(
        "RTN-E202",
        pointer,
        what,
        expected=_dims(expected),
        found=_dims(found),
        rtneural="exception" if bigger else "silently wrong",
    )


def _dims(shape: tuple[int, ...]) -> str:
    return "".join(f"[{n}]" for n in shape) if shape else "[]"


def _check_arrays(entry: Entry, specs: list[tuple[int, tuple[int, ...], str]]) -> Iterator[Finding]:
    """The first weight array (of ``specs``: index, expected shape, description) that mismatches."""
    for j, expected, what in specs:
        got = _shape_of(entry, j, len(expected))
        if isinstance(got, Finding):
            yield got
            return
        if got != expected:
            yield _mismatch(entry.at("weights", j), what, expected, got)
            return


def _dense(entry: Entry) -> Iterator[Finding]:
    kernel = _shape_of(entry, 0, 2)
    if isinstance(kernel, Finding):
        yield kernel
        return
    rows, cols = kernel
    w_in, out = entry.in_width, entry.out_width
    if len(entry.body["weights"]) == 1:
        yield finding(
            "RTN-I001",
            entry.at("weights"),
            f"dense layer {entry.index} has no bias: it is zero",
            expected="[kernel, bias]",
            found="[kernel]",
        )
    if w_in is not None and out is not None and (rows, cols) == (out, w_in) and rows != cols:
        yield finding(
            "RTN-E203",
            entry.at("weights", 0),
            "the dense kernel is written [out][in] (PyTorch's Linear.weight); "
            "RTNeural wants [in][out]: transpose it (verifier.pytorch.export does)",
            expected=_dims((w_in, out)),
            found=_dims(kernel),
        )
        return
    if w_in is not None and rows != w_in:
        yield _chain(entry, entry.at("weights", 0), "the dense kernel's row count (its input width)", rows)
        return
    if out is not None and cols != out:
        yield _mismatch(
            entry.at("weights", 0),
            f"the dense kernel must have one column per output (shape says {out})",
            (rows, out),
            kernel,
        )
        return
    if len(entry.body["weights"]) > 1:
        yield from _check_arrays(entry, [(1, (cols,), "the dense bias must have one value per output")])
    if rows == cols:
        yield finding(
            "RTN-W003",
            entry.at("weights", 0),
            f"square {rows}x{cols} dense kernel: a transposed (PyTorch [out][in]) export loads "
            "just as well, so confirm the orientation numerically (verifier.checks.compare)",
        )


def _recurrent(entry: Entry, gates: int) -> Iterator[Finding]:
    name = entry.type
    hidden = entry.out_width
    kernel = _shape_of(entry, 0, 2)
    if isinstance(kernel, Finding):
        yield kernel
        return
    if entry.in_width is not None and kernel[0] != entry.in_width:
        yield _chain(
            entry, entry.at("weights", 0), f"the {name} kernel's row count (its input width)", kernel[0]
        )
        return
    if hidden is None:
        return
    width = gates * hidden
    implied = f" (weights for hidden size {kernel[1] // gates})" if kernel[1] % gates == 0 else ""
    bias = (width,) if name == "lstm" else (2, width)
    yield from _check_arrays(
        entry,
        [
            (
                0,
                (kernel[0], width),
                f"the {name} kernel must be [in][{gates}*H] with H = {hidden} from shape{implied}",
            ),
            (1, (hidden, width), f"the {name} recurrent kernel must be [H][{gates}*H] with H = {hidden}"),
            (
                2,
                bias,
                f"the {name} bias must be {_dims(bias)}"
                + (
                    " (PyTorch's bias_ih + bias_hh)"
                    if name == "lstm"
                    else " (row 0 input bias, row 1 recurrent)"
                ),
            ),
        ],
    )


def _conv1d(entry: Entry) -> Iterator[Finding]:
    body, w_in, out = entry.body, entry.in_width, entry.out_width
    yield from _conv1d_ignored_keys(entry)
    kernel = _shape_of(entry, 0, 3)
    if isinstance(kernel, Finding):
        yield kernel
        return
    per_group = kernel[1]
    size = last_int(body["kernel_size"])
    groups = positive_int(body.get("groups", 1))
    if w_in is None or out is None or size is None or groups is None:
        return
    if "groups" not in body and per_group not in (0, w_in) and w_in % per_group == 0:
        implied = w_in // per_group
        yield finding(
            "RTN-E204",
            entry.at("groups"),
            f"the kernel's middle axis ({per_group}) says the convolution has {implied} groups, "
            f"but there is no groups key, so RTNeural builds one group and leaves the weights of "
            f'the other input channels at zero: write "groups": {implied}',
            expected=f"groups {implied}",
            found="no groups key",
        )
        return
    if w_in % groups or out % groups:
        yield finding(
            "RTN-E205",
            entry.at("groups"),
            "groups must divide both the input and output widths",
            expected=f"a divisor of {w_in} and {out}",
            found=groups,
        )
        return
    if per_group * groups != w_in:
        yield _chain(
            entry,
            entry.at("weights", 0),
            f"the conv1d kernel's middle axis x groups ({per_group} x {groups})",
            per_group * groups,
        )
        return
    yield from _check_arrays(
        entry,
        [
            (
                0,
                (size, per_group, out),
                f"the conv1d kernel must be [kernel_size][in/groups][out] = [{size}][{per_group}][{out}]",
            ),
            (1, (out,), "the conv1d bias must have one value per output channel"),
        ],
    )


def _conv1d_ignored_keys(entry: Entry) -> Iterator[Finding]:
    body = entry.body
    if "strides" in body and last_int(body["strides"]) != 1:
        yield finding(
            "RTN-W004",
            entry.at("strides"),
            "RTNeural's JSON conv1d has no strides: it computes every step (stride 1)",
            expected="1 or no strides key",
            found=quoted(body["strides"]),
        )
    if "padding" in body and body["padding"] != "causal":
        yield finding(
            "RTN-W004",
            entry.at("padding"),
            "RTNeural's JSON conv1d is always causal; this padding is ignored and the output is "
            "shifted against the trained model",
            expected='"causal" or no padding key',
            found=quoted(body["padding"]),
        )


def _conv2d(entry: Entry) -> Iterator[Finding]:
    body = entry.body
    sizes = [
        last_int(body[k])
        for k in (
            "kernel_size_time",
            "kernel_size_feature",
            "strides",
            "num_filters_in",
            "num_features_in",
            "num_filters_out",
        )
    ]
    known = [v for v in sizes if v is not None]
    if len(known) < len(sizes):
        return
    k_time, k_feat, stride, c_in, f_in, c_out = known
    if entry.in_width is not None and f_in * c_in != entry.in_width:
        yield _chain(
            entry, entry.at("num_features_in"), "conv2d num_features_in x num_filters_in", f_in * c_in
        )
        return
    if body["padding"] == "same" and rtneural_reads_outside_frame(f_in, k_feat, stride):
        yield finding(
            "RTN-E207",
            entry.at("kernel_size_feature"),
            f'kernel_size_feature {k_feat} with "same" padding, stride {stride} over num_features_in {f_in}: '
            "a window overhangs both edges of the frame and RTNeural reads outside its frame buffer, so "
            "what a plugin computes is undefined (its backends disagree); use a kernel at most "
            "num_features_in wide",
            expected=f"at most {f_in}",
            found=k_feat,
        )
        return
    if body["padding"] == "valid":
        f_out = math.ceil((f_in - k_feat + 1) / stride)
    else:  # any other string is TensorFlow "same" along the feature axis
        f_out = math.ceil(f_in / stride)
    if entry.out_width != f_out * c_out:
        yield finding(
            "RTN-E206",
            entry.at("shape"),
            f"conv2d shape must give F_out x num_filters_out = {f_out} x {c_out} "
            f"({quoted(body['padding'])} padding, stride {stride}); RTNeural returns a null model",
            expected=max(f_out, 0) * c_out,
            found=entry.out_width,
        )
        return
    yield from _check_arrays(
        entry,
        [
            (0, (k_time, k_feat, c_in, c_out), "the conv2d kernel must be [K_time][K_feature][C_in][C_out]"),
            (1, (c_out,), "the conv2d bias must have one value per output filter"),
        ],
    )


def _same_width_shape(entry: Entry) -> Iterator[Finding]:
    """activation and batchnorm entries are built with their shape's width, which must be the incoming one."""
    if entry.in_width is not None and entry.out_width is not None and entry.out_width != entry.in_width:
        yield _chain(entry, entry.at("shape"), f"the {entry.type} entry's shape width", entry.out_width)


def _batchnorm(entry: Entry) -> Iterator[Finding]:
    body = entry.body
    if not is_finite_number(body["epsilon"]):
        yield finding(
            "RTN-E005",
            entry.at("epsilon"),
            "epsilon must be a finite number",
            expected="a finite number",
            found=body["epsilon"],
        )
    elif entry.float32 and (problem := float32_scalar(float(body["epsilon"]), entry.at("epsilon"))):
        yield problem
    if entry.type == "batchnorm2d":
        channels, features = positive_int(body["num_filters_in"]), positive_int(body["num_features_in"])
        if channels is None or features is None:
            return
        if entry.in_width is not None and channels * features != entry.in_width:
            yield _chain(
                entry,
                entry.at("num_features_in"),
                "batchnorm2d num_features_in x num_filters_in",
                channels * features,
            )
            return
    else:
        channels = entry.in_width
    chained = list(_same_width_shape(entry))
    if chained:
        yield from chained
        return
    if channels is None:
        return
    names = ["gamma", "beta", "moving mean", "moving variance"]
    names = names if len(body["weights"]) == 4 else names[2:]
    mismatch = list(
        _check_arrays(
            entry,
            [
                (j, (channels,), f"batchnorm {name} must have one value per channel")
                for j, name in enumerate(names)
            ],
        )
    )
    yield from mismatch
    if not mismatch:
        yield from _variance_positive(entry, len(names) - 1)


def _variance_positive(entry: Entry, j: int) -> Iterator[Finding]:
    epsilon = entry.body["epsilon"]
    variances = entry.weights(j)
    if is_numeric_array(variances):
        bad = np.flatnonzero(~(variances.to_numpy() + epsilon > 0))
        variances = [variances.item([int(bad[0])])] if bad.size else []
        first = int(bad[0]) if bad.size else 0
    else:
        first = 0
    for c, variance in enumerate(variances, start=first):
        if not variance + epsilon > 0:
            yield finding(
                "RTN-E103",
                entry.at("weights", j, c),
                "moving variance + epsilon must be positive, or this channel's output is NaN or inf",
                expected="variance + epsilon > 0",
                found=f"variance {variance} with epsilon {epsilon}",
            )
            return


def _prelu(entry: Entry) -> Iterator[Finding]:
    alphas = _shape_of(entry, 0, 2)
    if isinstance(alphas, Finding):
        yield alphas
        return
    rows, count = alphas
    width = entry.in_width
    if rows != 1:
        yield finding(
            "RTN-E202",
            entry.at("weights", 0),
            "prelu weights[0] must hold exactly one row of alphas; RTNeural reads only the first row"
            + (" (it throws on none)" if rows == 0 else ", so the other rows are silently ignored"),
            expected="[1][channels] or [1][1]",
            found=_dims(alphas),
            rtneural="exception" if rows == 0 else "silently wrong",
        )
        return
    if width is not None and count not in (1, width):
        yield finding(
            "RTN-E202",
            entry.at("weights", 0, 0),
            "prelu needs one alpha per channel, or a single alpha shared by all",
            expected=f"1 or {width} alphas",
            found=count,
            rtneural=_size_outcome(count, width),
        )
        return
    if width is not None and entry.out_width not in (None, width):
        yield finding(
            "RTN-W005",
            entry.at("shape"),
            f"the prelu shape says {entry.out_width} channels but {entry.in_from} gives it {width}; "
            "RTNeural ignores a prelu's shape and uses the incoming width, so fix the shape",
            expected=width,
            found=entry.out_width,
        )


def _activation(entry: Entry) -> Iterator[Finding]:
    if entry.body.get("activation", "") == "":
        yield finding(
            "RTN-W002",
            entry.at("activation"),
            f"activation entry {entry.index} has no activation and does nothing; remove it or name "
            "one of tanh, relu, sigmoid, softmax, elu",
            expected="an activation name",
            found=quoted(entry.body.get("activation", "(no key)")),
        )
    yield from _same_width_shape(entry)


def _ignored_activation(entry: Entry) -> Iterator[Finding]:
    harmless = _IGNORES_ACTIVATION.get(entry.type)
    name = entry.body.get("activation", "")
    if name is None and entry.type in ("lstm", "gru"):
        yield finding(
            "RTN-W006",
            entry.at("activation"),
            f'"activation": null on a {entry.type} entry: RTNeural never reads the key there, so it runs; '
            'write "tanh" or leave the key out',
            expected='"tanh" or no key',
            found="null",
        )
    if harmless is not None and isinstance(name, str) and name not in harmless:
        yield finding(
            "RTN-W001",
            entry.at("activation"),
            f"RTNeural ignores the activation of a {entry.type} entry; to apply {quoted(name)} after it, "
            "add a separate activation entry",
            expected=" or ".join(repr(h) for h in sorted(harmless)),
            found=quoted(name),
        )


_CHECKS: dict[str, Check] = {
    "dense": _dense,
    "time-distributed-dense": _dense,
    "lstm": lambda e: _recurrent(e, 4),
    "gru": lambda e: _recurrent(e, 3),
    "conv1d": _conv1d,
    "conv2d": _conv2d,
    "batchnorm": _batchnorm,
    "batchnorm2d": _batchnorm,
    "prelu": _prelu,
    "activation": _activation,
}


def check_layers(doc: dict[str, Any], skip: set[int], *, float32: bool = False) -> list[Finding]:
    """Width and weight-shape findings of every known entry (with ``float32``, also every number a float32
    engine cannot hold: :mod:`verifier.format.reader.float32`).

    Entries in ``skip`` (already reported by the schema) are not checked again; neither are undefined widths
    (reported by :func:`check_declarations`). After an entry with an
    error the next entry's input width counts as unknown, so one wrong width is reported once rather
    than again by every layer downstream of it.
    """
    found: list[Finding] = []
    width = model_input_width(doc)
    source, broken = "in_shape", False
    for index, body in enumerate(doc["layers"]):
        if index in skip:
            broken = True
        if not is_known_entry(body):
            continue  # RTNeural drops the entry; the schema has reported it
        entry = Entry(
            index,
            pointer_join("/layers", index),
            body,
            None if broken else width,
            source,
            shape_width(body.get("shape")),
            float32,
        )
        here = list(_ignored_activation(entry))
        if index not in skip:
            # An undefined width was reported with the declarations (check_declarations).
            if entry.out_width is not None:
                here.extend(_CHECKS[entry.type](entry))
            broken = entry.out_width is None or any(f.severity == "error" for f in here)
        found.extend(here + entry.notes)
        keeps = entry.type in _KEEPS_WIDTH and entry.in_width is not None
        width = entry.in_width if keeps else entry.out_width
        source = f"layer {index} ({entry.type})"
    return found
