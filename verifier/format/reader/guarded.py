"""The reader of every file the toolkit reads besides a model file (a manifest, ``pyproject.toml``, a stored
JSON report, a repro folder's ``check.json`` and CSVs, a golden bundle's index and CSVs), and the writer of
every file it writes.

A model file has always been read on hostile terms (:mod:`verifier.format.reader.document`); these files are
no more trustworthy (a manifest comes from a pull request, a report from another job's artifact, a repro
folder from a bug report), so they take the same road: regular files only, opened without blocking and
checked on the open descriptor (a FIFO, ``/dev/zero`` or a directory is refused unread), at most a cap of
bytes read whatever the file's size claims (``/proc`` files say 0), JSON parsed by the same native reader
(bounded depth, finite numbers, no integer beyond a double, Unicode strings, no conflicting duplicate key),
and CSVs whose rows and columns are counted before anything is allocated for them. Every refusal is an
:class:`InputError` naming the file, the place (a JSON pointer or a line) and the rule broken.

:func:`write_file` never writes over a file the run reads (the same file by any path: ``../``, a symlink, a
hard link), nor into a FIFO, a device or a directory, and never leaves half a file: the text goes to a new
file in the same folder, renamed over the target once complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterable
from typing import Any

import numpy as np

from verifier.errors import ModelFormatError, VerifierError
from verifier.format.findings import Limits
from verifier.quoting import MAX_FIELD, shown, shown_pointer

__all__ = [
    "MAX_REPORT_BYTES",
    "MAX_REPRO_META_BYTES",
    "MAX_SETTINGS_BYTES",
    "MAX_TABLE_BYTES",
    "InputError",
    "append_file",
    "check_target",
    "read_bytes",
    "read_csv",
    "read_json",
    "read_text",
    "same_file",
    "write_file",
]

#: a manifest, pyproject.toml, a golden index: hand-written settings (the largest manifest of
#: the repository is under 10 kB; 4 MiB holds thousands of model entries)
MAX_SETTINGS_BYTES = 4 << 20
#: a repro folder's check.json (verifier.checks.diagnose.repro writes it): a dozen keys whose strings are
#: check and rule names of at most 200 characters, the origin path (at most PATH_MAX, 4,096 bytes; a byte
#: in no encoding is 7 bytes as an escaped escape) and the diverging layer's 7 texts, which the writer cuts
#: to ~MAX_FIELD characters each, at most 12 bytes a character written ASCII-only (a surrogate pair as two
#: escapes): 2 x 200 x 12 + 4,096 x 7 + 7 x 2,040 x 12 is 205 kB. A cap of 4 MiB let 3 MB of numbers peak at
#: 75 MB while read; this one bounds that to ~7 MB.
MAX_REPRO_META_BYTES = 256 << 10
#: a stored JSON report: 13 kB per model file checked, so 32 MiB holds 2,500 of them; a file of numbers at
#: the cap peaks at 480 MB while it is read (numbers-31MB of tools/hostile_inputs.py)
MAX_REPORT_BYTES = 32 << 20
#: a CSV of inputs or outputs: at most 8 Mi values (64 MiB of float64) however they are written
MAX_TABLE_BYTES = 16 << 20
#: JSON nesting of these files (a report nests 7 levels, a manifest 5)
MAX_DATA_DEPTH = 32


class InputError(VerifierError, ValueError):
    """A file that cannot be used as the kind of input it was given as; ``source`` the file, ``pointer`` a
    JSON pointer (or ``line N``), ``rule`` the reader's rule id when one applies."""

    def __init__(self, source: str, pointer: str, message: str, *, rule: str | None = None) -> None:
        self.source = source
        self.pointer = shown_pointer(pointer)
        self.message = shown(message, MAX_FIELD)
        self.rule = rule
        super().__init__(f"{source}: {self.pointer or '/'}: {self.message}")


# The native reader speaks of model files; the rule is the same for any JSON file, only the words differ.
_MODEL_WORDING = re.compile(r" \(RTNeural's parser (?:refuses|rejects) it\)|a keras-json model ")


def _input_error(error: ModelFormatError, source: str) -> InputError:
    message = _MODEL_WORDING.sub(lambda m: "it " if m.group().startswith("a keras") else "", error.message)
    if error.expected is not None or error.found is not None:
        message += f" (expected {error.expected}, found {error.found})"
    return InputError(source, error.pointer, message, rule=error.rule)


