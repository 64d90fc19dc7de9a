"""The budgets of a set of verified files as a plain-text table (the pytest plugin's terminal summary).

Per model: parameters (JSON as PyTorch counts them), p99 latency per frame, streamed and on silence after
signal (without flush-to-zero) against the p99 budget, bytes the engine holds; then the memory of all models
against the shared budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verifier.checks.results import FAIL, Check, FileResult


def _figure(result: FileResult, check: str, *keys: str) -> Any:
    found = result.check(check)
    value: Any = None if found is None else found.figures
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _us(ns: Any) -> str:
    return "—" if not isinstance(ns, (int, float)) else f"{ns / 1000:,.1f} µs"


def _count(value: Any) -> str:
    return "—" if not isinstance(value, int) else f"{value:,}"


def budget_lines(files: Sequence[FileResult], total: Check | None = None) -> list[str]:
    """Fixed-width lines: a header, one row per file, and the memory total when ``total`` is given."""
    rows = [
        (
            "model",
            "parameters",
            "p99 frame",
            "p99 stream",
            "p99 silence",
            "p99 budget",
            "engine bytes",
            "result",
        )
    ]
    for f in files:
        rows.append(
            (
                f.model or f.path,
                _count(_figure(f, "parameters", "json_as_torch")),
                _us(_figure(f, "latency", "frame", "p99_ns")),
                _us(_figure(f, "latency", "stream", "p99_ns")),
                _us(_figure(f, "latency", "silence", "p99_ns")),
                _us(_figure(f, "latency", "budget_p99_ns")),
                _count(_figure(f, "memory", "bytes_held")),
                "FAIL" if f.failed else "ok",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    if total is not None:
        lines.append(f"memory-total: {'FAIL' if total.status == FAIL else total.status}: {total.summary}")
    return lines
