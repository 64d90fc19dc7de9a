"""Reports of a run: text for a terminal, JSON for machines and baselines, Markdown for a pull request, JUnit
XML for CI. Every function here only formats a ``RunResult``; none measures, judges or prints. Every string
of the run is written through :mod:`verifier.report.escape` and the format's own escaping: a name or a
summary shows as what it is and never changes the report's structure.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import import_module
from typing import Any

from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check, FileResult, RunResult
from verifier.report.escape import markdown_code, markdown_text, visible
from verifier.report.figures import mapping
from verifier.report.locations import Located, check_locations
from verifier.report.stats import statistics_markdown
from verifier.report.strict import strict

FORMATS = ("text", "json", "markdown", "junit", "github", "sarif", "html")
# Formatters in their own modules, imported on use (the HTML report needs matplotlib).
_MODULE_FORMATS = {
    "github": ("verifier.report.github", "format_github"),
    "sarif": ("verifier.report.sarif", "format_sarif"),
    "html": ("verifier.report.html", "format_html"),
}

_TEXT_LABEL = {PASS: "ok  ", FAIL: "FAIL", WARN: "warn", SKIP: "skip"}
_MD_LABEL = {PASS: "✅ pass", FAIL: "❌ **fail**", WARN: "⚠️ warn", SKIP: "⏭️ skip"}


def counts_line(run: RunResult) -> str:
    counts = run.counts()
    files_failed = sum(f.failed for f in run.files)
    verdict = "FAILED" if run.failed else "passed"
    return (
        f"{verdict}: {len(run.files)} file(s), {files_failed} failing; checks: {counts[PASS]} passed, "
        f"{counts[FAIL]} failed, {counts[WARN]} warnings, {counts[SKIP]} skipped"
    )


def _figures_text(check: Check) -> str:
    # ensure_ascii: every control character, surrogate or non-ASCII character as a JSON escape
    return json.dumps(dict(check.figures), sort_keys=True, default=str)


def format_text(run: RunResult, *, verbosity: int = 0) -> str:
    """Plain lines: every check (``verbosity`` 0), failures only (-1), or with their figures (1)."""
    lines: list[str] = []
    groups: list[tuple[str, str | None, tuple[Check, ...], bool, str | None, str]] = [
        (_file_title(f), f.path, f.checks, f.failed, mapping(f.reference).get("summary"), cached_note(f))
        for f in run.files
    ]
    if run.suite:
        groups.append(("all models together", None, run.suite, any(c.failed for c in run.suite), None, ""))
    for title, path, checks, failed, reference, cached in groups:
        shown = [c for c in checks if verbosity >= 0 or c.status in (FAIL, WARN)]
        if verbosity < 0 and not shown:
            continue
        lines.append(f"{visible(title)}: {'FAIL' if failed else 'ok'}{cached}")
        if reference and verbosity >= 0:
            lines.append(f"  reference: {visible(reference)}")
        width = max((len(visible(c.name)) for c in shown), default=0)
        for check in shown:
            located = []
            if path is not None:
                located = [loc for loc in check_locations(path, check) if loc.line is not None]
            # A check whose problems are printed below with their place names them only by rule and
            # pointer here: each message is shown once.
            summary = _in_short(located) if located else check.summary
            lines.append(f"  {_TEXT_LABEL[check.status]} {visible(check.name):<{width}}  {visible(summary)}")
            if verbosity > 0 and check.figures:
                lines.append(f"       {' ' * width}  {_figures_text(check)}")
            # Unindented, so editors and CI logs turn path:line:col into a link.
            lines += [loc.compiler_form() for loc in located]
    lines.append(counts_line(run))
    return "\n".join(lines) + "\n"


def _in_short(located: list[Located], shown: int = 3) -> str:
    names = [f"{loc.rule} {loc.pointer}" if loc.pointer else loc.rule for loc in located[:shown]]
    more = f" and {len(located) - shown} more" if len(located) > shown else ""
    return ", ".join(names) + more + " (below)"


def cached_note(result: FileResult) -> str:
    """Beside a file served from the result cache: that it was not checked again, and whose figures it
    shows."""
    if result.cached is None:
        return ""
    when = str(result.cached.get("measured_at", "?")).replace("T", " ").replace("Z", " UTC")
    return f" (cached: unchanged since the run of {when}, whose latency and memory figures these are)"


def _file_title(result: FileResult) -> str:
    return f"{result.path} ({result.model})" if result.model else result.path


def format_json(run: RunResult) -> str:
    """The report as JSON (valid against ``schemas/report.schema.json``); what ``--baseline`` reads back."""
    # NaN/inf figures (a model that overflows) become null + their name: a failure's report is never lost.
    data = strict(run.to_dict())
    return json.dumps(data, indent=2, sort_keys=False, allow_nan=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def format_markdown(run: RunResult) -> str:
    """A pull-request comment: the verdict, one row per file, then every check of the failing files."""
    counts = run.counts()
    head = (
        "❌ **rtneural-verifier: checks failed**"
        if run.failed
        else "✅ **rtneural-verifier: all checks passed**"
    )
    out = [
        f"### {head}",
        "",
        f"{len(run.files)} file(s); {counts[PASS]} checks passed, {counts[FAIL]} failed, "
        f"{counts[WARN]} warnings, {counts[SKIP]} skipped.",
        "",
    ]
    loosened = [
        (f.path, item)
        for f in run.files
        if (check := f.check("baseline")) is not None and isinstance(check.figures, dict)
        for item in (check.figures.get("loosened") or [])
        if isinstance(item, str)
    ]
    if loosened:  # first: a gate made easier to pass is what a reviewer must see before any figure
        out += ["**⚠️ The gate was loosened since the baseline:**", ""]
        out += [f"* {markdown_code(path)}: {markdown_text(item)}" for path, item in loosened]
        out += [""]
    out += [
        "| file | model | result | failing checks |",
        "|---|---|---|---|",
    ]
    for f in run.files:
        failing = ", ".join(markdown_code(c.name) for c in f.checks if c.failed) or "—"
        out.append(
            f"| {markdown_code(f.path)} | {markdown_text(f.model) if f.model else '—'} "
            f"| {_MD_LABEL[FAIL if f.failed else PASS]}{' (cached)' if f.cached is not None else ''} "
            f"| {failing} |"
        )
    if any(f.cached is not None for f in run.files):
        out += [
            "",
            "<sub>(cached): unchanged since an earlier run, not checked again; its figures, latency and "
            "memory included, are that run's.</sub>",
        ]
    if run.suite:
        out += ["", "**All models together**", "", "| check | result | details |", "|---|---|---|"]
        out += [_md_check_row(c) for c in run.suite]
    for f in run.files:
        out += [
            "",
            "<details" + (" open" if f.failed else "") + f"><summary><code>{_html(f.path)}</code></summary>",
            "",
            "| check | result | details |",
            "|---|---|---|",
        ]
        out += [_md_check_row(c) for c in f.checks]
        out += ["", "</details>"]
    out += statistics_markdown(run)
    machine = run.machine
    tool = run.tool
    footer = (
        f"{tool.get('name', 'rtneural-verifier')} {tool.get('version', '')} · "
        f"backend {tool.get('backend', '?')} · {machine.get('cpu', '?')}, "
        f"{machine.get('cores_logical', '?')} cores · Python {machine.get('python', '?')} · "
        f"dtype {run.settings.get('dtype', '?')}"
    )
    out += ["", f"<sub>{markdown_text(footer)}</sub>"]
    return "\n".join(out) + "\n"


def _md_check_row(check: Check) -> str:
    return f"| {markdown_code(check.name)} | {_MD_LABEL[check.status]} | {markdown_text(check.summary)} |"


def _html(text: str) -> str:
    """For a line of raw HTML in the Markdown (GitHub reads no Markdown inside it)."""
    return html.escape(visible(text), quote=True)


def _testcase(parent: ET.Element, classname: str, check: Check) -> None:
    # ElementTree escapes markup but writes any character as it is: visible() keeps the document XML 1.0.
    name, summary = visible(check.name), visible(check.summary)
    case = ET.SubElement(parent, "testcase", classname=classname, name=name, time="0")
    if check.status == FAIL:
        failure = ET.SubElement(case, "failure", message=summary, type=name)
        failure.text = _figures_text(check)
    elif check.status == SKIP:
        ET.SubElement(case, "skipped", message=summary)
    else:
        out = ET.SubElement(case, "system-out")
        out.text = ("warning: " if check.status == WARN else "") + summary + "\n" + _figures_text(check)


def _suite(parent: ET.Element, name: str, checks: tuple[Check, ...]) -> None:
    name = visible(name)
    suite = ET.SubElement(
        parent,
        "testsuite",
        name=name,
        tests=str(len(checks)),
        failures=str(sum(c.status == FAIL for c in checks)),
        errors="0",
        skipped=str(sum(c.status == SKIP for c in checks)),
    )
    classname = "verify." + name.replace("/", ".").replace("\\", ".")
    for check in checks:
        _testcase(suite, classname, check)


def format_junit(run: RunResult) -> str:
    """JUnit XML: one ``testsuite`` per file, one ``testcase`` per check (a failure carries the figures)."""
    checks = run.all_checks()
    root = ET.Element(
        "testsuites",
        name="rtneural-verifier",
        tests=str(len(checks)),
        failures=str(sum(c.status == FAIL for c in checks)),
        errors="0",
        skipped=str(sum(c.status == SKIP for c in checks)),
    )
    for f in run.files:
        _suite(root, f.path, f.checks)
    if run.suite:
        _suite(root, "all-models", run.suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


FORMATTERS: dict[str, Callable[[RunResult], str]] = {
    "text": format_text,
    "json": format_json,
    "markdown": format_markdown,
    "junit": format_junit,
}


def format_report(run: RunResult, fmt: str, *, verbosity: int = 0) -> str:
    if fmt == "text":
        return format_text(run, verbosity=verbosity)
    if fmt in _MODULE_FORMATS:
        module, name = _MODULE_FORMATS[fmt]
        formatter: Callable[[RunResult], str] = getattr(import_module(module), name)
        return formatter(run)
    try:
        return FORMATTERS[fmt](run)
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}") from None
