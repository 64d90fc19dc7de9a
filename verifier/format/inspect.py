"""``inspect(source) -> Inspection``: what a keras-json file holds, layer by layer, without running it.

Per entry: its JSON pointer, type, activation (and whether RTNeural applies it), the widths in and out as
the chain gives them, the numbers in its weight arrays (and their bytes at float32 and float64), and the
values it carries from one step to the next (recurrent state, convolution history). Then the totals, the
top-level keys that are not part of the format (conventions of other projects, docs/format.md §18: reported as
information), and what RTNeural will do with anything unusual: the findings of
:func:`verifier.format.validate.validate`, each under the entry it points into. No torch, no engine: a file
that does not even parse gives an inspection holding only its finding.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, overload

from verifier.format.findings import Finding, pointer_join
from verifier.format.loaders.state_dict import STATE_DICT_KEYS, is_state_dict, to_keras
from verifier.format.reader.document import is_numeric_array
from verifier.format.structure import is_known_entry, last_int, layer_entries, shape_width

__all__ = ["KNOWN_EXTRA_KEYS", "ExtraKey", "Inspection", "LayerRow", "LayerRows", "inspect"]

FORMAT_KEYS = frozenset({"in_shape", "layers"})
# Top-level keys other projects write (docs/format.md §18): who writes them and what they mean around
# RTNeural, which reads none of them.
KNOWN_EXTRA_KEYS: dict[str, tuple[str, str]] = {
    "in_skip": (
        "AIDA-X / Automated-GuitarAmpModelling",
        "the plugin adds the input to the model's output (y = model(x) + x); RTNeural alone omits it, so a "
        "PyTorch module with the skip differs from the file by x",
    ),
    "out_gain": ("AIDA-X", "a gain in dB the plugin applies to the model's output; RTNeural alone omits it"),
    "input_batch": ("AIDA-X", "an embedded input sequence for checking the file (with output_batch)"),
    "output_batch": ("AIDA-X", "the expected output for input_batch"),
    "metadata": ("AIDA-X and others", "free-form information (name, author, training details)"),
    "samplerate": ("copies of RTNeural's Keras exporter", "the sample rate the model was trained at"),
    "author": ("copies of RTNeural's Keras exporter", "who made the model"),
    "esr": ("copies of RTNeural's Keras exporter", "the training's error-to-signal ratio"),
}
_APPLIES_ACTIVATION = frozenset({"dense", "time-distributed-dense", "conv1d", "conv2d", "activation"})


@dataclass(frozen=True)
class LayerRow:
    """One entry of ``layers``."""

    index: int
    pointer: str
    type: str | None
    activation: str | None  # as written ("" when empty, None when absent or not a string)
    activation_applied: bool  # RTNeural reads the activation of this entry type
    in_width: int | None
    out_width: int | None
    parameters: int  # numbers in its weight arrays
    state: int  # values carried between steps (LSTM h and c, GRU h, convolution history)
    findings: tuple[Finding, ...] = ()

    @property
    def bytes_float32(self) -> int:
        return 4 * self.parameters

    @property
    def bytes_float64(self) -> int:
        return 8 * self.parameters

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pointer": self.pointer,
            "type": self.type,
            "activation": self.activation,
            "activation_applied": self.activation_applied,
            "in_width": self.in_width,
            "out_width": self.out_width,
            "parameters": self.parameters,
            "bytes_float32": self.bytes_float32,
            "bytes_float64": self.bytes_float64,
            "state": self.state,
            "findings": [_finding_dict(f) for f in self.findings],
        }


def _grouped(findings: Sequence[Finding], count: int) -> tuple[array[int], array[int]]:
    """Findings grouped by row once (a million entries with a finding each must not compare every finding
    with every entry), by counting, in columns: finding indices ``order[first[i]:first[i + 1]]`` are row
    ``i``'s in validate's order; those on no row (or beyond the rows) are not in ``order``."""
    rows = array("q", (_row_of(f.pointer, count) for f in findings))
    first = array("q", bytes(8 * (count + 1)))
    for row in rows:
        if row >= 0:
            first[row + 1] += 1
    for i in range(count):
        first[i + 1] += first[i]
    order, place = array("q", bytes(8 * first[count])), first[:-1]
    for at, row in enumerate(rows):
        if row >= 0:
            order[place[row]] = at
            place[row] += 1
    return first, order


def _row_of(pointer: str, count: int) -> int:
    index = _row_index(pointer)
    return index if index is not None and index < count else -1


_NONE = -1  # a width that is not known, in LayerRows' columns (widths are never negative)


class LayerRows(Sequence[LayerRow]):
    """The rows of a file, held as columns of machine integers and each :class:`LayerRow` made when asked
    for: a file of a million one-line layers held a row object (and its dict) per layer, several times the
    file's own size. Types and activations are kept once each (a file repeats a handful of them)."""

    def __init__(self, findings: Sequence[Finding], count: int) -> None:
        self._findings = findings
        self._names: list[str | None] = []
        self._name_ids: dict[str | None, int] = {}
        self._kinds, self._activations = array("i"), array("i")
        self._applied = bytearray()
        self._widths, self._counts = array("q"), array("q")  # in, out / parameters, state per row
        self._first, self._order = _grouped(findings, count)

    def _name(self, text: str | None) -> int:
        if text not in self._name_ids:
            self._name_ids[text] = len(self._names)
            self._names.append(text)
        return self._name_ids[text]

    def append(
        self,
        kind: str | None,
        activation: str | None,
        widths: tuple[int | None, int | None],
        parameters: int,
        state: int,
    ) -> None:
        self._kinds.append(self._name(kind))
        self._activations.append(self._name(activation))
        self._applied.append(kind in _APPLIES_ACTIVATION and bool(activation))
        self._widths.extend(_NONE if w is None else w for w in widths)
        self._counts.extend((parameters, state))

    def __len__(self) -> int:
        return len(self._kinds)

    @overload
    def __getitem__(self, index: int) -> LayerRow: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[LayerRow]: ...
    def __getitem__(self, index: int | slice) -> LayerRow | Sequence[LayerRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("layer row index out of range")
        first, last = self._first[index], self._first[index + 1]
        width_in, width_out = self._widths[2 * index], self._widths[2 * index + 1]
        return LayerRow(
            index=index,
            pointer=pointer_join("/layers", index),
            type=self._names[self._kinds[index]],
            activation=self._names[self._activations[index]],
            activation_applied=bool(self._applied[index]),
            in_width=None if width_in == _NONE else width_in,
            out_width=None if width_out == _NONE else width_out,
            parameters=self._counts[2 * index],
            state=self._counts[2 * index + 1],
            findings=tuple(self._findings[self._order[j]] for j in range(first, last)),
        )

    def __iter__(self) -> Iterator[LayerRow]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ExtraKey:
    """A top-level key that is not part of the format."""

    key: str
    pointer: str
    writer: str | None  # the project known to write it, None for a key no known project writes
    meaning: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "pointer": self.pointer, "writer": self.writer, "meaning": self.meaning}


