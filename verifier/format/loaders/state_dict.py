"""GuitarML's state_dict model files (Proteus, NeuralPi): recognised, checked and read as the plugins do.

Such a file is ``{"model_data": {...}, "state_dict": {...}}``: a one-layer ``nn.LSTM``/``nn.GRU`` named
``rec`` and an ``nn.Linear`` named ``lin``, every array in PyTorch's orientation. The plugins build an
RTNeural model by hand from it (docs/format.md, "GuitarML state_dict files"), so RTNeural's keras-json
rules do not apply: the file has its own schema (``schemas/state-dict.schema.json``) and rules
(RTN-E401..E404), and ``model_data`` must agree with every array, because the plugin sizes its loops from
``model_data`` alone.

:func:`to_keras` is the plugin's arithmetic done once, in memory: the keras-json RTNeural's own parser loads
to the same layers. The residual ``skip`` is not part of that model (the plugin adds input 0 itself), so it
is returned beside it, never written into it. :func:`from_keras` is the way back, for the keras-json models
this format can hold (one LSTM or GRU, then one dense layer without activation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from verifier.format.findings import Finding, Limits, finding, pointer_join
from verifier.format.reader.arrays import array_shape, schema_view
from verifier.format.reader.document import is_numeric_array
from verifier.format.schema.predicate import Predicate
from verifier.format.schema.validator import compile_variant, registry, schema
from verifier.quoting import quoted

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

__all__ = [
    "STATE_DICT_KEYS",
    "Declared",
    "check_state_dict",
    "declared",
    "from_keras",
    "is_state_dict",
    "to_keras",
]

STATE_DICT_KEYS = ("model_data", "state_dict")
SCHEMA = "state-dict"
GATES = {"LSTM": 4, "GRU": 3}
_SIZES = ("input_size", "hidden_size", "output_size")
_FURTHER_LAYER = re.compile(r"rec\.(weight|bias)_(ih|hh)_l[1-9][0-9]*(_reverse)?")
# One error per place: the most specific keyword wins.
_KEYWORD_PRIORITY = {"required": 0, "type": 1}


@dataclass(frozen=True)
class Declared:
    """What ``model_data`` declares (the only part of it the plugins read)."""

    unit_type: str
    input_size: int
    hidden_size: int
    output_size: int
    skip: int

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each state_dict array these declarations imply (PyTorch's orientation)."""
        rows = GATES[self.unit_type] * self.hidden_size
        return {
            "rec.weight_ih_l0": (rows, self.input_size),
            "rec.weight_hh_l0": (rows, self.hidden_size),
            "rec.bias_ih_l0": (rows,),
            "rec.bias_hh_l0": (rows,),
            "lin.weight": (self.output_size, self.hidden_size),
            "lin.bias": (self.output_size,),
        }

    def parameters(self) -> int:
        rows = GATES[self.unit_type] * self.hidden_size
        return rows * (self.input_size + self.hidden_size + 2) + self.output_size * (self.hidden_size + 1)


def is_state_dict(doc: Any) -> bool:
    """Whether ``doc`` (a parsed document or its skeleton) is a GuitarML state_dict file rather than
    keras-json: it has ``model_data`` or ``state_dict`` at the top and no ``layers``."""
    # A torch_helpers declaration (loaders.torch_helpers) says how the state_dict is loaded instead.
    return (
        isinstance(doc, dict)
        and "layers" not in doc
        and "torch_helpers" not in doc
        and any(k in doc for k in STATE_DICT_KEYS)
    )


def declared(doc: dict[str, Any]) -> Declared:
    """The declarations of a document :func:`check_state_dict` found no error in."""
    data = doc["model_data"]
    return Declared(
        data["unit_type"],
        int(data["input_size"]),
        int(data["hidden_size"]),
        int(data["output_size"]),
        int(data["skip"]),
    )


def check_state_dict(doc: Any, limits: Limits, *, float32: bool = True) -> list[Finding]:
    """Findings of a state_dict document (its skeleton: weight arrays may be kept in C++), in order: the
    schema, the declared sizes against ``limits``, then every array against ``model_data``."""
    found = _schema_findings(doc)
    # Only a finding inside one state_dict array leaves the rest checkable.
    if any(not f.pointer.startswith("/state_dict/") for f in found):
        return found
    declaration = declared(doc)
    limited = _limit_findings(declaration, limits)
    if limited:
        return found + limited
    broken = {f.pointer for f in found}
    notes: list[Finding] = []
    shapes: dict[str, tuple[int, ...]] = {}
    for key, expected in declaration.shapes().items():
        where = pointer_join("/state_dict", key)
        if any(p == where or p.startswith(where + "/") for p in broken):
            continue
        shape = array_shape(doc["state_dict"][key], len(expected), where, float32=float32, notes=notes)
        if isinstance(shape, Finding):
            found.append(shape)
        else:
            shapes[key] = shape
    return found + _shape_findings(declaration, shapes) + _unread(doc["state_dict"], declaration) + notes


