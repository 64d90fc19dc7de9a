"""``verify render REPORT.json --format F [-o FILE]``: another format of a finished run, without rerunning it.

CI runs the checks once (``--format json``) and renders the annotations, the SARIF log, the HTML page and
the Markdown summary from that one report. Exit status: 0 the report passed, 1 it failed, 2 a usage error
(unreadable or invalid report) -- the same meaning as ``verify``'s.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TextIO


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    from verifier.report.formats import FORMATS

    parser = parser_class(
        prog="verify render",
        description="Write a JSON report of verify (--format json) in another format.",
        epilog="Exit status: 0 the report passed, 1 it failed, 2 usage error.",
    )
    parser.add_argument("report", metavar="REPORT.json", help="a report written by verify --format json")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", "-o", metavar="FILE", help="write it here instead of stdout")
    return parser


def run(argv: Sequence[str], stdout: TextIO, parser_class: type[argparse.ArgumentParser]) -> int:
    from verifier.cli.arguments import EXIT_FAILED, EXIT_OK
    from verifier.cli.files import append_step_summary, emit, read_report
    from verifier.report.formats import format_report

    args = build_parser(parser_class).parse_args(argv)
    result = read_report(args.report, "report")
    if args.format == "html":
        from verifier.report.html import require_matplotlib

        require_matplotlib()
    text = format_report(result, args.format)
    emit(text, args.output, stdout, inputs=[args.report])
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.format == "github" and summary:
        append_step_summary(summary, format_report(result, "markdown"), inputs=[args.report])
    return EXIT_FAILED if result.failed else EXIT_OK