@dataclass(frozen=True)
class Inspection:
    """Everything :func:`inspect` found in one file."""

    source: str
    readable: bool  # parsed as a JSON object with a layers list
    in_width: int | None
    out_width: int | None
    rows: Sequence[LayerRow]
    extra_keys: tuple[ExtraKey, ...]
    findings: tuple[Finding, ...]  # all of them, errors first (the rows hold theirs too)

    @property
    def parameters(self) -> int:
        return sum(r.parameters for r in self.rows)

    @property
    def state(self) -> int:
        return sum(r.state for r in self.rows)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def document_findings(self) -> tuple[Finding, ...]:
        """Findings on no row (the file, in_shape, a top-level key, an entry of an unreadable file)."""
        count = len(self.rows)
        return tuple(f for f in self.findings if not _on_a_row(_row_index(f.pointer), self.rows, count))

    def to_dict(self) -> dict[str, Any]:
        """As JSON data; ``layers`` is a list whose entries are made as it is iterated (a JSON encoder with
        an indent writes it piece by piece: see :mod:`verifier.report.inspect`)."""
        return {
            "path": self.source,
            "readable": self.readable,
            "in_width": self.in_width,
            "out_width": self.out_width,
            "layers": _RowDicts(self.rows),
            "totals": {
                "layers": len(self.rows),
                "parameters": self.parameters,
                "bytes_float32": 4 * self.parameters,
                "bytes_float64": 8 * self.parameters,
                "state": self.state,
                "state_bytes_float32": 4 * self.state,
                "state_bytes_float64": 8 * self.state,
            },
            "extra_keys": [k.to_dict() for k in self.extra_keys],
            "findings": [_finding_dict(f) for f in self.findings],
            "errors": self.errors,
        }


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "pointer": f.pointer,
        "message": f.message,
        "rtneural": f.rtneural,
        "expected": f.expected,
        "found": f.found,
    }


