"""The problems of a run as located messages: file, line, column, rule, level, text.

Text (``path:line:col: error: RTN-E203 message``), GitHub annotations and SARIF results all show the same
list, so it is built once here. A validation finding is located at its JSON pointer; a failing or warning
check without a place in the file (numeric agreement, a budget) is located at the file, rule
``verify/<check>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.checks.results import FAIL, WARN, Check, RunResult

#: Prefix of the rule id of a check (``verify/numeric-stream``), beside the format rules ``RTN-…``.
CHECK_RULE_PREFIX = "verify/"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


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
        place = self.path if self.line is None else f"{self.path}:{self.line}:{self.column or 1}"
        return f"{place}: {self.level}: {self.rule} {self.message}"


def check_locations(path: str, check: Check) -> list[Located]:
    """The located messages of one check (none for a passing or skipped check without findings)."""
    figures = check.figures
    if check.name == "validate" and figures.get("findings"):
        return [
            Located(
                path,
                f.get("line"),
                f.get("column"),
                f["rule"],
                _LEVEL.get(f["severity"], "note"),
                f"{f.get('pointer') or '/'}: {f['message']}" + _expected_found(f),
                f.get("pointer"),
            )
            for f in figures["findings"]
        ]
    if check.status not in (FAIL, WARN):
        return []
    level = "error" if check.status == FAIL else "warning"
    if check.name == "load" and figures.get("line"):
        return [
            Located(
                path,
                figures["line"],
                figures.get("column"),
                figures.get("rule") or CHECK_RULE_PREFIX + "load",
                level,
                check.summary,
                figures.get("pointer"),
            )
        ]
    return [Located(path, None, None, CHECK_RULE_PREFIX + check.name, level, check.summary)]


def _expected_found(finding: dict) -> str:
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
