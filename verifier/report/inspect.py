"""``verify inspect`` output: the inspections of :mod:`verifier.format.inspect` as a text table or JSON.

Only formatting: every figure comes from the ``Inspection`` values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

from verifier.format.inspect import Inspection, LayerRow

INSPECT_FORMATS = ("text", "json")
#: characters gathered before a piece is handed on (few writes, and never the whole output in memory)
_PIECE = 1 << 16


def format_inspections(inspections: Sequence[Inspection], fmt: str) -> str:
    return "".join(inspection_pieces(inspections, fmt))


def inspection_pieces(inspections: Sequence[Inspection], fmt: str) -> Iterator[str]:
    """The output of :func:`format_inspections` in pieces: a table of a million layers is several times its
    file, and is written as it is made rather than held."""
    if fmt not in INSPECT_FORMATS:
        raise ValueError(f"unknown inspect format {fmt!r}; one of {', '.join(INSPECT_FORMATS)}")
    if fmt == "json":
        data = {"inspect_version": 1, "files": [i.to_dict() for i in inspections]}
        # An indent makes json use its pure-Python encoder, which iterates the rows lazily (see to_dict)
        encoder = json.JSONEncoder(indent=2, allow_nan=False)
        return _gathered(_then(encoder.iterencode(data)))
    return _gathered(_text_pieces(inspections))


def _then(pieces: Iterable[str]) -> Iterator[str]:
    yield from pieces
    yield "\n"


def _text_pieces(inspections: Sequence[Inspection]) -> Iterator[str]:
    for number, inspection in enumerate(inspections):
        if number:
            yield "\n"
        yield from _inspection_lines(inspection)


def _gathered(pieces: Iterable[str]) -> Iterator[str]:
    batch: list[str] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= _PIECE:
            yield "".join(batch)
            batch, size = [], 0
    if batch:
        yield "".join(batch)


def _width(value: int | None) -> str:
    return "?" if value is None else str(value)


def _activation(row: LayerRow) -> str:
    if row.activation is None:
        return "-"
    if not row.activation:
        return ""
    return row.activation if row.activation_applied else f"({row.activation}, not applied)"


def inspection_text(inspection: Inspection) -> str:
    """One file: heading, layer table with totals, extra keys, findings with RTNeural's outcome."""
    return "".join(_inspection_lines(inspection))


_HEADER = ("#", "pointer", "type", "activation", "in -> out", "params", "float32 B", "float64 B", "state")
_RIGHT = {0, 5, 6, 7, 8}


def _cells(row: LayerRow) -> tuple[str, ...]:
    return (
        str(row.index),
        row.pointer,
        row.type or "?",
        _activation(row),
        f"{_width(row.in_width)} -> {_width(row.out_width)}",
        f"{row.parameters:,}",
        f"{row.bytes_float32:,}",
        f"{row.bytes_float64:,}",
        f"{row.state:,}",
    )


def _table_line(cells: tuple[str, ...], widths: list[int]) -> str:
    aligned = [
        cells[c].rjust(widths[c]) if c in _RIGHT else cells[c].ljust(widths[c]) for c in range(len(cells))
    ]
    return "  " + "  ".join(aligned).rstrip() + "\n"


def _inspection_lines(inspection: Inspection) -> Iterator[str]:
    """The lines of :func:`inspection_text`, each ending with a newline. The table's columns are measured
    in a first pass over the rows, then each line is made and handed on: no row of cells is kept."""
    yield f"{inspection.source}: {_heading(inspection)}\n"
    if inspection.rows:
        p, s = inspection.parameters, inspection.state
        total = (
            "",
            "total",
            "",
            "",
            f"{_width(inspection.in_width)} -> {_width(inspection.out_width)}",
            f"{p:,}",
            f"{4 * p:,}",
            f"{8 * p:,}",
            f"{s:,}",
        )
        widths = [max(len(_HEADER[c]), len(total[c])) for c in range(len(_HEADER))]
        for row in inspection.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, _cells(row), strict=True)]
        yield _table_line(_HEADER, widths)
        for row in inspection.rows:
            yield _table_line(_cells(row), widths)
        yield _table_line(total, widths)
        carried = f"({4 * s:,} B at float32, {8 * s:,} B at float64)"
        yield f"  state: {s:,} values carried between steps {carried}\n"
    if inspection.extra_keys:
        yield "  keys outside the format (information):\n"
        for key in inspection.extra_keys:
            who = f" [{key.writer}]" if key.writer else ""
            yield f"    {key.pointer}{who}: {key.meaning}\n"
    if inspection.findings:
        yield "  what RTNeural does with what is unusual here:\n"
        for finding in inspection.findings:  # errors first, as validate sorts
            yield f"    {finding}\n"


def _heading(inspection: Inspection) -> str:
    if not inspection.readable:
        return "not a readable model file"
    errors = inspection.errors
    verdict = f"{errors} error(s): RTNeural would refuse, crash on or misread it" if errors else "loads"
    return (
        f"{_width(inspection.in_width)} -> {_width(inspection.out_width)}, {len(inspection.rows)} layer(s), "
        f"{inspection.parameters:,} parameters; {verdict}"
    )
