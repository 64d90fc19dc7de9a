"""``validate(source) -> list[Finding]``: every problem of a keras-json model file, named, located, explained.

The passes, in order (each stops the ones after it when the document is unusable for them):

1. size of the file (``Limits.max_file_bytes``), checked before it is read;
2. reading: :func:`verifier.format.reader.document.read` (empty file, non-UTF-8, syntax errors,
   NaN/Infinity literals, duplicate keys, the size/depth limits), each ``ModelFormatError`` becoming one
   finding; then the nesting depth against ``Limits.max_depth``. The passes below read the document's
   skeleton (:meth:`~verifier.format.reader.document.Document.skeleton`): large weight arrays stay in the C++
   document, known by their shape, and keys no pass reads are skipped, so the Python objects built are
   proportional to the declarations, not to the numbers;
3. the team's legacy export format, recognised as a whole and reported as ONE finding;
4. declarations: the JSON Schema ``rtneural-model.schema.json`` -- in its structural variant, which checks
   the nesting of weight arrays but not each number (jsonschema takes about 3 s per million numbers; the
   numeric pass in :mod:`verifier.format.reader.arrays` takes about 50 ms), on a view in which every array
   kept in
   C++ is one element deep at each level (:func:`verifier.format.reader.arrays.schema_view`: the schema
   counts no
   element of a weight array), one finding per place. A compiled predicate of the same schema
   (:mod:`verifier.format.schema.predicate`) answers first: a document it accepts has no schema finding,
   and jsonschema is imported and asked only for the errors of one it rejects -- plus every
   declared width and the limits on declared sizes (:func:`verifier.format.structure.check_declarations`),
   before any weight array is converted;
5. arrays: widths chaining from layer to layer and the exact shape of every weight array, every number a
   finite number, and the suspicious-but-legal entries (:func:`verifier.format.structure.check_layers`).

Errors come in the order the native loader (``verifier.load``) meets them, so that ``load`` refuses a file
with the rule and pointer of ``validate``'s first error: the findings of pass 4 sorted by place -- in_shape,
layers, then entry by entry in the key order :data:`KEY_ORDER` (within a key, in document order), the
totals of an entry (parameters, held values) last -- then those of pass 5 entry by entry.

The rules are catalogued in :mod:`verifier.format.rules` (``python -m verifier.format.catalogue``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from verifier.errors import ModelFormatError
from verifier.format.findings import Finding, Limits, finding, pointer_join, severity_rank
from verifier.format.legacy import legacy_format
from verifier.format.loaders.state_dict import STATE_DICT_KEYS, check_state_dict, is_state_dict
from verifier.format.loaders.torch_helpers import (
    UNDECLARED_HINT,
    check_torch_helpers,
    is_torch_helpers,
    looks_like_state_dict,
)
from verifier.format.reader.arrays import schema_view
from verifier.format.reader.document import Document, read
from verifier.format.reader.float32 import check_dtype
from verifier.format.rules import RULES, Outcome
from verifier.format.schema.predicate import Predicate
from verifier.format.schema.validator import (
    compile_variant,
    error_message,
    registry,
    schema,
    structural_variant,
)
from verifier.format.structure import check_declarations, check_in_shape, check_layers, computes
from verifier.quoting import quoted, shown

if TYPE_CHECKING:  # imported when a document does not conform (_schema_findings)
    from jsonschema import Draft202012Validator, ValidationError

__all__ = ["KEY_ORDER", "Finding", "Limits", "validate"]

#: The order in which the keys of a layer entry are checked (native/loader.cpp follows it).
KEY_ORDER = (
    "type",
    "shape",
    "weights",
    "activation",
    "kernel_size",
    "dilation",
    "groups",
    "kernel_size_time",
    "kernel_size_feature",
    "strides",
    "num_filters_in",
    "num_features_in",
    "num_filters_out",
    "padding",
    "epsilon",
)
_ENTRY_TOTALS = frozenset({"RTN-E304", "RTN-E305"})  # at /layers/<i>, after the entry's keys
_LIMIT_RULES = frozenset({"RTN-E303", "RTN-E304", "RTN-E305"})

MODEL_SCHEMA = "rtneural-model"
_MISSING_KEY_HINTS = {
    "in_shape": "the model's input shape, e.g. [null, null, 1]",
    "layers": "the list of layer entries",
    "type": "every entry needs its type",
    "shape": "every entry needs its output shape, e.g. [null, null, 8]",
    "weights": "every entry needs weights, [] for weightless layers such as activation",
    "epsilon": "batchnorm needs the epsilon it was trained with (PyTorch's eps, default 1e-5)",
    "kernel_size": "conv1d needs kernel_size, e.g. [3]",
    "dilation": "conv1d needs dilation, e.g. [1]",
    "padding": 'conv2d needs padding: "valid" or "same"',
}
# When several schema errors land on one place the most specific explanation wins.
_KEYWORD_PRIORITY = {"required": 0, "type": 1, "enum": 2, "const": 2}


def validate(
    source: str | os.PathLike[str] | bytes | dict[str, Any] | Document,
    *,
    limits: Limits | None = None,
    dtype: str = "float32",
) -> list[Finding]:
    """Findings for ``source`` (a path, JSON text, bytes, a parsed dict or a :class:`Document` already
    read), errors first.

    Never raises for bad input: an unreadable file is a finding too. ``limits`` defaults to :class:`Limits`.
    ``dtype`` is the engine the model is meant for: ``"float32"`` (what RTNeural in a plugin runs, and
    ``verifier.load``'s default) makes every number float32 cannot hold a finding (RTN-E208, RTN-W008);
    ``"float64"`` only asks that each be a finite double.
    """
    float32 = check_dtype(dtype) == "float32"
    limits = limits or Limits()
    too_big = _check_size(source, limits)
    if too_big is not None:
        return [too_big]
    reading: list[Finding] = []
    doc, problem = _read(source, limits, reading)
    if problem is not None:
        return [problem]
    return sorted(check_document(doc, limits, float32=float32) + reading, key=severity_rank)


def check_document(doc: Any, limits: Limits, *, float32: bool = True) -> list[Finding]:
    """Findings for an already-parsed document (passes 2b to 6), in discovery order."""
    deep = _too_deep(doc, limits.max_depth)
    if deep is not None:
        return [
            finding(
                "RTN-E302",
                deep,
                "the JSON is nested deeper than any model file needs",
                expected=f"at most {limits.max_depth} levels (Limits.max_depth)",
                found=f"more than {limits.max_depth}",
            )
        ]
    legacy = legacy_format(doc)
    if legacy is not None:
        return [legacy]
    if is_state_dict(doc):
        return check_state_dict(doc, limits, float32=float32)
    if is_torch_helpers(doc):
        return check_torch_helpers(doc, limits, float32=float32)
    found, bad_layers, usable = _schema_findings(doc)
    if looks_like_state_dict(doc):
        found = [
            replace(f, message=f.message + UNDECLARED_HINT) if f.pointer == "/in_shape" else f for f in found
        ]
    found += check_in_shape(doc, limits)
    declared = check_declarations(doc, limits) if usable else []
    found = sorted(found + declared, key=declaration_order)
    if not usable or any(f.rule in _LIMIT_RULES for f in declared):
        return found
    found += check_layers(doc, bad_layers, float32=float32)
    if not any(f.severity == "error" for f in found) and not computes(doc):
        found.append(
            finding(
                "RTN-E104",
                "/layers",
                "no layer computes anything (only identity activation entries): RTNeural builds a model "
                "without layers, whose first forward() crashes",
                expected="at least one layer besides identity activation entries",
                found="only identity activation entries",
            )
        )
    return found


def declaration_order(item: Finding) -> tuple[Any, ...]:
    """Where a finding of the declarations pass stands in the order the native loader checks."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in item.pointer.split("/")[1:]]
    if not parts:
        return (0,)
    if parts[0] == "in_shape":
        return (1, *_tail(parts[1:]))
    if parts[0] != "layers" or len(parts) == 1 or not parts[1].isdigit():
        return (2 if parts[0] == "layers" else 4, *_tail(parts[1:]))
    if len(parts) == 2:
        rank = len(KEY_ORDER) + 1 if item.rule in _ENTRY_TOTALS else -1
    else:
        rank = KEY_ORDER.index(parts[2]) if parts[2] in KEY_ORDER else len(KEY_ORDER)
    return (3, int(parts[1]), rank, *_tail(parts[3:]))


def _tail(parts: list[str]) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts]


