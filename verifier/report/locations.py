"""The problems of a run as located messages: file, line, column, rule, level, text.

Text (``path:line:col: error: RTN-E203 message``), GitHub annotations and SARIF results all show the same
list, so it is built once here. A validation finding is located at its JSON pointer; a failing numeric check
whose diagnosis named the first diverging layer (``figures.diverging_layer.pointer``) at that layer, looked
up in the model file when the report is written (so a file changed since the run is placed as it is now,
and a file that is gone, unreadable or no longer has the layer leaves the failure at the file); any other
failing or warning check (a budget) is located at the file. A check's rule is ``verify/<check>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.checks.results import FAIL, WARN, Check, RunResult
from verifier.report.escape import visible
from verifier.report.figures import mapping, place_number

#: Prefix of the rule id of a check (``verify/numeric-stream``), beside the format rules ``RTN-…``.
CHECK_RULE_PREFIX = "verify/"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
#: The checks comparing outputs, whose failure the diagnosis may put down to one layer of the file.
NUMERIC_CHECKS = ("numeric-frame", "numeric-stream")


@dataclass(frozen=True)
class Located:
    path: str
    line: int | None
    column: int | None
    rule: str
    level: str  # "error", "warning" or "note" (SARIF's names; GitHub shows notes as notices)
    message: str
    pointer: str | None = None

    def compiler_form(self) -> str:
        """``path:line:col: error: RULE message``: the compiler convention, which editors (VS Code's
        ``$gcc``), CI logs and the action's problem matcher turn into links and annotations."""
        path = visible(self.path)
        place = path if self.line is None else f"{path}:{self.line}:{self.column or 1}"
        return f"{place}: {self.level}: {visible(self.rule)} {visible(self.message)}"


def check_locations(path: str, check: Check) -> list[Located]:
    """The located messages of one check (none for a passing or skipped check without findings)."""
    figures = mapping(check.figures)
    findings = figures.get("findings")
    if check.name == "validate" and isinstance(findings, list) and findings:
        return [_finding(path, f) for f in findings if isinstance(f, Mapping)]
    if check.status not in (FAIL, WARN):
        return []
    level = "error" if check.status == FAIL else "warning"
    rule = CHECK_RULE_PREFIX + check.name
    if check.name == "load" and place_number(figures.get("line")):
        found = figures.get("rule")
        pointer = figures.get("pointer")
        return [
            Located(
                path,
                place_number(figures.get("line")),
                place_number(figures.get("column")),
                found if isinstance(found, str) and found else rule,
                level,
                check.summary,
                pointer if isinstance(pointer, str) else None,
            )
        ]
    if check.name in NUMERIC_CHECKS and check.status == FAIL:
        pointer = mapping(figures.get("diverging_layer")).get("pointer")
        if isinstance(pointer, str) and pointer.startswith("/"):
            line, column = _layer_place(path, pointer)
            return [Located(path, line, column, rule, level, check.summary, pointer)]
    return [Located(path, None, None, rule, level, check.summary)]


def _finding(path: str, finding: Mapping[str, Any]) -> Located:
    pointer = finding.get("pointer")
    pointer = pointer if isinstance(pointer, str) else None
    rule = finding.get("rule")
    return Located(
        path,
        place_number(finding.get("line")),
        place_number(finding.get("column")),
        rule if isinstance(rule, str) and rule else "RTN-?",
        _LEVEL.get(str(finding.get("severity")), "note"),
        f"{pointer or '/'}: {finding.get('message')}" + _expected_found(finding),
        pointer,
    )


def _layer_place(path: str, pointer: str) -> tuple[int | None, int | None]:
    """Line and column of ``pointer`` in the model file ``path`` as it is now; (None, None) when the file
    cannot be read as a model file is (regular, within Limits.max_file_bytes) or the pointer is not in it."""
    from verifier.errors import ModelFormatError
    from verifier.format.findings import Limits
    from verifier.format.reader.document import read_regular_file
    from verifier.format.reader.positions import locate

    try:
        data = read_regular_file(path, Limits().max_file_bytes)
    except ModelFormatError:
        return None, None
    place = locate(data, [pointer])[pointer]
    # locate puts what it cannot follow at 1:1, where no layer of a model file starts.
    if (place.line, place.column) == (1, 1):
        return None, None
    return place.line, place.column


def _expected_found(finding: Mapping[str, Any]) -> str:
    if finding.get("expected") is None and finding.get("found") is None:
        return ""
    return f" (expected {finding.get('expected')}, found {finding.get('found')})"


def run_locations(run: RunResult, manifest_path: str | None = None) -> list[Located]:
    """Every located message of the run, file by file; the run-wide checks at the manifest (if known)."""
    out = [loc for f in run.files for c in f.checks for loc in check_locations(f.path, c)]
    where = manifest_path or str(run.settings.get("manifest") or "")
    for check in run.suite:
        out += check_locations(where, check)
    return out