def _unread(weights: dict[str, Any], declaration: Declared) -> list[Finding]:
    """Keys of state_dict the plugins never read: a further recurrent layer's weights are an error (the
    trained model had it, the plugin's has not), any other key a warning."""
    read = declaration.shapes()
    found = []
    for key in weights:
        if key in read:
            continue
        where = pointer_join("/state_dict", key)
        if _FURTHER_LAYER.fullmatch(key):
            found.append(
                finding(
                    "RTN-E403",
                    where,
                    f"{quoted(key)} is a further recurrent layer's weights: the GuitarML plugins load "
                    "rec.*_l0 only, so the plugin's model lacks a layer the trained model has",
                    expected="only rec.*_l0 weights",
                    found=quoted(key),
                )
            )
        else:
            found.append(
                finding(
                    "RTN-W009",
                    where,
                    f"the GuitarML plugins never read {quoted(key)}",
                    expected="only " + ", ".join(read),
                    found=quoted(key),
                )
            )
    return found


# --- the schema -----------------------------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(SCHEMA), registry=registry())


@cache
def _predicate() -> Predicate | None:
    return compile_variant(schema(SCHEMA))


def _schema_findings(doc: Any) -> list[Finding]:
    view = schema_view(doc)
    conforms = _predicate()
    if conforms is not None and conforms(view):
        return []  # jsonschema would find nothing; its import is saved (a pre-commit hook starts fast)
    errors = sorted(
        _validator().iter_errors(view),
        key=lambda e: (_KEYWORD_PRIORITY.get(str(e.validator), 2), [str(p) for p in e.absolute_path]),
    )
    chosen: dict[str, ValidationError] = {}
    for error in errors:
        chosen.setdefault(pointer_join("", *error.absolute_path), error)
    found: list[Finding] = []
    for where, error in chosen.items():
        found.extend(_to_findings(where, error))
    return found


def _to_findings(where: str, error: ValidationError) -> list[Finding]:
    instance = error.instance
    # The key (and index) under model_data or state_dict, as a user would name it.
    name = where.split("/", 2)[-1] or "the document"
    if error.validator == "required":
        return [
            finding(
                "RTN-E401",
                pointer_join(where, key),
                f"{name} has no {key!r} key, which the GuitarML plugins read",
                expected=f"key {key!r}",
                found="no such key",
            )
            for key in cast(list[str], error.validator_value)
            if isinstance(instance, dict) and key not in instance
        ]
    if error.validator == "type":
        return [
            finding(
                "RTN-E402",
                where,
                f"{name} has the wrong JSON type",
                expected=_expected(error.validator_value),
                found=_kind(instance),
            )
        ]
    return [
        finding(
            "RTN-E403",
            where,
            f"{name}: the GuitarML plugins cannot build this ({_why(where)})",
            expected=_allowed(error),
            found=quoted(instance),
        )
    ]


def _why(where: str) -> str:
    key = where.rsplit("/", 1)[-1]
    return {
        "model": "they build SimpleRNN models only",
        "unit_type": "their recurrent layer is an LSTM or a GRU",
        "num_layers": "they load rec.*_l0 only; further layers would be silently dropped",
        "skip": "skip is 1 (add input 0 to the output) or 0",
    }.get(key, "a size must be at least 1")


def _allowed(error: ValidationError) -> str:
    if error.validator == "enum":
        return "one of " + ", ".join(quoted(v) for v in cast(list[Any], error.validator_value))
    if error.validator == "const":
        return quoted(error.validator_value)
    if error.validator == "minimum":
        return f"at least {error.validator_value}"
    return str(error.message)


def _expected(types: Any) -> str:
    names = types if isinstance(types, list) else [types]
    return " or ".join({"array": "a list", "object": "an object"}.get(t, f"a JSON {t}") for t in names)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"string {quoted(value)}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"number {quoted(value)}"


# --- sizes ----------------------------------------------------------------------------------------------