# --- reading --------------------------------------------------------------------------------------------


def _check_size(source: Any, limits: Limits) -> Finding | None:
    size: int | None = None
    if isinstance(source, Document):
        size = source.size
    elif isinstance(source, bytes):
        size = len(source)
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        size = len(source.encode("utf-8", "surrogatepass"))
    elif isinstance(source, (str, os.PathLike)):
        try:
            size = os.stat(source).st_size
        except OSError:
            size = None  # reported by the reader, with its reason
    if size is None or size <= limits.max_file_bytes:
        return None
    return finding(
        "RTN-E301",
        "",
        "the file is larger than the configured limit; it was not read",
        expected=f"at most {limits.max_file_bytes} bytes (Limits.max_file_bytes)",
        found=f"{size} bytes",
    )


def _read(source: Any, limits: Limits, warnings: list[Finding]) -> tuple[Any, Finding | None]:
    try:
        document = read(source, limits)
    except ModelFormatError as error:
        return None, _from_format_error(error)
    except OSError as error:
        return None, finding(
            "RTN-E001",
            "",
            f"cannot read the file: {error.strerror or error}",
            found=str(getattr(error, "filename", None) or source),
        )
    except RecursionError:  # a reader without a depth limit on a pathologically nested file
        return None, finding("RTN-E302", "", "the JSON is nested too deep to read")
    warnings.extend(document.warnings)
    # Large weight arrays stay in C++ (their shapes are what the passes below read), and keys no pass reads
    # are not converted: the Python objects built are proportional to the declarations, not to the numbers.
    doc = document.skeleton(KEY_ORDER, STATE_DICT_KEYS)
    # A torch_helpers declaration reads state_dict keys of any name: the whole tree (a bounded file).
    return (document.tree if is_torch_helpers(doc) else doc), None