class _RowDicts(list[dict[str, Any]]):
    """A list that makes each row's dict as it is iterated: json's pure-Python encoder (used whenever it
    indents) only iterates a list and asks its length, so a million rows are never all dicts at once."""

    def __init__(self, rows: Sequence[LayerRow]) -> None:
        super().__init__()
        self._rows = rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (row.to_dict() for row in self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and list(iter(self)) == list(other)

    def __repr__(self) -> str:
        return repr(list(iter(self)))


def _on_a_row(index: int | None, rows: Sequence[LayerRow], count: int) -> bool:
    if index is None:
        return False
    if isinstance(rows, LayerRows):
        return 0 <= index < count
    return any(r.index == index for r in rows)


def _row_index(pointer: str) -> int | None:
    parts = pointer.split("/")
    if len(parts) >= 3 and parts[1] == "layers" and parts[2].isdigit():
        return int(parts[2])
    return None


def inspect(source: str | os.PathLike[str] | bytes | dict[str, Any]) -> Inspection:
    """The inspection of ``source`` (a path, JSON text, bytes or a dict); never raises for bad input."""
    from verifier.errors import ModelFormatError
    from verifier.format.findings import Limits, severity_rank
    from verifier.format.reader.document import read
    from verifier.format.validate import KEY_ORDER, check_document, validate

    name = os.fspath(source) if isinstance(source, str | os.PathLike) and not _is_text(source) else "<input>"
    try:
        document = read(source)
    except (ModelFormatError, OSError, RecursionError):
        return Inspection(name, False, None, None, (), (), tuple(validate(source)))
    name = document.name
    # What validate reads (weight arrays as shapes, the numbers left in C++), not a Python float per number:
    # the memory of inspecting stays in proportion to the file's declarations.
    doc = document.skeleton(KEY_ORDER, top_keys=STATE_DICT_KEYS)
    # validate() after its reading pass, on the document already read: reading dominates on large files.
    findings = tuple(sorted(check_document(doc, Limits()) + list(document.warnings), key=severity_rank))
    if is_state_dict(doc):
        return _inspect_state_dict(name, doc, findings)
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        return Inspection(name, False, None, None, (), _extra_keys(doc), findings)
    rows = _rows(doc, findings)
    in_width = shape_width(doc.get("in_shape"))
    out_width = next((r.out_width for r in reversed(rows) if is_known_entry(doc["layers"][r.index])), None)
    return Inspection(name, True, in_width, out_width, rows, _extra_keys(doc), findings)


def _inspect_state_dict(name: str, doc: dict[str, Any], findings: tuple[Finding, ...]) -> Inspection:
    """A GuitarML state_dict file, shown as the two layers the plugin builds from it (rows point at the
    first array of each module); its skip, which lives in the plugin, is listed beside them."""
    extra = tuple(k for k in _extra_keys(doc) if k.key not in STATE_DICT_KEYS)
    if any(f.severity == "error" for f in findings):
        return Inspection(name, False, None, None, (), extra, findings)
    keras, skip = to_keras(doc)
    rows = tuple(
        replace(row, pointer=pointer, findings=())
        for row, pointer in zip(
            _rows(keras, ()), ("/state_dict/rec.weight_ih_l0", "/state_dict/lin.weight"), strict=True
        )
    )
    if skip:
        writer = "GuitarML Proteus / NeuralPi"
        meaning = "the plugin adds input 0 to every output (y = model(x) + x[0]); RTNeural alone omits it"
        extra += (ExtraKey("skip", "/model_data/skip", writer, meaning),)
    in_width, out_width = rows[0].in_width, rows[-1].out_width
    return Inspection(name, True, in_width, out_width, rows, extra, findings)


def _is_text(source: Any) -> bool:
    return isinstance(source, str) and source.lstrip().startswith("{")


def _extra_keys(doc: Any) -> tuple[ExtraKey, ...]:
    if not isinstance(doc, dict):
        return ()
    extra = []
    for key in doc:
        if key in FORMAT_KEYS:
            continue
        writer, meaning = KNOWN_EXTRA_KEYS.get(key, (None, "not a key of the format"))
        extra.append(ExtraKey(key, pointer_join("", key), writer, f"{meaning}; RTNeural ignores it"))
    return tuple(extra)


_UNCHAINED = -2  # an entry the chain does not reach, in the columns of _chained_widths


def _chained_widths(doc: dict[str, Any]) -> array[int]:
    """(in, out) widths of each entry as the chain gives them, two per entry in one column (a dict of pairs
    cost more than the entry's text); all :data:`_UNCHAINED` when the document is too broken."""
    widths = array("q", [_UNCHAINED]) * (2 * len(doc["layers"]))
    try:
        for e in layer_entries(doc):
            widths[2 * e.index] = _NONE if e.in_width is None else e.in_width
            widths[2 * e.index + 1] = _NONE if e.out_width is None else e.out_width
    except (KeyError, TypeError, AttributeError, IndexError):
        return array("q", [_UNCHAINED]) * (2 * len(doc["layers"]))
    return widths


def _width_at(widths: array[int], at: int) -> int | None:
    return None if widths[at] == _NONE else widths[at]


def _rows(doc: dict[str, Any], findings: tuple[Finding, ...]) -> LayerRows:
    widths = _chained_widths(doc)
    rows = LayerRows(findings, len(doc["layers"]))
    for index, body in enumerate(doc["layers"]):
        entry: Mapping[str, Any] = body if isinstance(body, dict) else {}
        kind = entry.get("type") if isinstance(entry.get("type"), str) else None
        activation = entry.get("activation") if isinstance(entry.get("activation"), str) else None
        if widths[2 * index] == _UNCHAINED:
            in_width, out_width = None, shape_width(entry.get("shape"))
        else:
            in_width, out_width = _width_at(widths, 2 * index), _width_at(widths, 2 * index + 1)
        if kind in ("activation", "prelu", "batchnorm", "batchnorm2d") and in_width is not None:
            out_width = in_width  # built with the width that flows in
        rows.append(
            kind,
            activation,
            (in_width, out_width),
            _count_numbers(entry.get("weights", [])),
            _state(entry, kind, in_width, out_width),
        )
    return rows


def _count_numbers(value: Any) -> int:
    count, stack = 0, [value]
    while stack:  # iterative: a hostile file may nest deeply
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            count += 1
        elif is_numeric_array(node):
            count += math.prod(node.shape)
    return count


def _state(entry: Mapping[str, Any], kind: str | None, in_width: int | None, out_width: int | None) -> int:
    out, width = out_width or 0, in_width or 0
    if kind == "lstm":
        return 2 * out  # h and c
    if kind == "gru":
        return out
    if kind == "conv1d":
        history = ((last_int(entry.get("kernel_size")) or 1) - 1) * (last_int(entry.get("dilation")) or 1)
        return history * width  # the inputs of the last (K-1)*dilation steps
    if kind == "conv2d":
        time_kernel = last_int(entry.get("kernel_size_time")) or 1
        return (time_kernel - 1) * (last_int(entry.get("dilation")) or 1) * width
    return 0
