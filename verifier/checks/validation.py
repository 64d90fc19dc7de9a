"""The ``validate`` check: schema and structural findings of one file, each located at its line and column.

Shared by ``verify`` (the first check of every file) and ``verify validate`` (the pre-commit hook, which runs
nothing else): neither imports torch nor the engine to get here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verifier.checks.results import FAIL, PASS, WARN, Check
from verifier.format.findings import Finding
from verifier.format.reader.positions import Position, locate_in_file, position_from_message
from verifier.format.rules import rule


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


#: the references a numeric check compares with that are independent of the file (the JSON's own rebuild
#: reads the kernel in the file's orientation, so it cannot confirm it)
INDEPENDENT_REFERENCES = ("module", "checkpoint")


def validate_check(path: str, document: Any = None, dtype: str = "float32") -> Check:
    """``validate`` as a check: fail on an error finding, warn on a warning, pass otherwise. ``document`` is
    the file's :class:`~verifier.format.reader.document.Document` when the caller has read it already;
    ``dtype`` the
    engine the model is checked for (float32, what a plugin runs, holds a narrower range of numbers)."""
    from verifier.format.validate import validate

    # A path, never JSON text (a file may be named {model}.json).
    findings = validate(Path(path) if document is None else document, dtype=dtype)
    return _check(located_findings(path, findings))


def _check(findings: list[dict[str, Any]]) -> Check:
    """The validate check of these located findings (errors first, then warnings, then information)."""
    errors = [f for f in findings if f["severity"] == "error"]
    warnings = [f for f in findings if f["severity"] == "warning"]
    figures = {"errors": len(errors), "warnings": len(warnings), "findings": findings}
    ranked = errors or warnings or findings
    if not ranked:
        return Check("validate", PASS, "no findings", figures)
    first = ranked[0]
    lead = f"{first['rule']} {first['pointer'] or '/'}: {first['message']}"
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    status = FAIL if errors else WARN if warnings else PASS
    return Check("validate", status, f"{lead}{more}", figures)


def orientation_confirmed(check: Check, reference: Mapping[str, Any]) -> Check:
    """``check`` (the validate check) once a numeric comparison per frame with ``reference`` has passed.

    A square dense kernel (RTN-W003) loads in either orientation, so validation alone can only warn; a
    comparison with the torch module itself (``reference`` of kind module or checkpoint) that passes has
    shown the orientation right, and each such warning becomes RTN-I002 naming that reference. Against the
    JSON's own rebuild nothing is confirmed and the check is returned as it is.
    """
    findings: list[dict[str, Any]] = check.figures.get("findings", [])
    if reference.get("kind") not in INDEPENDENT_REFERENCES or not any(
        f["rule"] == "RTN-W003" for f in findings
    ):
        return check
    name = (
        f"module {reference['factory']}"
        if reference["kind"] == "module"
        else f"checkpoint {reference['path']}"
    )
    confirmed = [_confirmed(f, name) if f["rule"] == "RTN-W003" else f for f in findings]
    return _check(sorted(confirmed, key=lambda f: _SEVERITY_ORDER[f["severity"]]))


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _confirmed(warning: dict[str, Any], reference: str) -> dict[str, Any]:
    entry = rule("RTN-I002")
    what = warning["message"].split(":")[0]  # "square 3x3 dense kernel"
    return {
        **warning,
        "rule": entry.id,
        "severity": entry.severity,
        "rtneural": entry.rtneural,
        "message": f"{what}: its [in][out] orientation is confirmed by the numeric comparison with "
        f"{reference} (numeric-frame passed)",
        "expected": None,
        "found": None,
    }