def _from_format_error(error: ModelFormatError) -> Finding:
    # verifier.format.reader.document names the rule of every error it raises (unreadable, empty, not UTF-8,
    # syntax,
    # non-finite, duplicate key, too deep, too large); a JSON syntax error is the only other way in.
    rule_id = error.rule if error.rule in RULES else "RTN-E004"
    return finding(rule_id, error.pointer, error.message, expected=error.expected, found=error.found)


def _too_deep(doc: Any, max_depth: int) -> str | None:
    """Pointer of a container deeper than ``max_depth`` (the document is level 1), else None."""
    stack: list[tuple[Any, int, str]] = [(doc, 1, "")]
    containers = (list, dict)
    while stack:
        node, depth, where = stack.pop()
        if depth > max_depth:
            return where
        # Children are pushed last-first so that the first offending place in document order is found.
        if type(node) is dict:
            stack.extend(
                (v, depth + 1, pointer_join(where, k))
                for k, v in reversed(node.items())
                if type(v) in containers
            )
        elif type(node) is list:
            kinds = set(map(type, node))
            if list in kinds or dict in kinds:
                stack.extend(
                    (node[i], depth + 1, pointer_join(where, i))
                    for i in range(len(node) - 1, -1, -1)
                    if type(node[i]) in containers
                )
    return None


# --- the schema -----------------------------------------------------------------------------------------


def _structural_schema() -> dict[str, Any]:
    return structural_variant(schema(MODEL_SCHEMA), {"vector": {"type": "array"}})


@cache
def _structural_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_structural_schema(), registry=registry())


@cache
def _structural_predicate() -> Predicate | None:
    return compile_variant(_structural_schema())


def _schema_findings(doc: Any) -> tuple[list[Finding], set[int], bool]:
    """Findings of the schema, the indices of layers they concern, and whether the top level is usable."""
    view = schema_view(doc)
    conforms = _structural_predicate()
    if conforms is not None and conforms(view):
        return [], set(), True  # jsonschema would find no error (the predicate's answer is its answer)
    kept = _prune_weights(view)
    # One error per place: the most specific keyword, then the first in document order (as the loader
    # walks the document). Only the best of each place is kept as the errors stream by.
    best: dict[str, tuple[tuple[Any, ...], ValidationError]] = {}
    for error in _structural_validator().iter_errors(view):
        _restore_indices(error, view, kept)
        key = (_priority(error), _path_order(error))
        place = _place(error)
        if place not in best or key < best[place][0]:
            best[place] = (key, error)
    chosen = [error for _, error in sorted(best.values(), key=lambda item: item[0])]
    found: list[Finding] = []
    bad_layers: set[int] = set()
    usable = True
    for error in chosen:
        found.extend(_to_findings(error, doc))
        path = list(error.absolute_path)
        if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
            bad_layers.add(path[1])
        else:
            usable = False
    return found, bad_layers, usable


