"""``verify modelt FILE [--type float|double] [--check TYPE | --check-source HEADER]``.

Without a check: prints the ``RTNeural::ModelT`` type that ``parseJson`` loads the file into completely
(exit 0), or why the file has none (exit 1). With ``--check`` or ``--check-source``: replays ``parseJson``
of the declared type over the file and names each silent mismatch at its JSON pointer (exit 1 when there is
one). Thin like ``verifier.cli``: parse, call :mod:`verifier.format.loaders.modelt`, format.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

from verifier.cli.arguments import EXIT_FAILED, EXIT_OK, Parser, UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="verify modelt",
        description="Print the RTNeural::ModelT type a keras-json file needs, or check a declared one "
        "against the file (parseJson fails silently on a mismatch).",
        epilog="Exit status: 0 type printed or no mismatch, 1 no ModelT type for the file or a mismatch, "
        "2 usage error (also: a declaration in --check-source that cannot be read, e.g. a constexpr "
        "argument, and no mismatch elsewhere).",
    )
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--type", choices=("float", "double"), default="float", help="numeric type T")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", metavar="TYPE", help="a ModelT<...> type (or using X = ModelT<...>;)")
    group.add_argument(
        "--check-source", metavar="HEADER", help="C++ source holding the ModelT<...> declaration"
    )
    return parser


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    from verifier.errors import ModelFormatError
    from verifier.format.loaders import modelt
    from verifier.format.reader.document import read_document

    args = build_parser().parse_args(list(argv))
    try:
        doc, name = read_document(args.file)
    except (ModelFormatError, OSError, RecursionError) as error:
        stdout.write(f"{args.file}: cannot read: {error}\n")
        return EXIT_FAILED
    if not isinstance(doc, dict):
        stdout.write(f"{name}: no ModelT type: the document is not a JSON object\n")
        return EXIT_FAILED
    if args.check is None and args.check_source is None:
        errors = modelt.file_errors(doc, args.type)
        emitted = modelt.Emitted(None, errors) if errors else modelt.model_type(doc, args.type)
        prefix = "" if emitted.model else f"{name}:"
        stdout.write("\n".join(f"{prefix}{line}" for line in modelt.emitted_lines(emitted)) + "\n")
        return EXIT_OK if emitted.model else EXIT_FAILED
    declared = _declared(args)
    status, checked = EXIT_OK, 0
    for problem in modelt.file_errors(doc, args.type):  # whatever the type, parseJson throws or misreads
        stdout.write(f"{name}:{problem.pointer or '/'}: {problem.case}: {problem.message}\n")
        status = EXIT_FAILED
    for where, text in declared:
        try:
            model_type = modelt.parse_type(text)
        except modelt.ModelTError as error:
            if args.check is not None:
                raise UsageError(f"{where}: {error}") from None
            stdout.write(f"{where}: cannot check this declaration: {error}\n")
            continue
        checked += 1
        problems = modelt.check_type(doc, model_type)
        for problem in problems:
            stdout.write(f"{name}:{problem.pointer or '/'}: {problem.case}: {problem.message} [{where}]\n")
        if not problems:
            stdout.write(f"{name}: the type at {where} loads every layer of the file\n")
        status = EXIT_FAILED if problems else status
    if checked < len(declared) and status == EXIT_OK:
        # an unread declaration may be the one the plugin uses: never a pass
        raise UsageError(
            f"--check-source {args.check_source}: {len(declared) - checked} declaration(s) not checked"
        )
    return status


def _declared(args: argparse.Namespace) -> list[tuple[str, str]]:
    from verifier.errors import ModelFormatError
    from verifier.format.loaders import modelt

    if args.check is not None:
        return [("--check", args.check)]
    try:
        source = modelt.read_source(args.check_source)
    except (ModelFormatError, OSError) as error:
        raise UsageError(f"--check-source {args.check_source}: {error}") from None
    found = modelt.declarations_in_source(source)
    if not found:
        raise UsageError(f"--check-source {args.check_source}: no ModelT<...> declaration found")
    return [(f"{args.check_source}:{d.line}", d.text) for d in found]