def _limit_findings(declaration: Declared, limits: Limits) -> list[Finding]:
    wide = [
        finding(
            "RTN-E303",
            f"/model_data/{key}",
            f"model_data's {key} is wider than any model this checker builds",
            expected=f"at most {limits.max_layer_width} (Limits.max_layer_width)",
            found=str(getattr(declaration, key)),
        )
        for key in _SIZES
        if getattr(declaration, key) > limits.max_layer_width
    ]
    if wide:
        return wide
    count = declaration.parameters()
    if count <= limits.max_total_parameters:
        return []
    return [
        finding(
            "RTN-E304",
            "/model_data",
            "model_data's sizes imply more weights than this checker loads",
            expected=f"at most {limits.max_total_parameters} (Limits.max_total_parameters)",
            found=str(count),
        )
    ]


def _shape_findings(declaration: Declared, shapes: dict[str, tuple[int, ...]]) -> list[Finding]:
    """Every array whose shape contradicts model_data. When all six arrays agree with one another on
    other sizes, the one finding is model_data's (at the key that is wrong); otherwise each array is."""
    expected = declaration.shapes()
    wrong = [key for key, shape in shapes.items() if shape != expected[key]]
    if not wrong:
        return []
    implied = _implied(declaration, shapes)
    if implied is not None and implied.shapes() == shapes:
        return [
            finding(
                "RTN-E404",
                f"/model_data/{key}",
                f"model_data's {key} contradicts every state_dict array, which are all sized for "
                f"{key} {getattr(implied, key)}: the plugin would size its loops from model_data",
                expected=str(getattr(implied, key)),
                found=str(getattr(declaration, key)),
            )
            for key in ("unit_type", *_SIZES)
            if getattr(implied, key) != getattr(declaration, key)
        ]
    return [
        finding(
            "RTN-E404",
            pointer_join("/state_dict", key),
            f"{key} does not have the shape model_data implies ({_implied_by(key, declaration)})",
            expected=_shape_text(expected[key]),
            found=_shape_text(shapes[key]),
        )
        for key in wrong
    ]


def _implied(declaration: Declared, shapes: dict[str, tuple[int, ...]]) -> Declared | None:
    """The declarations the arrays themselves imply, when every array is there and the gate count is one
    the plugins know."""
    if len(shapes) != 6:
        return None
    rows, hidden = shapes["rec.weight_hh_l0"]
    unit = next((u for u, g in GATES.items() if hidden and rows == g * hidden), None)
    if unit is None:
        return None
    return Declared(unit, shapes["rec.weight_ih_l0"][1], hidden, shapes["lin.weight"][0], declaration.skip)


def _implied_by(key: str, d: Declared) -> str:
    gates = f"{GATES[d.unit_type]} gates of {d.unit_type} x hidden_size {d.hidden_size}"
    return {
        "rec.weight_ih_l0": f"{gates}, input_size {d.input_size}",
        "rec.weight_hh_l0": f"{gates}, hidden_size {d.hidden_size}",
        "rec.bias_ih_l0": gates,
        "rec.bias_hh_l0": gates,
        "lin.weight": f"output_size {d.output_size}, hidden_size {d.hidden_size}",
        "lin.bias": f"output_size {d.output_size}",
    }[key]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + "][".join(map(str, shape)) + "]"


# --- what the plugin builds -----------------------------------------------------------------------------


def converted(document: Any) -> dict[str, Any] | None:
    """The keras-json of a state_dict :class:`~verifier.format.reader.document.Document` without errors
    (what the checks that read layers take in its place), else None."""
    if not is_state_dict(document.outline()):
        return None
    doc = document.skeleton((), STATE_DICT_KEYS)
    if any(f.severity == "error" for f in check_state_dict(doc, Limits())):
        return None
    return to_keras(doc)[0]


