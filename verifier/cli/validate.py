"""``verify validate [--format F] FILE...``: schema and structural rules only, for pre-commit and editors.

Nothing but :mod:`verifier.format` runs (no torch, no engine), so it starts in a fraction of a second and
can run on every commit. Exit status: 0 no error finding (warnings are shown, not fatal), 1 an error
finding, 2 a usage error -- the same meaning as ``verify``'s.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

FORMATS = ("text", "github", "sarif", "json", "markdown", "junit")


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="verify validate",
        description="Validate RTNeural keras-json files against the schema and the structural rules only "
        "(no torch, no engine). Every finding is printed as path:line:col: error: RULE message.",
        epilog="Exit status: 0 no error finding, 1 an error finding, 2 usage error.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="model files (globs are expanded here too)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="engine the model is for (default float32, what RTNeural in a plugin runs): every number must "
        "be one it holds",
    )
    return parser


def run(argv: Sequence[str], stdout: TextIO, parser_class: type[argparse.ArgumentParser]) -> int:
    from verifier import __version__
    from verifier.checks.results import FileResult, RunResult
    from verifier.checks.validation import validate_check
    from verifier.cli.arguments import EXIT_FAILED, EXIT_OK
    from verifier.cli.files import emit, expand_files
    from verifier.report.formats import format_report

    args = build_parser(parser_class).parse_args(argv)
    files = expand_files(args.files)
    result = RunResult(
        tuple(FileResult(path, (validate_check(path, dtype=args.dtype),)) for path in files),
        tool={"name": "rtneural-verifier", "version": __version__, "backend": "none (validate only)"},
        machine={
            "cpu": "",
            "cores_logical": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": "",
        },
        settings={"dtype": args.dtype, "steps": 1, "seed": 0, "validate_only": True},
    )
    text = format_report(result, args.format)
    emit(text, args.output, stdout, inputs=files)
    return EXIT_FAILED if result.failed else EXIT_OK
