"""The files a ``verify`` subcommand reads and writes: model files named on the command line (globs expanded,
regular files only), a stored JSON report, the report written to ``--output`` or stdout, GitHub's step
summary.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Sequence
from typing import TextIO

from verifier.checks.results import RunResult
from verifier.cli.arguments import UsageError


class OutputError(Exception):
    """The report could not be written to stdout (a full device, a closed pipe)."""


def expand_files(patterns: Sequence[str]) -> list[str]:
    """Every pattern as a glob (quoted globs and Windows shells do not expand them); an existing file is
    taken literally first (``model[1].json``), and every name stays a path (never JSON text)."""
    found: list[str] = []
    for pattern in patterns:
        if os.path.isfile(pattern):
            found.append(pattern)
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise UsageError(f"no file matches {pattern!r}")
            found += [m for m in matches if os.path.isfile(m)]
        elif os.path.isdir(pattern):
            raise UsageError(
                f"{pattern} is a directory; give the files (e.g. {os.path.join(pattern, '*.json')})"
            )
        elif os.path.exists(pattern):  # a FIFO, socket or device: reading it could block or never end
            raise UsageError(f"{pattern} is not a regular file ({file_kind(pattern)}); give model files")
        else:
            raise UsageError(f"{pattern}: no such file")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise UsageError("no model file matched")
    return unique


def file_kind(path: str) -> str:
    mode = os.stat(path).st_mode
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"))
    return next((name for test, name in kinds if test(mode)), "a device")


def read_report(path: str, what: str = "--baseline") -> RunResult:
    from verifier.format.reader.guarded import MAX_REPORT_BYTES, InputError, read_json
    from verifier.format.schema.validator import predicate

    try:
        data = read_json(path, MAX_REPORT_BYTES)
    except InputError as exc:
        raise UsageError(f"{what} {exc}") from None
    conforms = predicate("report")
    if conforms is None or not conforms(data):
        from jsonschema.exceptions import best_match

        from verifier.format.schema.validator import error_message, validator
        from verifier.quoting import shown_pointer

        error = best_match(validator("report").iter_errors(data))
        if error is not None:
            where = shown_pointer("/" + "/".join(str(p) for p in error.absolute_path))
            raise UsageError(f"{what} {path}: {where}: not a verify JSON report: {error_message(error)}")
    return RunResult.from_dict(data)


def append_step_summary(path: str, markdown: str, inputs: Sequence[str] = ()) -> None:
    """GitHub shows this file on the run's summary page; other steps write to it too, so append."""
    from verifier.format.reader.guarded import InputError, append_file

    try:
        append_file(path, markdown, inputs=inputs, what="$GITHUB_STEP_SUMMARY")
    except InputError as exc:
        raise UsageError(str(exc)) from None


def check_output(output: str | None, inputs: Sequence[str], what: str = "--output") -> None:
    """Refuse before the run what :func:`emit` (or :func:`append_step_summary`) would refuse after it
    (minutes of checks thrown away)."""
    from verifier.format.reader.guarded import InputError, check_target

    if output:
        try:
            check_target(output, inputs, what)
        except InputError as exc:
            raise UsageError(str(exc)) from None


def emit(text: str | Iterable[str], output: str | None, stdout: TextIO, inputs: Sequence[str] = ()) -> None:
    """The report (whole, or in pieces written as they come) to the file ``output``, else to ``stdout``; a
    failed write is one line, not a traceback. ``output`` is never one of ``inputs`` (the files the run
    read), never a FIFO or a device."""
    from verifier.format.reader.guarded import InputError, write_file

    if output:
        try:
            write_file(output, text, inputs=inputs, what="--output")
        except InputError as exc:
            raise UsageError(str(exc)) from None
    else:
        write_text(stdout, text)


def write_text(stream: TextIO, text: str | Iterable[str]) -> None:
    try:
        for piece in [text] if isinstance(text, str) else text:
            stream.write(piece)
        stream.flush()
    except OSError as exc:
        raise OutputError(f"cannot write the report to stdout: {exc.strerror or exc}") from None