def read_bytes(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``; at most ``max_bytes`` are read."""
    from verifier.format.reader.document import read_regular_file

    name = os.fspath(path)
    try:
        return read_regular_file(name, max_bytes)
    except ModelFormatError as error:
        raise _input_error(error, name) from None


def read_text(path: str | os.PathLike[str], max_bytes: int, encoding: str = "utf-8") -> str:
    """The text of the regular file ``path``, strictly decoded: a byte not of ``encoding`` is refused."""
    data = read_bytes(path, max_bytes)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            os.fspath(path), f"line {line}", f"not {encoding} text (byte {error.start})", rule="RTN-E003"
        ) from None


def read_json(path: str | os.PathLike[str], max_bytes: int = MAX_SETTINGS_BYTES) -> dict[str, Any]:
    """The JSON object held by the regular file ``path``, parsed by the model reader's native parser."""
    from verifier.format.reader.document import read

    name = os.fspath(path)
    data = read_bytes(name, max_bytes)
    try:
        return read(data, Limits(max_file_bytes=max_bytes, max_depth=MAX_DATA_DEPTH)).tree
    except ModelFormatError as error:
        raise _input_error(error, name) from None


def read_csv(
    path: str | os.PathLike[str],
    *,
    max_rows: int,
    max_columns: int,
    max_bytes: int = MAX_TABLE_BYTES,
    comments: bool = False,
) -> np.ndarray:
    """A ``[rows, columns]`` float64 array from comma-separated lines of finite numbers (blank lines skipped,
    and lines starting with ``#`` when ``comments``). At least one row; every row as long as the first."""
    name = os.fspath(path)
    text = read_text(name, max_bytes, "ascii")
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not (comments and line.startswith("#"))
    ]
    if not lines:
        raise InputError(name, "", "no rows: a CSV of numbers, one step per line, was expected")
    if len(lines) > max_rows:
        raise InputError(name, "", f"{len(lines)} rows; at most {max_rows} are read")
    columns = lines[0][1].count(",") + 1
    if columns > max_columns:
        raise InputError(name, "line 1", f"{columns} columns; at most {max_columns} are read")
    values = np.empty((len(lines), columns), dtype=np.float64)
    for row, (number, line) in enumerate(lines):
        cells = line.split(",")
        if len(cells) != columns:
            raise InputError(name, f"line {number}", f"{len(cells)} values where line 1 has {columns}")
        try:
            values[row] = np.array(cells, dtype=np.float64)
        except ValueError:
            raise InputError(name, f"line {number}", "not a comma-separated row of numbers") from None
        if not np.all(np.isfinite(values[row])):
            raise InputError(name, f"line {number}", "holds a number that is not finite (NaN, inf, 1e400)")
    return values


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, for a refusal; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a device")


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are one file on disk (through ``..``, symlinks and hard links)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one does not exist (or a name holds NUL): not the same file
        return False


def check_target(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = (), what: str = "output"
) -> None:
    """What :func:`write_file` refuses, for a run to check before the work whose result it will write."""
    name = os.fspath(path)
    for given in inputs:
        if same_file(name, given):
            raise InputError(
                name, "", f"{what} is an input of this run ({os.fspath(given)}); not overwriting it"
            )
    try:
        kind = _kind(os.stat(name).st_mode)
    except FileNotFoundError:
        kind = None
    except OSError as error:
        raise InputError(name, "", f"cannot write the {what}: {error.strerror or error}") from None
    if kind is not None:
        raise InputError(name, "", f"{what} is {kind}, not a regular file; only regular files are written")


def write_file(
    path: str | os.PathLike[str],
    content: str | bytes | Iterable[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    what: str = "output",
) -> None:
    """Write ``content`` (text as UTF-8, or text in pieces) to ``path``, refusing (:class:`InputError`,
    naming ``what``) a path that is one of ``inputs`` or that exists and is not a regular file. Until the last
    byte is written the target is untouched: a failed write leaves no half file."""
    name = os.fspath(path)
    check_target(name, inputs, what)
    # Pieces are written as they come: an output several times its input (a layer table) is never held whole.
    pieces = [content] if isinstance(content, str | bytes) else content
    folder, base = os.path.split(name)
    staging = os.path.join(folder, f".{base[:200]}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            for piece in pieces:
                view = memoryview(piece.encode("utf-8") if isinstance(piece, str) else piece)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(staging, name)
    except OSError as error:
        with contextlib.suppress(OSError):  # the staging file may not have been created
            os.unlink(staging)
        raise InputError(name, "", f"cannot write the {what}: {error.strerror or error}") from None
    except BaseException:  # pieces made while writing can fail too: still no half file left behind
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise


def append_file(
    path: str | os.PathLike[str],
    content: str,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    what: str = "output",
) -> None:
    """Append ``content`` (UTF-8) to the regular file ``path`` (created if missing), refusing what
    :func:`write_file` refuses; the kind of file is checked on the descriptor opened without blocking."""
    name = os.fspath(path)
    check_target(name, inputs, what)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, 0o666)
    except OSError as error:  # a FIFO without a reader: ENXIO
        raise InputError(name, "", f"cannot write the {what}: {error.strerror or error}") from None
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise InputError(
                name, "", f"{what} is {kind}, not a regular file; only regular files are written"
            )
        os.set_blocking(fd, True)
        view = memoryview(content.encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
    except OSError as error:
        raise InputError(name, "", f"cannot write the {what}: {error.strerror or error}") from None
    finally:
        os.close(fd)
