"""The error statistics of a run as rows and as a Markdown table (the JSON report carries them as figures).

One row per file and call pattern (``numeric-frame``, ``numeric-stream``), from the ``stats`` figures that
:mod:`verifier.checks.errorstats` computed; a check without them (skipped, or an older report) has no row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.checks.results import RunResult
from verifier.report.escape import markdown_code, markdown_text
from verifier.report.figures import finite, mapping, real

PATTERNS = {"numeric-frame": "frame", "numeric-stream": "stream"}


@dataclass(frozen=True)
class StatRow:
    path: str
    model: str | None
    pattern: str  # "frame" or "stream"
    status: str
    atol: float
    rtol: float
    stats: Mapping[str, Any]


def statistics_rows(run: RunResult) -> list[StatRow]:
    rows: list[StatRow] = []
    for f in run.files:
        for name, pattern in PATTERNS.items():
            check = f.check(name)
            if check is None or not isinstance(check.figures.get("stats"), Mapping):
                continue
            atol, rtol = real(check.figures.get("atol")), real(check.figures.get("rtol"))
            rows.append(
                StatRow(
                    f.path,
                    f.model,
                    pattern,
                    check.status,
                    math.nan if atol is None else atol,
                    math.nan if rtol is None else rtol,
                    check.figures["stats"],
                )
            )
    return rows


def number(value: Any) -> str:
    """A figure in 3 significant digits; "—" for one that is missing or not a number."""
    found = real(value)
    return "—" if found is None else f"{found:.3g}"


def snr(stats: Mapping[str, Any]) -> str:
    db = real(stats.get("snr_db"))
    if db is not None:
        return f"{db:.1f} dB"
    return "∞ (identical)" if finite(stats.get("min_atol")) == 0.0 else "—"


def place(at: Any) -> str:
    """The worst element's place, ``[step, output]``; "—" for anything else than a list of numbers."""
    if not isinstance(at, list | tuple) or not at or any(real(i) is None for i in at):
        return "—"
    return f"step {at[0]}, output {at[1]}" if len(at) == 2 else str(list(at))


def statistics_markdown(run: RunResult) -> list[str]:
    """Markdown lines: a heading and one table row per file and call pattern ([] when there is no row)."""
    rows = statistics_rows(run)
    if not rows:
        return []
    out = [
        "",
        "**Error statistics** (engine vs PyTorch; abs = |actual - expected|, rel = abs / |expected|)",
        "",
        "| model | call | abs max | abs mean | abs median | abs p99 | rel max | rel p99 | worst at "
        "| min atol | min rtol | SNR |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row.stats
        a, r = mapping(s.get("abs")), mapping(s.get("rel"))
        name = markdown_text(row.model) if row.model else markdown_code(row.path)
        out.append(
            f"| {name} | {row.pattern} | {number(a.get('max'))} | "
            f"{number(a.get('mean'))} | {number(a.get('median'))} | {number(a.get('p99'))} | "
            f"{number(r.get('max'))} | {number(r.get('p99'))} | {place(s.get('worst_abs_at'))} | "
            f"{number(s.get('min_atol'))} | {number(s.get('min_rtol'))} | {snr(s)} |"
        )
    return out