def _shape_kind(value: Any) -> Any:
    """What the schema can tell apart in a weight array's element: the kinds of things at each depth (never a
    length: the schema states none), so two elements of one shape kind get the same errors at the same
    places inside them."""
    if type(value) is not list:
        return type(value)
    kinds = set(map(type, value))
    if list not in kinds:
        return (list, frozenset(kinds))
    return (list, frozenset(map(_shape_kind, value)))


def _prune_weights(view: Any) -> dict[int, list[int]]:
    """Each weight array of ``view`` cut, at every depth, to the first element of each shape kind (a later
    element of a kind already seen can only repeat an error of that first one, further into the document,
    and one error per weight array is reported: the first). A kernel of a million scalar rows is then
    checked as two rows, not as a million errors. Returns the original index of each kept element, per
    cut list (by ``id``)."""
    kept: dict[int, list[int]] = {}
    layers = view.get("layers") if type(view) is dict else None
    entries = [e for e in layers if type(e) is dict] if type(layers) is list else []
    # (list, index): the view shares lists of scalars with the document, so a cut list is a new one put in
    # its parent's place (a parent holding a list is always the view's own).
    stack = [
        (e["weights"], j) for e in entries if type(e.get("weights")) is list for j in range(len(e["weights"]))
    ]
    while stack:
        parent, at = stack.pop()
        array = parent[at]
        if type(array) is not list:
            continue
        first: dict[Any, int] = {}
        for index, item in enumerate(array):
            first.setdefault(_shape_kind(item), index)
        if len(first) < len(array):
            indices = sorted(first.values())
            array = parent[at] = [array[i] for i in indices]
            kept[id(array)] = indices
        stack.extend((array, i) for i, item in enumerate(array) if type(item) is list)
    return kept


def _restore_indices(error: ValidationError, view: Any, kept: dict[int, list[int]]) -> None:
    """The error's path in the document, from its path in the cut view."""
    if not kept:
        return
    path, node = list(error.path), view
    for depth, step in enumerate(path):
        if type(node) is list and isinstance(step, int):
            indices = kept.get(id(node))
            node = node[step]
            if indices is not None:
                path[depth] = indices[step]
        elif type(node) is dict:
            node = node[step]
        else:
            break
    # ``path`` and ``relative_path`` are one deque (``absolute_path`` reads the latter): changed in place.
    error.relative_path.clear()
    error.relative_path.extend(path)


def _place(error: ValidationError) -> str:
    """Errors are grouped per place; inside a weight array the whole array is one place."""
    path = list(error.absolute_path)
    if len(path) > 4 and path[0] == "layers" and path[2] == "weights":
        path = path[:4]
    return pointer_join("", *path)


def _priority(error: ValidationError) -> int:
    return _KEYWORD_PRIORITY.get(str(error.validator), 3)


def _path_order(error: ValidationError) -> list[tuple[int, int | str]]:
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in error.absolute_path]


