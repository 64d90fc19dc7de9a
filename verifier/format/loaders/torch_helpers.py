"""A PyTorch state_dict JSON file loaded with RTNeural's ``torch_helpers``, as its C++ caller declares it.

Such a file describes no model: it maps state_dict keys to arrays, and the plugin's C++ code builds the
layers and fills each from a key prefix. What each helper of ``RTNeural/torch_helpers.h`` reads and does,
in our words:

* ``loadDense(json, prefix, dense)``: ``<prefix>weight`` ``[out][in]`` and ``<prefix>bias`` ``[out]``. The
  dense layer's setter takes ``[out][in]``, so nothing is transposed.
* ``loadLSTM(json, prefix, lstm, hasBias, layer_index k)``: ``<prefix>weight_ih_l<k>`` ``[4h][in]``,
  ``<prefix>weight_hh_l<k>`` ``[4h][h]``, ``<prefix>bias_ih_l<k>`` and ``<prefix>bias_hh_l<k>`` ``[4h]``.
  Both matrices are transposed; RTNeural's one bias is the sum of the two. A stacked ``nn.LSTM`` is one
  call per layer, each with its ``k``.
* ``loadGRU``: the same keys with ``3h`` rows. Transposed as well, and in every row and both biases the
  first two blocks are exchanged (PyTorch orders the gates r, z, n; RTNeural z, r, n). Both bias rows are
  kept.
* ``loadConv1D(json, prefix, conv)``: ``<prefix>weight`` ``[out][in/groups][K]`` and ``<prefix>bias``. The
  kernel, dilation and groups are the C++ layer type's, so the declaration states dilation and groups.
* ``loadConvTranspose1D``: ``weight`` ``[in][out/groups][K]``; the caller does the stride and the padding.
  Our engine has no transposed convolution, so a declaration using it is refused (RTN-E407), not checked
  against something else.

``hasBias`` false makes a helper fill zeros instead of reading the bias keys.

The declaration lives in the manifest (``torch_helpers``: the object the helpers are given, as a JSON
pointer ``root``, and the ``layers`` in call order, activations between them); :func:`declare` puts it
into the file's document under the key ``torch_helpers``, so that every pointer of a finding is the file's
own. Rules RTN-E405 (a key a helper reads is missing), RTN-E406 (an array whose shape disagrees with the
chain) and RTN-E407 (a declaration the engine cannot run). :func:`to_keras` is the helpers' arithmetic
done once: the keras-json our engine loads to the same layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from verifier.format.findings import Finding, Limits, finding, pointer_join
from verifier.format.reader.arrays import array_shape
from verifier.format.reader.document import Document, is_numeric_array
from verifier.format.schema.predicate import Predicate
from verifier.format.schema.validator import compile_variant, error_message, registry
from verifier.quoting import quoted

__all__ = [
    "ACTIVATIONS",
    "HELPERS",
    "KEY",
    "check_torch_helpers",
    "declare",
    "declared",
    "is_torch_helpers",
    "to_keras",
]

KEY = "torch_helpers"
HELPERS = ("loadDense", "loadLSTM", "loadGRU", "loadConv1D", "loadConvTranspose1D")
ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid"}
_GATES = {"loadLSTM": 4, "loadGRU": 3}
_UNSUPPORTED = {
    "loadConvTranspose1D": "our engine has no transposed convolution (RTNeural offers it only through this "
    "helper, with the stride and padding left to the caller), so its outputs cannot be checked"
}


def declare(tree: dict[str, Any], declaration: dict[str, Any]) -> dict[str, Any]:
    """The file's top-level object with the manifest's declaration under :data:`KEY` (a new dict: the
    file's is not modified)."""
    return {**tree, KEY: declaration}


def declared(document: Document, declaration: Mapping[str, Any]) -> Document:
    """``document`` (a file's, read already) with ``declaration`` in it, under the file's name; a document
    whose top level is not an object is returned as it is (its own findings say what it is)."""
    if not isinstance(document.tree, dict):
        return document
    return Document(document.name, tree=declare(document.tree, dict(declaration)), size=document.size)


# A key PyTorch's state_dict() gives a Linear, Conv1d, LSTM or GRU parameter.
_PARAMETER_KEY = re.compile(r".+\.(weight|bias)(_(ih|hh)_l[0-9]+(_reverse)?)?")
UNDECLARED_HINT = (
    "; this looks like a PyTorch state_dict (keys such as 'lstm.weight_ih_l0'), which names no model: "
    "RTNeural's torch_helpers load it in C++ code, so declare those calls in the manifest entry's "
    "torch_helpers (docs/format.md, 16.2)"
)


def looks_like_state_dict(doc: Any) -> bool:
    """Whether ``doc``, which is not keras-json, holds PyTorch parameter keys at its top level."""
    return (
        isinstance(doc, dict)
        and "in_shape" not in doc
        and "layers" not in doc
        and any(isinstance(key, str) and _PARAMETER_KEY.fullmatch(key) for key in doc)
    )


def is_torch_helpers(doc: Any) -> bool:
    """Whether ``doc`` carries a torch_helpers declaration (and is not keras-json)."""
    return isinstance(doc, dict) and KEY in doc and "layers" not in doc


@dataclass(frozen=True)
class _Layer:
    """One declared layer whose arrays were found and agree: what the engine and PyTorch build from it."""

    kind: str  # a helper name or "activation"
    width_in: int
    width_out: int
    arrays: dict[str, Any]  # name within the helper ("weight_ih", "bias"...) -> the array from the file
    entry: dict[str, Any]


def _object_at(doc: dict[str, Any], root: str) -> tuple[Any, str]:
    """The object the helpers are given: ``doc`` at the JSON pointer ``root`` ("" is the whole file)."""
    value: Any = doc
    for part in root.split("/")[1:] if root else ():
        name = part.replace("~1", "/").replace("~0", "~")
        value = value.get(name) if isinstance(value, dict) else None
    return value, root


def _keys(entry: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """name -> (state_dict key, dimensions) that ``entry``'s helper reads."""
    prefix, helper = entry.get("prefix", ""), entry["helper"]
    bias = entry.get("has_bias", True)
    if helper in _GATES:
        k = entry.get("layer_index", 0)
        keys = {"weight_ih": (f"{prefix}weight_ih_l{k}", 2), "weight_hh": (f"{prefix}weight_hh_l{k}", 2)}
        if bias:
            keys.update({"bias_ih": (f"{prefix}bias_ih_l{k}", 1), "bias_hh": (f"{prefix}bias_hh_l{k}", 1)})
        return keys
    keys = {"weight": (f"{prefix}weight", 3 if helper == "loadConv1D" else 2)}
    if bias:
        keys["bias"] = (f"{prefix}bias", 1)
    return keys


def _expected(entry: dict[str, Any], width: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple]:
    """The shape of each array the helper reads, given the input width and the first array's shape."""
    helper = entry["helper"]
    if helper in _GATES:
        rows = shapes["weight_ih"][0]
        hidden = rows // _GATES[helper]
        return {
            "weight_ih": (rows, width),
            "weight_hh": (rows, hidden),
            "bias_ih": (rows,),
            "bias_hh": (rows,),
        }
    out = shapes["weight"][0]
    if helper == "loadConv1D":
        groups = entry.get("groups", 1)
        return {
            "weight": (out, width // groups if width % groups == 0 else -1, shapes["weight"][2]),
            "bias": (out,),
        }
    return {"weight": (out, width), "bias": (out,)}


def _out_width(entry: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> int:
    if entry["helper"] in _GATES:
        return shapes["weight_ih"][0] // _GATES[entry["helper"]]
    return shapes["weight"][0]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + "][".join("?" if n < 0 else str(n) for n in shape) + "]"


def check_torch_helpers(doc: dict[str, Any], limits: Limits, *, float32: bool = True) -> list[Finding]:
    """Findings of a document carrying a declaration (:func:`declare`), layer by layer in call order; the
    layers after one with an error are not checked (their input width is unknown)."""
    return _walk(doc, limits, float32)[0]


# The declaration's form has one definition, the manifest schema's: a file may carry one too.
_DECLARATION = {"$ref": "https://rtneural-verifier.dev/schemas/manifest.schema.json#/$defs/torch_helpers"}


@cache
def _predicate() -> Predicate | None:
    return compile_variant(_DECLARATION)


def _declaration_finding(declaration: Any) -> Finding | None:
    """RTN-E407 at the first place ``declaration`` breaks the manifest schema's form, else None."""
    conforms = _predicate()
    if conforms is not None and conforms(declaration):
        return None
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(_DECLARATION, registry=registry()).iter_errors(declaration))
    if error is None:
        return None
    return finding(
        "RTN-E407",
        pointer_join(f"/{KEY}", *error.absolute_path),
        f"the torch_helpers declaration is not one the manifest schema allows: {error_message(error)}",
        expected="the form of schemas/manifest.schema.json#/$defs/torch_helpers",
        found=quoted(error.instance),
    )


def _walk(doc: dict[str, Any], limits: Limits, float32: bool) -> tuple[list[Finding], list[_Layer]]:
    declaration = doc[KEY]
    layers_at = f"/{KEY}/layers"
    malformed = _declaration_finding(declaration)
    if malformed is not None:
        return [malformed], []
    entries = declaration.get("layers") if isinstance(declaration, dict) else None
    if not isinstance(entries, list) or not entries:
        return [
            finding(
                "RTN-E407",
                layers_at,
                "the torch_helpers declaration lists no layers",
                expected="a non-empty list of layers",
                found=quoted(entries),
            )
        ], []
    weights, root = _object_at(doc, str(declaration.get("root", "")))
    if not isinstance(weights, dict):
        return [
            finding(
                "RTN-E405",
                root,
                "the object the helpers are given is not in the file",
                expected="a JSON object of state_dict keys",
                found=quoted(weights),
            )
        ], []
    found: list[Finding] = []
    built: list[_Layer] = []
    width: int | None = None
    parameters = 0
    for index, entry in enumerate(entries):
        at = pointer_join(layers_at, index)
        if not isinstance(entry, dict):
            return [
                *found,
                finding(
                    "RTN-E407", at, "a declared layer is an object", expected="an object", found=quoted(entry)
                ),
            ], built
        if "activation" in entry:
            name = entry["activation"]
            if name not in ACTIVATIONS:
                return [
                    *found,
                    finding(
                        "RTN-E407",
                        at + "/activation",
                        f"activation {quoted(name)} is not one the engine and PyTorch both run here",
                        expected="one of " + ", ".join(ACTIVATIONS),
                        found=quoted(name),
                    ),
                ], built
            if width is None:
                return [
                    *found,
                    finding(
                        "RTN-E407",
                        at,
                        "an activation cannot come first: the model's input "
                        "width comes from the first helper's weights",
                        expected="a helper first",
                        found="an activation",
                    ),
                ], built
            built.append(_Layer("activation", width, width, {}, entry))
            continue
        helper = entry.get("helper")
        if helper in _UNSUPPORTED or helper not in HELPERS:
            why = _UNSUPPORTED.get(str(helper), "not one of RTNeural's torch_helpers loaders")
            return [
                *found,
                finding(
                    "RTN-E407",
                    at + "/helper",
                    f"{quoted(helper)}: {why}",
                    expected="one of loadDense, loadLSTM, loadGRU, loadConv1D",
                    found=quoted(helper),
                ),
            ], built
        arrays: dict[str, Any] = {}
        shapes: dict[str, tuple[int, ...]] = {}
        errors: list[Finding] = []
        for name, (key, ndim) in _keys(entry).items():
            where = pointer_join(root, key)
            if key not in weights:
                errors.append(
                    finding(
                        "RTN-E405",
                        where,
                        f"{quoted(key)} is missing: {helper} with prefix {quoted(entry.get('prefix', ''))} "
                        f"(layer {index} of the declaration) reads it",
                        expected=f"key {quoted(key)}",
                        found="no such key",
                    )
                )
                continue
            shape = array_shape(weights[key], ndim, where, float32=float32, notes=found)
            if isinstance(shape, Finding):
                errors.append(shape)
            else:
                arrays[name], shapes[name] = weights[key], shape
        if errors:
            return found + errors, built
        first = "weight_ih" if helper in _GATES else "weight"
        width = (
            shapes[first][1] * (entry.get("groups", 1) if helper == "loadConv1D" else 1)
            if width is None
            else width
        )
        rows = shapes[first][0]
        if helper in _GATES and (rows % _GATES[helper] or not rows):
            return [
                *found,
                finding(
                    "RTN-E406",
                    pointer_join(root, _keys(entry)[first][0]),
                    f"{rows} rows are not {_GATES[helper]} gates of whole units: layer {index} ({helper}) "
                    "reads another kind of layer's weights",
                    expected=f"a multiple of {_GATES[helper]} rows",
                    found=str(rows),
                ),
            ], built
        groups = int(entry.get("groups", 1)) if helper == "loadConv1D" else 1
        if width % groups or rows % groups:
            return [
                *found,
                finding(
                    "RTN-E406",
                    pointer_join(root, _keys(entry)[first][0]),
                    f"groups {groups} of layer {index} ({helper}) do not divide its input width {width} and "
                    f"its output width {rows}",
                    expected=f"widths that are multiples of {groups}",
                    found=f"{width} -> {rows}",
                ),
            ], built
        expected = _expected(entry, width, shapes)
        for name, shape in shapes.items():
            if shape != expected[name] or 0 in shape:
                key = _keys(entry)[name][0]
                return [
                    *found,
                    finding(
                        "RTN-E406",
                        pointer_join(root, key),
                        f"{key} does not fit layer {index} ({helper}) of the declaration, whose input is "
                        f"{width} wide"
                        + (f" with {_GATES[helper]} gates per unit" if helper in _GATES else ""),
                        expected=_shape_text(expected[name]),
                        found=_shape_text(shape),
                    ),
                ], built
        out = _out_width(entry, shapes)
        parameters += sum(int(np.prod(s)) for s in shapes.values())
        if max(width, out) > limits.max_layer_width or parameters > limits.max_total_parameters:
            return [
                *found,
                finding(
                    "RTN-E304",
                    at,
                    "the declared layers hold more than this checker loads",
                    expected=f"widths at most {limits.max_layer_width}, at most "
                    f"{limits.max_total_parameters} weights",
                    found=f"{width} -> {out}, {parameters} weights so far",
                ),
            ], built
        built.append(_Layer(helper, width, out, arrays, entry))
        width = out
    return found + _unread(weights, root, entries), built


def _unread(weights: dict[str, Any], root: str, entries: list[dict[str, Any]]) -> list[Finding]:
    """RTN-W010 for each key under a declared prefix that no declared call reads."""
    calls = [entry for entry in entries if "helper" in entry]
    read = {key for entry in calls for key, _ in _keys(entry).values()}
    prefixes = tuple({entry["prefix"] for entry in calls if entry["prefix"]})
    return [
        finding(
            "RTN-W010",
            pointer_join(root, key),
            f"no declared torch_helpers call reads {quoted(key)}: whatever it held in training is not in the "
            "plugin's model (a layer_index not declared, or has_bias false where the model had a bias)",
            expected="only keys the declared calls read, under their prefixes",
            found=quoted(key),
        )
        for key in weights
        if prefixes and key.startswith(prefixes) and key not in read
    ]


# --- what the C++ caller builds -------------------------------------------------------------------------


def _numbers(value: Any) -> np.ndarray:
    if is_numeric_array(value):
        return np.asarray(value.to_numpy(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _rz(rows: np.ndarray, hidden: int) -> np.ndarray:
    """The first two gate blocks exchanged (PyTorch's r, z, n <-> RTNeural's z, r, n)."""
    return np.concatenate([rows[hidden : 2 * hidden], rows[:hidden], rows[2 * hidden :]])


def layers(doc: dict[str, Any]) -> list[tuple[str, int, int, dict[str, np.ndarray], dict[str, Any]]]:
    """Each declared layer of a document without an error finding: (kind, width in, width out, its arrays
    as float64 numpy arrays with zeros for a bias not read, its declaration entry)."""
    found, built = _walk(doc, Limits(), False)
    assert not any(f.severity == "error" for f in found), "layers() of a document with an error finding"
    result = []
    for layer in built:
        arrays = {name: _numbers(value) for name, value in layer.arrays.items()}
        if layer.kind in _GATES:
            rows = arrays["weight_ih"].shape[0]
            arrays.setdefault("bias_ih", np.zeros(rows))
            arrays.setdefault("bias_hh", np.zeros(rows))
        elif layer.kind != "activation":
            arrays.setdefault("bias", np.zeros(arrays["weight"].shape[0]))
        result.append((layer.kind, layer.width_in, layer.width_out, arrays, layer.entry))
    return result


def to_keras(doc: dict[str, Any]) -> dict[str, Any]:
    """The keras-json document whose layers are those the helpers fill (a document without an error
    finding)."""
    entries: list[dict[str, Any]] = []
    chain = layers(doc)
    for kind, _, out, a, entry in chain:
        shape = [None, None, out]
        if kind == "activation":
            entries.append(
                {
                    "type": "activation",
                    "activation": ACTIVATIONS[entry["activation"]],
                    "shape": shape,
                    "weights": [],
                }
            )
        elif kind == "loadDense":
            entries.append(
                {
                    "type": "dense",
                    "activation": "",
                    "shape": shape,
                    "weights": [a["weight"].T.tolist(), a["bias"].tolist()],
                }
            )
        elif kind == "loadLSTM":
            weights = [
                a["weight_ih"].T.tolist(),
                a["weight_hh"].T.tolist(),
                (a["bias_ih"] + a["bias_hh"]).tolist(),
            ]
            entries.append({"type": "lstm", "activation": "", "shape": shape, "weights": weights})
        elif kind == "loadGRU":
            weights = [
                _rz(a["weight_ih"], out).T.tolist(),
                _rz(a["weight_hh"], out).T.tolist(),
                [_rz(a["bias_ih"], out).tolist(), _rz(a["bias_hh"], out).tolist()],
            ]
            entries.append({"type": "gru", "activation": "", "shape": shape, "weights": weights})
        else:  # loadConv1D: [out][in/g][K] -> keras-json's [K][in/g][out], taps in the same order
            kernel = a["weight"]
            entries.append(
                {
                    "type": "conv1d",
                    "activation": "",
                    "shape": shape,
                    "kernel_size": [int(kernel.shape[2])],
                    "dilation": [int(entry.get("dilation", 1))],
                    "groups": int(entry.get("groups", 1)),
                    "weights": [kernel.transpose(2, 1, 0).tolist(), a["bias"].tolist()],
                }
            )
    return {"in_shape": [None, None, chain[0][1]], "layers": entries}


def converted(document: Any) -> dict[str, Any] | None:
    """The keras-json of a :class:`~verifier.format.reader.document.Document` carrying a declaration and
    without an error finding, else None."""
    doc = document.outline()
    if not is_torch_helpers(doc):
        return None
    if any(f.severity == "error" for f in check_torch_helpers(doc, Limits())):
        return None
    return to_keras(doc)


def refuse_on_error(findings: list[Finding], source: str) -> None:
    """Raise the first error finding as the ``ModelFormatError`` a loader raises."""
    from verifier.format.loaders.state_dict import refuse_on_error as refuse

    refuse(findings, source)