def _numbers(value: Any) -> np.ndarray:
    if is_numeric_array(value):
        return np.asarray(value.to_numpy(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _gru_order(rows: np.ndarray, hidden: int) -> np.ndarray:
    """PyTorch's GRU row blocks r, z, n reordered to RTNeural's z, r, n (and back: the swap is its own
    inverse)."""
    return np.concatenate([rows[hidden : 2 * hidden], rows[:hidden], rows[2 * hidden :]])


def to_keras(doc: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The keras-json document the plugin's hand-built model is equal to, and the skip (0 or 1) it adds
    outside that model. ``doc`` is the document (or its skeleton with :data:`STATE_DICT_KEYS`) of a file
    :func:`check_state_dict` found no error in."""
    d = declared(doc)
    weights = doc["state_dict"]
    w_ih, w_hh, b_ih, b_hh, lin_w, lin_b = (_numbers(weights[key]) for key in d.shapes())
    if d.unit_type == "LSTM":
        rec = [w_ih.T.tolist(), w_hh.T.tolist(), (b_ih + b_hh).tolist()]
    else:
        h = d.hidden_size
        rec = [
            _gru_order(w_ih, h).T.tolist(),
            _gru_order(w_hh, h).T.tolist(),
            [_gru_order(b_ih, h).tolist(), _gru_order(b_hh, h).tolist()],
        ]
    keras = {
        "in_shape": [None, None, d.input_size],
        "layers": [
            {
                "type": d.unit_type.lower(),
                "activation": "",
                "shape": [None, None, d.hidden_size],
                "weights": rec,
            },
            {
                "type": "dense",
                "activation": "",
                "shape": [None, None, d.output_size],
                "weights": [lin_w.T.tolist(), lin_b.tolist()],
            },
        ],
    }
    return keras, d.skip


def refuse_on_error(findings: list[Finding], source: str) -> None:
    """Raise the first error finding of a state_dict file as the ``ModelFormatError`` a loader raises (the
    engine and the PyTorch rebuild refuse a file with validate's rule and pointer)."""
    from verifier.errors import ModelFormatError

    first = next((f for f in findings if f.severity == "error"), None)
    if first is not None:
        raise ModelFormatError(
            first.pointer,
            first.message,
            expected=first.expected,
            found=first.found,
            source=source,
            rule=first.rule,
        )


# --- from keras-json ------------------------------------------------------------------------------------

# What a GuitarML SimpleRNN is, in keras-json terms: one recurrent layer, then one dense layer (nn.Linear).
_SIMPLE_RNN = (
    "a GuitarML state_dict file holds one LSTM or GRU layer, then one dense layer without activation"
)


def from_keras(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The GuitarML state_dict document (``skip`` 0) that computes what the keras-json ``doc`` computes, and
    no reason; or None and, per JSON pointer, why the format cannot hold ``doc``. ``doc`` is a document (or
    its skeleton) ``validate`` found no error in.

    The LSTM's one bias becomes ``bias_ih`` with a zero ``bias_hh``: PyTorch adds the two, so the outputs are
    the same, though the trained file's split between them is not recovered."""
    layers = doc["layers"]
    kinds = [entry.get("type") for entry in layers]
    if len(layers) != 2:
        return None, [("/layers", f"{len(layers)} layers ({', '.join(map(str, kinds))}): {_SIMPLE_RNN}")]
    why = []
    if kinds[0] not in ("lstm", "gru"):
        why.append(("/layers/0/type", f"{quoted(kinds[0])} is not an LSTM or a GRU: {_SIMPLE_RNN}"))
    if kinds[1] != "dense":
        why.append(("/layers/1/type", f"{quoted(kinds[1])} is not a dense layer: {_SIMPLE_RNN}"))
    elif layers[1].get("activation", ""):
        why.append(
            (
                "/layers/1/activation",
                f"activation {quoted(layers[1]['activation'])}: GuitarML's nn.Linear has none, and the "
                "plugins add none",
            )
        )
    if why:
        return None, why
    unit = kinds[0].upper()
    w, u, b = (_numbers(array) for array in layers[0]["weights"])
    kernel, bias = (_numbers(array) for array in layers[1]["weights"])
    inputs, hidden = w.shape[0], u.shape[0]
    if unit == "LSTM":
        rec = {"weight_ih_l0": w.T, "weight_hh_l0": u.T, "bias_ih_l0": b, "bias_hh_l0": np.zeros_like(b)}
    else:  # the z, r block swap is its own inverse
        rec = {
            "weight_ih_l0": _gru_order(w.T, hidden),
            "weight_hh_l0": _gru_order(u.T, hidden),
            "bias_ih_l0": _gru_order(b[0], hidden),
            "bias_hh_l0": _gru_order(b[1], hidden),
        }
    state = {f"rec.{key}": value.tolist() for key, value in rec.items()}
    state.update({"lin.weight": kernel.T.tolist(), "lin.bias": bias.tolist()})
    data = {
        "model": "SimpleRNN",
        "unit_type": unit,
        "input_size": int(inputs),
        "hidden_size": int(hidden),
        "output_size": int(kernel.shape[1]),
        "num_layers": 1,
        "skip": 0,
        "bias_fl": True,
    }
    return {"model_data": data, "state_dict": state}, []
