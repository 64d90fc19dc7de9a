"""The ``validate`` check: schema and structural findings of one file, each located at its line and column.

Shared by ``verify`` (the first check of every file) and ``verify validate`` (the pre-commit hook, which runs
nothing else): neither imports torch nor the engine to get here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.checks.results import FAIL, PASS, WARN, Check
from verifier.format.findings import Finding
from verifier.format.positions import Position, locate_in_file, position_from_message


def located_findings(path: str, findings: list[Finding]) -> list[dict[str, Any]]:
    """Each finding as the report carries it: rule, severity, pointer, message, line and column."""
    pointed = [f.pointer for f in findings if f.pointer]
    places = locate_in_file(path, pointed) if pointed else {}
    out: list[dict[str, Any]] = []
    for f in findings:
        place = places.get(f.pointer) or position_from_message(f.message) or Position(1, 1)
        out.append(
            {
                "rule": f.rule,
                "severity": f.severity,
                "pointer": f.pointer,
                "message": f.message,
                "rtneural": f.rtneural,
                "expected": f.expected,
                "found": f.found,
                "line": place.line,
                "column": place.column,
            }
        )
    return out


def validate_check(path: str, document: Any = None, dtype: str = "float32") -> Check:
    """``validate`` as a check: fail on an error finding, warn on a warning, pass otherwise. ``document`` is
    the file's :class:`~verifier.format.document.Document` when the caller has read it already; ``dtype`` the
    engine the model is checked for (float32, what a plugin runs, holds a narrower range of numbers)."""
    from verifier.format.validate import validate

    # A path, never JSON text (a file may be named {model}.json).
    findings = validate(Path(path) if document is None else document, dtype=dtype)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    figures = {
        "errors": len(errors),
        "warnings": len(warnings),
        "findings": located_findings(path, findings),
    }
    ranked = errors or warnings or findings
    if not ranked:
        return Check("validate", PASS, "no findings", figures)
    first = ranked[0]
    lead = f"{first.rule} {first.pointer or '/'}: {first.message}"
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    status = FAIL if errors else WARN if warnings else PASS
    return Check("validate", status, f"{lead}{more}", figures)