def _to_findings(error: ValidationError, doc: Any) -> list[Finding]:
    path = list(error.absolute_path)
    where = pointer_join("", *path)
    keyword = error.validator
    instance = error.instance
    layer = _layer_label(doc, path)
    in_weights = len(path) >= 3 and path[0] == "layers" and path[2] == "weights"
    if keyword == "required":
        return [
            finding(
                "RTN-E101",
                pointer_join(where, key),
                f"{layer or 'the model'} has no {key!r} key: {_MISSING_KEY_HINTS.get(key, 'required')}",
                expected=f"key {key!r}",
                found="no such key",
            )
            for key in cast(list[str], error.validator_value)
            if isinstance(instance, dict) and key not in instance
        ]
    if keyword == "type" or (keyword == "oneOf" and _wrong_kind(instance)):
        if in_weights and len(path) >= 4 and not _wrong_kind(instance):
            return [
                finding(
                    "RTN-E202",
                    pointer_join("", *path[:4]),
                    f"{layer}: this weight array is nested wrongly ({_weights_description(doc, path)})",
                    expected=_expected_type(error),
                    found=_kind(instance),
                )
            ]
        outcome: Outcome = "crash" if path in (["in_shape"], ["layers"]) else "exception"
        extra = "; RTNeural's parseJson returns a null model" if outcome == "crash" else ""
        return [
            finding(
                "RTN-E102",
                where,
                f"{_name(path, layer)} has the wrong JSON type{extra}",
                expected=_expected_type(error),
                found=_kind(instance),
                rtneural=outcome,
            )
        ]
    if keyword in ("enum", "const") and path and path[-1] == "activation":
        return [
            finding(
                "RTN-E106",
                where,
                f"{layer}: {quoted(instance)} is not an RTNeural activation; RTNeural's loader crashes on "
                'it. Use one of tanh, relu, sigmoid, softmax, elu, or "" for none (never "linear")',
                expected='one of "", tanh, relu, sigmoid, softmax, elu',
                found=quoted(instance),
            )
        ]
    if keyword in ("enum", "const") and len(path) == 3 and path[2] == "type":
        return [
            finding(
                "RTN-E105",
                where,
                f"layer {path[1]}: RTNeural does not know the layer type {quoted(instance)} and silently "
                "drops the entry; remove it or export a supported layer",
                expected="one of " + ", ".join(cast(list[str], error.validator_value)),
                found=quoted(instance),
            )
        ]
    if in_weights and len(path) == 3:
        count = len(instance) if isinstance(instance, list) else 0
        fewer = keyword == "minItems"
        return [
            finding(
                "RTN-E107",
                where,
                f"{layer}: {_weights_description(doc, path)}",
                expected=_count_expected(error),
                found=f"{count} arrays",
                rtneural="exception" if fewer else "silently wrong",
            )
        ]
    if keyword == "minItems" and path == ["layers"]:
        return [
            finding(
                "RTN-E104",
                where,
                "the model has no layers; RTNeural loads it and crashes on the first forward()",
                expected="at least one layer",
                found="[]",
            )
        ]
    if keyword == "minItems" and path and path[-1] in ("in_shape", "shape"):
        return [
            finding(
                "RTN-E108",
                where,
                f"{_name(path, layer)} is empty: it must end in the width",
                expected="a positive integer width",
                found="[]",
            )
        ]
    if keyword == "oneOf":
        return [
            finding(
                "RTN-E103",
                where,
                f"{_name(path, layer)} must be a positive integer or a list ending in one",
                expected="a positive integer",
                found=quoted(instance),
            )
        ]
    return [
        finding(
            "RTN-E103",
            where,
            f"{_name(path, layer)}: {error_message(error)}",
            expected=_schema_text(error),
            found=quoted(instance),
        )
    ]


def _layer_label(doc: Any, path: list[Any]) -> str:
    if len(path) < 2 or path[0] != "layers" or not isinstance(path[1], int):
        return ""
    try:
        kind = doc["layers"][path[1]].get("type")
    except (AttributeError, LookupError, TypeError):
        kind = None
    return f"layer {path[1]} ({shown(kind)})" if isinstance(kind, str) else f"layer {path[1]}"


def _name(path: list[Any], layer: str) -> str:
    if not path:
        return "the document"
    tail = "/".join(shown(str(p)) for p in (path[2:] if layer else path))
    return f"{layer} {tail}".strip() if layer else tail


def _wrong_kind(value: Any) -> bool:
    return value is None or isinstance(value, (bool, str, dict))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", str: "string", dict: "object", list: "array", int: "integer", float: "number"}
    return names.get(type(value), type(value).__name__)


def _expected_type(error: ValidationError) -> str:
    if error.validator == "type":
        value = error.validator_value
        return " or ".join(value) if isinstance(value, list) else str(value)
    return "an integer or a list ending in one" if error.validator == "oneOf" else _schema_text(error)


def _schema_text(error: ValidationError) -> str:
    return str(_schema_of(error).get("description") or f"{error.validator} {error.validator_value!r}")[:200]


def _weights_description(doc: Any, path: list[Any]) -> str:
    """What the weights of this entry's type must be, from the schema's own description."""
    try:
        kind = doc["layers"][path[1]]["type"]
    except (LookupError, TypeError):
        kind = None
    defs = schema(MODEL_SCHEMA)["$defs"]
    name = {"time-distributed-dense": "dense", "batchnorm2d": "batchnorm"}.get(kind, kind)
    node = defs.get(name, {}) if isinstance(name, str) else {}
    weights = (
        defs["batchnormWeights"] if name == "batchnorm" else node.get("properties", {}).get("weights", {})
    )
    return weights.get("description", "the weights do not have the layout this layer type needs")


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    """The (sub)schema that failed; ours are all objects (jsonschema also allows booleans)."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _count_expected(error: ValidationError) -> str:
    bounds = _schema_of(error)
    low, high = bounds.get("minItems"), bounds.get("maxItems")
    if "not" in bounds:
        return "2 or 4 arrays"
    if low == high:
        return f"{low} arrays"
    return f"{low} to {high} arrays" if high is not None else f"at least {low} arrays"
