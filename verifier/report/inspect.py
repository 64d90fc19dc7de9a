"""``verify inspect`` output: the inspections of :mod:`verifier.format.inspect` as a text table or JSON.

Only formatting: every figure comes from the ``Inspection`` values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from verifier.format.inspect import Inspection, LayerRow

INSPECT_FORMATS = ("text", "json")


def format_inspections(inspections: Sequence[Inspection], fmt: str) -> str:
    if fmt == "json":
        data = {"inspect_version": 1, "files": [i.to_dict() for i in inspections]}
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    if fmt == "text":
        return "\n".join(inspection_text(i) for i in inspections)
    raise ValueError(f"unknown inspect format {fmt!r}; one of {', '.join(INSPECT_FORMATS)}")


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
    lines = [f"{inspection.source}: {_heading(inspection)}"]
    if inspection.rows:
        header = (
            "#",
            "pointer",
            "type",
            "activation",
            "in -> out",
            "params",
            "float32 B",
            "float64 B",
            "state",
        )
        table = [header]
        for row in inspection.rows:
            table.append(
                (
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
            )
        p, s = inspection.parameters, inspection.state
        table.append(
            (
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
        )
        widths = [max(len(r[c]) for r in table) for c in range(len(header))]
        right = {0, 5, 6, 7, 8}
        for r in table:
            cells = [r[c].rjust(widths[c]) if c in right else r[c].ljust(widths[c]) for c in range(len(r))]
            lines.append("  " + "  ".join(cells).rstrip())
        lines.append(
            f"  state: {s:,} values carried between steps ({4 * s:,} B at float32, {8 * s:,} B at float64)"
        )
    if inspection.extra_keys:
        lines.append("  keys outside the format (information):")
        for key in inspection.extra_keys:
            who = f" [{key.writer}]" if key.writer else ""
            lines.append(f"    {key.pointer}{who}: {key.meaning}")
    if inspection.findings:
        lines.append("  what RTNeural does with what is unusual here:")
        lines += [f"    {finding}" for finding in inspection.findings]  # errors first, as validate sorts
    return "\n".join(lines) + "\n"


def _heading(inspection: Inspection) -> str:
    if not inspection.readable:
        return "not a readable model file"
    errors = inspection.errors
    verdict = f"{errors} error(s): RTNeural would refuse, crash on or misread it" if errors else "loads"
    return (
        f"{_width(inspection.in_width)} -> {_width(inspection.out_width)}, {len(inspection.rows)} layer(s), "
        f"{inspection.parameters:,} parameters; {verdict}"
    )
