"""``--format sarif``: SARIF 2.1.0, the static-analysis format GitHub code scanning shows on a pull request.

The driver's ``rules`` are the whole catalogue of :mod:`verifier.format.rules` (``RTN-…``, with severity as
the default level and what RTNeural does with such a file) followed by the checks of ``verify``
(``verify/numeric-stream``...); every located problem is a ``result`` with its ``ruleId``/``ruleIndex``,
``level`` and a ``physicalLocation`` (file, line and column; a file-level problem is put on line 1, since
code scanning needs a line to show it).
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from verifier.checks.catalogue import CHECKS
from verifier.checks.results import RunResult
from verifier.format.rules import RULES
from verifier.report.escape import visible
from verifier.report.locations import CHECK_RULE_PREFIX, Located, run_locations

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_DEFAULT_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rules() -> list[dict[str, Any]]:
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.doc},
            "fullDescription": {"text": f"{rule.doc} RTNeural: {rule.rtneural}."},
            "defaultConfiguration": {"level": _DEFAULT_LEVEL[rule.severity]},
            "properties": {"rtneural": rule.rtneural, "tags": ["rtneural", rule.severity]},
        }
        for rule in RULES.values()
    ]
    rules += [
        {
            "id": CHECK_RULE_PREFIX + name,
            "name": name,
            "shortDescription": {"text": doc},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["rtneural", "check"]},
        }
        for name, doc in CHECKS.items()
    ]
    return rules


def _uri(path: str) -> dict[str, Any]:
    """A URI reference (RFC 3986): a space, ``%``, ``#`` or ``?`` of a file name is percent-encoded."""
    pure = PurePath(visible(path))
    text = quote(pure.as_posix(), safe="/")
    if pure.is_absolute():
        return {"uri": "file://" + text}
    return {"uri": text, "uriBaseId": "%SRCROOT%"}


def _result(loc: Located, index: dict[str, int]) -> dict[str, Any]:
    # Strings as visible() writes them: a lone surrogate has no UTF-8 form (the log could not be written).
    result: dict[str, Any] = {
        "ruleId": visible(loc.rule),
        "level": loc.level,
        "message": {"text": visible(loc.message)},
    }
    if loc.rule in index:
        result["ruleIndex"] = index[loc.rule]
    if loc.path:
        region = {"startLine": loc.line or 1, "startColumn": loc.column or 1}
        location: dict[str, Any] = {
            "physicalLocation": {"artifactLocation": _uri(loc.path), "region": region}
        }
        if loc.pointer:
            location["logicalLocations"] = [{"fullyQualifiedName": visible(loc.pointer), "kind": "member"}]
        result["locations"] = [location]
    return result


def sarif_log(run: RunResult) -> dict[str, Any]:
    """The SARIF log of ``run`` as a JSON-ready dict."""
    rules = _rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": visible(run.tool.get("name", "rtneural-verifier")),
                        "version": visible(run.tool.get("version", "0")),
                        "rules": rules,
                    }
                },
                "results": [_result(loc, index) for loc in run_locations(run)],
                "invocations": [{"executionSuccessful": True}],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def format_sarif(run: RunResult) -> str:
    return json.dumps(sarif_log(run), indent=2, ensure_ascii=False) + "\n"
