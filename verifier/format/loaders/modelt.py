"""The compile-time model type (``RTNeural::ModelT``) a keras-json file needs, and the silent ways a declared
type and a file can disagree (docs/format.md; the conformance corpus's pitfall 27).

A plugin that declares ``ModelT<T, IN, OUT, Layers...>`` and calls its ``parseJson`` gets no error when the
type and the file differ: a different input width returns before anything is loaded; a layer whose type,
width, kernel, dilation, groups or stride differs keeps its initial (zero) weights while loading goes on;
JSON layers beyond the declared ones are ignored; a declared activation runs whatever the file names; and the
dense, recurrent and PReLU checks look at the output width only. :func:`model_type` writes the type a file
needs; :func:`check_type` replays the loader's walk over a declared type and names each of those cases at its
JSON pointer. :func:`parse_type` and :func:`declarations_in_source` read a type from text, literals only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier.format.findings import pointer_join
from verifier.format.structure import last_int, shape_width
from verifier.quoting import quoted

NAMESPACE = "RTNeural::"
# Eigen refuses a fixed-size matrix above this many bytes unless EIGEN_STACK_ALLOCATION_LIMIT is 0.
EIGEN_STACK_LIMIT_BYTES = 128 * 1024
MAX_SOURCE_BYTES = 4 * 1024 * 1024
MAX_TYPE_CHARS = 64 * 1024
MAX_TEMPLATE_DEPTH = 16

# activation name in the file -> the layer template that computes it
ACTIVATION_LAYERS = {
    "tanh": "TanhActivationT",
    "relu": "ReLuActivationT",
    "sigmoid": "SigmoidActivationT",
    "softmax": "SoftmaxActivationT",
    "elu": "ELuActivationT",
}
_ACTIVATION_NAMES = {layer: name for name, layer in ACTIVATION_LAYERS.items()}
# Entries after which the loader stays on the same entry for the fused activation that follows.
_FUSES_ACTIVATION = {"dense", "time-distributed-dense", "conv1d", "conv2d"}
_ENTRY_TYPES = {
    "DenseT": ("dense", "time-distributed-dense"),
    "Conv1DT": ("conv1d",),
    "Conv2DT": ("conv2d",),
    "GRULayerT": ("gru",),
    "LSTMLayerT": ("lstm",),
    "PReLUActivationT": ("prelu",),
    "BatchNorm1DT": ("batchnorm",),
    "BatchNorm2DT": ("batchnorm2d",),
}
# Template parameters after T, in order, with the defaults RTNeural gives them (None: no default).
PARAMETERS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "DenseT": (("in", None), ("out", None), ("has_bias", "true")),
    "Conv1DT": (
        ("in", None),
        ("out", None),
        ("kernel", None),
        ("dilation", None),
        ("groups", "1"),
        ("dynamic_state", "false"),
    ),
    "Conv2DT": (
        ("filters_in", None),
        ("filters_out", None),
        ("features_in", None),
        ("kernel_time", None),
        ("kernel_feature", None),
        ("dilation", None),
        ("stride", None),
        ("valid_pad", None),
    ),
    "GRULayerT": (("in", None), ("out", None), ("sample_rate_correction", None), ("maths", None)),
    "LSTMLayerT": (("in", None), ("out", None), ("sample_rate_correction", None), ("maths", None)),
    "PReLUActivationT": (("size", None),),
    "BatchNorm1DT": (("size", None), ("affine", "true")),
    "BatchNorm2DT": (("filters", None), ("features", None), ("affine", "true")),
    "TanhActivationT": (("size", None), ("maths", None)),
    "ReLuActivationT": (("size", None),),
    "SigmoidActivationT": (("size", None), ("maths", None)),
    "SoftmaxActivationT": (("size", None), ("maths", None)),
    "ELuActivationT": (("size", None), ("alpha_num", "1"), ("alpha_den", "1"), ("maths", None)),
}
DEFAULTS_NOTE = (
    "GRULayerT and LSTMLayerT are left at their defaults: SampleRateCorrectionMode::None (no sample-rate "
    "correction) and DefaultMathsProvider; the activations use DefaultMathsProvider too."
)


class ModelTError(ValueError):
    """A declared type that cannot be read (not a ModelT, a non-literal argument, bad syntax)."""


@dataclass(frozen=True)
class LayerT:
    """One template layer: its name (without namespace) and its arguments after ``T`` as written."""

    name: str
    args: tuple[str, ...]
    pointer: str = field(default="", compare=False)  # the JSON entry it was made from (emitted types only)

    def render(self, numeric: str) -> str:
        return f"{NAMESPACE}{self.name}<{', '.join((numeric, *self.args))}>"

    def arg(self, parameter: str) -> str | None:
        """The argument of ``parameter`` as written, else its default; None when neither exists."""
        names = [name for name, _ in PARAMETERS[self.name]]
        index = names.index(parameter)
        return self.args[index] if index < len(self.args) else PARAMETERS[self.name][index][1]

    def int_arg(self, parameter: str) -> int | None:
        value = self.arg(parameter)
        return int(value) if value is not None and re.fullmatch(r"\d+", value) else None

    @property
    def out_width(self) -> int | None:
        if self.name == "Conv2DT":
            return _conv2d_out(self)
        if self.name == "BatchNorm2DT":
            f, n = self.int_arg("filters"), self.int_arg("features")
            return None if f is None or n is None else f * n
        return self.int_arg("out" if "out" in dict(PARAMETERS[self.name]) else "size")

    @property
    def is_activation(self) -> bool:
        return self.name in _ACTIVATION_NAMES


@dataclass(frozen=True)
class ModelType:
    numeric: str
    in_size: int
    out_size: int
    layers: tuple[LayerT, ...]

    def render(self) -> str:
        inner = ",\n    ".join(layer.render(self.numeric) for layer in self.layers)
        return (
            f"using Model = {NAMESPACE}ModelT<{self.numeric}, {self.in_size}, {self.out_size},\n    {inner}>;"
        )


@dataclass(frozen=True)
class Problem:
    """Why the file has no ModelT type, or a way a declared type and the file disagree."""

    case: str  # unrepresentable, early-return, skipped-layer, unloaded-layer, trailing-layers,
    # swapped-activation, width-unchecked, output-width
    pointer: str
    message: str


@dataclass(frozen=True)
class Emitted:
    model: ModelType | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = field(default=())


def _conv2d_out(layer: LayerT) -> int | None:
    values = [layer.int_arg(p) for p in ("filters_out", "features_in", "kernel_feature", "stride")]
    valid = layer.arg("valid_pad")
    if None in values or valid not in ("true", "false"):
        return None
    filters, features, kernel, stride = (v or 0 for v in values)
    span = features - kernel + 1 if valid == "true" else features
    return filters * max((span + stride - 1) // max(stride, 1), 0)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _width(entry: Mapping[str, Any]) -> int | None:
    return shape_width(entry.get("shape"))


def file_errors(doc: Any, numeric: str = "float") -> tuple[Problem, ...]:
    """The file's own error findings: ``parseJson`` of any type throws on them or misreads the file, so no
    type is printed for it (the structural walk of :func:`model_type` assumes a valid file)."""
    from verifier.format.findings import Limits
    from verifier.format.validate import check_document

    return tuple(
        Problem("invalid-file", f.pointer, f"{f.rule}: {f.message}")
        for f in check_document(doc, Limits(), float32=numeric == "float")
        if f.severity == "error"
    )


def model_type(doc: Mapping[str, Any], numeric: str = "float") -> Emitted:
    """The ``ModelT`` type ``parseJson`` loads ``doc`` into completely; problems say why there is none."""
    problems: list[Problem] = []
    notes: list[str] = [DEFAULTS_NOTE]
    in_width = shape_width(doc.get("in_shape"))
    entries = doc.get("layers")
    if in_width is None or not isinstance(entries, list):
        return Emitted(None, (Problem("unrepresentable", "/in_shape", "the input width is undefined"),))
    width = in_width
    layers: list[LayerT] = []
    for index, body in enumerate(entries):
        pointer = pointer_join("/layers", index)
        entry: Mapping[str, Any] = body if isinstance(body, dict) else {}
        kind = _text(entry.get("type"))
        out = _width(entry)
        if out is None:
            problems.append(Problem("unrepresentable", pointer_join(pointer, "shape"), "undefined width"))
            break
        activation = _text(entry.get("activation"))
        made: list[LayerT] = []
        if kind in ("dense", "time-distributed-dense"):
            bias = not (isinstance(entry.get("weights"), list) and len(entry["weights"]) < 2)
            made.append(LayerT("DenseT", (str(width), str(out), *(() if bias else ("false",))), pointer))
            # Eigen's DenseT holds the bias as one more kernel column, in one fixed-size matrix.
            kernel_bytes = out * (width + bias) * (4 if numeric == "float" else 8)
            if kernel_bytes > EIGEN_STACK_LIMIT_BYTES:
                notes.append(
                    f"{pointer}: the dense kernel is {out}x{width + bias} {numeric}s with its bias column "
                    f"({kernel_bytes} bytes), above Eigen's fixed-size limit of {EIGEN_STACK_LIMIT_BYTES} "
                    "bytes: an Eigen build needs EIGEN_STACK_ALLOCATION_LIMIT=0 (STL and xsimd do not)"
                )
        elif kind == "conv1d":
            kernel, dilation = last_int(entry.get("kernel_size")), last_int(entry.get("dilation"))
            groups = last_int(entry.get("groups", 1))
            if "strides" in entry and last_int(entry.get("strides")) not in (None, 1):
                problems.append(
                    Problem(
                        "unrepresentable",
                        pointer_join(pointer, "strides"),
                        "a strided conv1d: parseJson's Conv1DT has no stride (StridedConv1DT has no loader)",
                    )
                )
                break
            if None in (kernel, dilation, groups):
                problems.append(
                    Problem("unrepresentable", pointer, "conv1d kernel, dilation or groups unread")
                )
                break
            made.append(LayerT("Conv1DT", tuple(map(str, (width, out, kernel, dilation, groups))), pointer))
        elif kind == "conv2d":
            keys = ("num_filters_in", "num_filters_out", "num_features_in", "kernel_size_time")
            values = [last_int(entry.get(k)) for k in (*keys, "kernel_size_feature", "dilation", "strides")]
            padding = entry.get("padding")
            if None in values or padding not in ("valid", "same"):
                problems.append(Problem("unrepresentable", pointer, "conv2d sizes or padding unread"))
                break
            args = (*map(str, values), "true" if padding == "valid" else "false")
            made.append(LayerT("Conv2DT", args, pointer))
        elif kind in ("gru", "lstm"):
            made.append(
                LayerT("GRULayerT" if kind == "gru" else "LSTMLayerT", (str(width), str(out)), pointer)
            )
        elif kind == "prelu":
            made.append(LayerT("PReLUActivationT", (str(width),), pointer))
        elif kind in ("batchnorm", "batchnorm2d"):
            weights = entry.get("weights")
            affine = "true" if isinstance(weights, list) and len(weights) == 4 else "false"
            if kind == "batchnorm":
                made.append(LayerT("BatchNorm1DT", (str(width), affine), pointer))
            else:
                f, n = last_int(entry.get("num_filters_in")), last_int(entry.get("num_features_in"))
                if f is None or n is None:
                    problems.append(Problem("unrepresentable", pointer, "batchnorm2d sizes unread"))
                    break
                made.append(LayerT("BatchNorm2DT", (str(f), str(n), affine), pointer))
        elif kind == "activation":
            if not activation:
                problems.append(
                    Problem(
                        "unrepresentable",
                        pointer_join(pointer, "activation"),
                        "an activation entry without an activation name: the declared activation layer "
                        "would consume the next entry",
                    )
                )
                break
        else:
            problems.append(
                Problem(
                    "unrepresentable",
                    pointer_join(pointer, "type"),
                    f"type {quoted(kind) if kind else '(none)'}: ModelT has no layer for it, and a declared "
                    "layer at this place would be compared with it and keep its zero weights",
                )
            )
            break
        if activation and kind in (*_FUSES_ACTIVATION, "activation"):
            if activation not in ACTIVATION_LAYERS:
                problems.append(
                    Problem(
                        "unrepresentable",
                        pointer_join(pointer, "activation"),
                        f"activation {quoted(activation)} has no ModelT layer",
                    )
                )
                break
            size = out if kind != "activation" else width
            made.append(LayerT(ACTIVATION_LAYERS[activation], (str(size),), pointer))
        layers.extend(made)
        if kind not in ("activation", "prelu", "batchnorm"):
            width = out
    if problems:
        return Emitted(None, tuple(problems))
    if not layers:
        return Emitted(
            None, (Problem("unrepresentable", "/layers", "no layers: a ModelT needs at least one"),)
        )
    return Emitted(ModelType(numeric, in_width, width, tuple(layers)), (), tuple(notes))


# --- reading a declared type ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)*)|(?P<num>[-+]?\d+[uUlL]*)|(?P<p>[<>,]))"
)


@dataclass
class _Node:
    text: str
    children: list[_Node] | None = None


def _parse_template(text: str) -> _Node:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    text = text.strip().rstrip(";").strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise ModelTError(f"cannot read {text[position : position + 30]!r} (only literal arguments)")
        kind = match.lastgroup or ""
        tokens.append((kind, re.sub(r"\s+", "", match.group(kind)), match.start(kind)))
        position = match.end()
    stack: list[_Node] = []
    root: _Node | None = None
    expect_arg = True
    for kind, value, _ in tokens:
        if kind in ("name", "num"):
            node = _Node(value)
            if stack:
                assert stack[-1].children is not None
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                raise ModelTError(f"unexpected {quoted(value)}")
            expect_arg = False
        elif value == "<":
            target = stack[-1].children[-1] if stack and stack[-1].children else root
            if target is None or target.children is not None or expect_arg:
                raise ModelTError("'<' without a template name")
            target.children = []
            stack.append(target)
            if len(stack) > MAX_TEMPLATE_DEPTH:
                raise ModelTError("templates nested too deep")
            expect_arg = True
        elif value == ",":
            if not stack or expect_arg:
                raise ModelTError("a ',' outside a template argument list")
            expect_arg = True
        else:
            if not stack:
                raise ModelTError("unbalanced '>'")
            stack.pop()
            expect_arg = False
    if stack or root is None:
        raise ModelTError("unbalanced '<'" if stack else "empty type")
    return root


def _short(name: str) -> str:
    return name.split("::")[-1]


def _literal(node: _Node, what: str) -> str:
    if node.children is not None:
        raise ModelTError(f"{what}: a template where a literal was expected")
    value = re.sub(r"[uUlL]+$", "", node.text)
    if re.fullmatch(r"[-+]?\d{10,}", value):
        raise ModelTError(f"{what} is {node.text[:20]!r}..., larger than any width RTNeural can hold")
    if re.fullmatch(r"[-+]?\d+", value):
        return str(int(value))
    if value in ("true", "false"):
        return value
    if _short(value) in ("None", "NoInterp", "LagrangeThird") or _short(value).endswith("MathsProvider"):
        return _short(value)
    raise ModelTError(
        f"{what} is {quoted(node.text)}, not a literal: constexpr names and macros are not resolved; "
        "pass the type with --check and the values written out"
    )


def parse_type(text: str) -> ModelType:
    """A ``ModelT<...>`` type (optionally as ``using X = ...;``) read from ``text``, literals only."""
    if len(text) > MAX_TYPE_CHARS:
        raise ModelTError(f"the type is longer than {MAX_TYPE_CHARS} characters")
    text = re.sub(r"^\s*using\s+\w+\s*=", "", text)
    root = _parse_template(text)
    if _short(root.text) != "ModelT" or root.children is None or len(root.children) < 4:
        raise ModelTError("not a ModelT<T, in_size, out_size, Layers...> type")
    numeric = _short(root.children[0].text)
    if numeric not in ("float", "double") or root.children[0].children is not None:
        raise ModelTError(f"the numeric type is {quoted(root.children[0].text)}, not float or double")
    sizes = [_literal(node, f"ModelT argument {i + 2}") for i, node in enumerate(root.children[1:3])]
    if not all(s.isdigit() for s in sizes):
        raise ModelTError("ModelT's in_size and out_size must be integers")
    layers = []
    for number, node in enumerate(root.children[3:], start=1):
        name = _short(node.text)
        if name not in PARAMETERS or not node.children:
            raise ModelTError(f"layer {number} is {quoted(node.text)}, not a layer template parseJson loads")
        args = tuple(_literal(child, f"{name} argument {i + 2}") for i, child in enumerate(node.children[1:]))
        if len(args) < _required(name) or len(args) > len(PARAMETERS[name]):
            raise ModelTError(f"layer {number} ({name}) has {len(args)} arguments after T")
        layers.append(LayerT(name, args))
    return ModelType(numeric, int(sizes[0]), int(sizes[1]), tuple(layers))


def _required(name: str) -> int:
    optional = ("maths", "sample_rate_correction")  # defaulted in RTNeural, not in our table
    return sum(1 for p, default in PARAMETERS[name] if default is None and p not in optional)


@dataclass(frozen=True)
class Declaration:
    line: int
    text: str


def declarations_in_source(text: str) -> list[Declaration]:
    """Each ``ModelT<...>`` written in C++ source ``text`` (comments removed), with its line."""
    cleaned = re.sub(
        r"//[^\n]*|/\*.*?\*/",
        lambda m: re.sub(r"[^\n]", " ", m.group(0)),
        text,
        flags=re.S,
    )
    found = []
    for match in re.finditer(r"\b(?:RTNeural\s*::\s*)?ModelT\s*<", cleaned):
        depth, end = 0, None
        for position in range(match.end() - 1, min(len(cleaned), match.end() + MAX_TYPE_CHARS)):
            if cleaned[position] == "<":
                depth += 1
            elif cleaned[position] == ">":
                depth -= 1
                if depth == 0:
                    end = position + 1
                    break
            elif cleaned[position] in ";{}":
                break
        if end is not None:
            found.append(Declaration(cleaned.count("\n", 0, match.start()) + 1, cleaned[match.start() : end]))
    return found


def read_source(path: str) -> str:
    from verifier.format.reader.document import read_regular_file

    data = read_regular_file(os.fspath(path), MAX_SOURCE_BYTES)
    return data.decode("utf-8", errors="replace")


# --- replaying parseJson over a declared type ---------------------------------------------------------------


def check_type(doc: Mapping[str, Any], declared: ModelType) -> list[Problem]:
    """Each place where ``parseJson`` of ``declared`` on ``doc`` silently leaves the model unlike the file."""
    problems: list[Problem] = []
    in_width = shape_width(doc.get("in_shape"))
    entries = doc.get("layers")
    if not isinstance(entries, list):
        return [
            Problem("early-return", "/layers", "no layers array: parseJson returns before loading anything")
        ]
    if in_width != declared.in_size:
        return [
            Problem(
                "early-return",
                "/in_shape",
                f"the file's input width is {in_width}, the type's in_size is {declared.in_size}: parseJson "
                "returns before loading anything (every layer keeps its zero weights)",
            )
        ]
    index, pending = 0, False
    width = in_width
    for number, layer in enumerate(declared.layers, start=1):
        what = f"declared layer {number} ({layer.name})"
        if index >= len(entries):
            problems.append(
                Problem(
                    "unloaded-layer",
                    "/layers",
                    f"{what}: the file has no entry left for it; it keeps its initial (zero) weights"
                    + (" and runs anyway" if layer.is_activation else ""),
                )
            )
            continue
        pointer = pointer_join("/layers", index)
        entry: Mapping[str, Any] = entries[index] if isinstance(entries[index], dict) else {}
        kind, dims = _text(entry.get("type")), _width(entry)
        if pending and not layer.is_activation:
            problems.append(
                Problem(
                    "swapped-activation",
                    pointer_join(pointer, "activation"),
                    f"the file's activation {quoted(_text(entry.get('activation')))} here has no declared "
                    f"activation layer: it never runs, and the loader stays on this entry for {what}",
                )
            )
        pending = False
        if layer.is_activation:
            if "activation" not in entry:
                problems.append(
                    Problem(
                        "swapped-activation",
                        pointer,
                        f"{what}: this entry has no activation key; parseJson stays on it and the declared "
                        f"{_ACTIVATION_NAMES[layer.name]} runs anyway",
                    )
                )
                continue
            name = _text(entry.get("activation"))
            if name and (name != _ACTIVATION_NAMES[layer.name] or dims != layer.out_width):
                problems.append(
                    Problem(
                        "swapped-activation",
                        pointer_join(pointer, "activation"),
                        f"{what}: the file says {quoted(name)} (width {dims}); the declared "
                        f"{_ACTIVATION_NAMES[layer.name]} of width {layer.out_width} runs instead",
                    )
                )
            elif not name:
                problems.append(
                    Problem(
                        "swapped-activation",
                        pointer_join(pointer, "activation"),
                        f"{what}: the file has no activation here; the declared "
                        f"{_ACTIVATION_NAMES[layer.name]} runs and this entry is consumed",
                    )
                )
            index += 1
            continue
        if layer.name not in _ENTRY_TYPES:
            problems.append(Problem("unloaded-layer", pointer, f"{what}: parseJson has no loader for it"))
            continue
        reasons = _mismatches(layer, kind, dims, entry)
        if reasons:
            problems.append(
                Problem(
                    "skipped-layer",
                    pointer,
                    f"{what} vs the file's {kind or '(no type)'}: {'; '.join(reasons)}: its weights are not "
                    "loaded (they stay zero) and loading goes on",
                )
            )
        else:
            problems.extend(_unchecked_in_width(layer, width, pointer, what))
        if kind not in ("activation", "prelu", "batchnorm", "batchnorm2d") and dims is not None:
            width = dims
        pending = layer.name in ("DenseT", "Conv1DT", "Conv2DT") and bool(_text(entry.get("activation")))
        if pending:
            continue  # the loader stays on this entry for the fused activation
        index += 1
    if pending and index < len(entries):
        name = _text(entries[index].get("activation")) if isinstance(entries[index], dict) else ""
        problems.append(
            Problem(
                "swapped-activation",
                pointer_join(pointer_join("/layers", index), "activation"),
                f"the file's activation {quoted(name)} here has no declared activation layer: it never runs",
            )
        )
        index += 1
    if index < len(entries):
        problems.append(
            Problem(
                "trailing-layers",
                pointer_join("/layers", index),
                f"entries {index}..{len(entries) - 1} of the file are beyond the declared layers: ignored",
            )
        )
    last = declared.layers[-1].out_width if declared.layers else None
    if last is not None and last != declared.out_size:
        problems.append(
            Problem(
                "output-width", "", f"out_size is {declared.out_size} but the last layer's width is {last}"
            )
        )
    return problems


def _mismatches(layer: LayerT, kind: str, dims: int | None, entry: Mapping[str, Any]) -> list[str]:
    if kind not in _ENTRY_TYPES[layer.name]:
        return [f"type {quoted(kind)} is not {' or '.join(map(repr, _ENTRY_TYPES[layer.name]))}"]
    reasons = []
    if dims != layer.out_width:
        reasons.append(f"width {dims} vs declared {layer.out_width}")
    if layer.name == "Conv1DT":
        pairs: tuple[tuple[str, str], ...] = (
            ("kernel", "kernel_size"),
            ("dilation", "dilation"),
            ("groups", "groups"),
        )
        for parameter, key in pairs:
            found = last_int(entry.get(key, 1 if key == "groups" else None))
            if found != layer.int_arg(parameter):
                reasons.append(f"{key} {found} vs declared {layer.int_arg(parameter)}")
    elif layer.name == "Conv2DT":
        pairs = (
            ("kernel_time", "kernel_size_time"),
            ("kernel_feature", "kernel_size_feature"),
            ("stride", "strides"),
            ("dilation", "dilation"),
        )
        for parameter, key in pairs:
            found = last_int(entry.get(key))
            if found != layer.int_arg(parameter):
                reasons.append(f"{key} {found} vs declared {layer.int_arg(parameter)}")
    elif layer.name in ("BatchNorm1DT", "BatchNorm2DT"):
        weights = entry.get("weights")
        count = len(weights) if isinstance(weights, list) else None
        affine = layer.arg("affine") == "true"
        if count != (4 if affine else 2):
            reasons.append(f"{count} weight arrays vs declared affine={str(affine).lower()}")
        if layer.name == "BatchNorm2DT" and isinstance(weights, list) and weights:
            rows = len(weights[0]) if isinstance(weights[0], list) else None
            if rows != layer.int_arg("filters"):
                reasons.append(f"{rows} filters in weights[0] vs declared {layer.int_arg('filters')}")
    return reasons


def _unchecked_in_width(layer: LayerT, width: int | None, pointer: str, what: str) -> Iterator[Problem]:
    parameter = {"DenseT": "in", "GRULayerT": "in", "LSTMLayerT": "in", "Conv1DT": "in"}.get(layer.name)
    if parameter is None or width is None or layer.int_arg(parameter) == width:
        return
    yield Problem(
        "width-unchecked",
        pointer,
        f"{what}: declared input width {layer.arg(parameter)}, the file's is {width}; parseJson checks the "
        "output width only and loads the weights into the wrong shape",
    )


def emitted_lines(emitted: Emitted) -> Sequence[str]:
    if emitted.model is None:
        return [f"{p.pointer or '/'}: no ModelT type: {p.message}" for p in emitted.problems]
    return [emitted.model.render(), *(f"// {note}" for note in emitted.notes)]
