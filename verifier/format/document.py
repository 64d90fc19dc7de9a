"""Reading a keras-json document from a path, JSON text, bytes or an already-parsed dict.

Python's json module accepts things RTNeural's parser (nlohmann) refuses or that would make the file mean
something else than it says: duplicate keys with different values (the last one silently wins),
``NaN``/``Infinity`` literals, strings that are not Unicode (lone surrogates from ``\ud800`` escapes),
integers too long to convert, and very deep nesting (a RecursionError). Each becomes a
:class:`ModelFormatError` naming the rule, the source and, where it is known, the place. A duplicate key
whose values are identical means the same whichever copy a parser keeps: it is a warning (RTN-W007),
appended to ``warnings`` when the caller passes a list.

The sizes come from :class:`verifier.format.findings.Limits` (``max_file_bytes``, ``max_depth``).
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from verifier.errors import ModelFormatError
from verifier.format.findings import Finding, Limits, finding, pointer_join


def read_document(
    source: str | os.PathLike[str] | dict[str, Any] | bytes,
    limits: Limits | None = None,
    *,
    warnings: list[Finding] | None = None,
) -> tuple[dict[str, Any], str]:
    """The parsed document and a display name (the path as given, ``<string>``, ``<bytes>`` or ``<dict>``).

    A ``str`` whose first non-space character is ``{`` is JSON text; any other ``str`` is a path. A dict is
    checked (key types, depth, finite numbers, Unicode) and returned as is, never modified. Warnings of
    reading (RTN-W007) are appended to ``warnings`` when it is given.
    """
    reader = _Reader(limits or Limits(), [] if warnings is None else warnings)
    if isinstance(source, dict):
        reader.check_tree(source, "<dict>")
        return source, "<dict>"
    if isinstance(source, bytes | bytearray):
        return reader.parse_bytes(bytes(source), "<bytes>"), "<bytes>"
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return reader.parse_text(source, "<string>"), "<string>"
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        return reader.parse_bytes(reader.read_file(Path(name), name), name), name
    raise TypeError(f"read_document() takes a path, JSON text, bytes or a dict, not {type(source).__name__}")


class _Reader:
    def __init__(self, limits: Limits, warnings: list[Finding]) -> None:
        self.max_bytes = limits.max_file_bytes
        self.max_depth = limits.max_depth
        self.warnings = warnings

    def read_file(self, path: Path, name: str) -> bytes:
        return _read_file(path, name, self.max_bytes)

    def parse_bytes(self, data: bytes, name: str) -> dict[str, Any]:
        return _parse_bytes(data, name, self)

    def parse_text(self, text: str, name: str) -> dict[str, Any]:
        return _parse_text(text, name, self)

    def check_tree(self, doc: dict[str, Any], name: str) -> None:
        _check_tree(doc, name, self.max_depth)


def _read_file(path: Path, name: str, max_bytes: int) -> bytes:
    try:
        info = path.stat()
        # A FIFO or a device would block or never end: only a regular file is a model file.
        if not stat.S_ISREG(info.st_mode):
            raise ModelFormatError(
                "",
                "not a regular file (a directory, FIFO, socket or device is never read)",
                rule="RTN-E001",
                expected="a regular file",
                found=_file_kind(info.st_mode),
                source=name,
            )
        size = info.st_size
        if size > max_bytes:
            raise ModelFormatError(
                "",
                "file too large",
                rule="RTN-E301",
                expected=f"at most {max_bytes} bytes",
                found=f"{size} bytes",
                source=name,
            )
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as error:
        raise ModelFormatError(
            "", f"cannot read the file: {error.strerror or error}", source=name, rule="RTN-E001"
        ) from None


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "a device")


def _parse_bytes(data: bytes, name: str, reader: _Reader) -> dict[str, Any]:
    max_bytes = reader.max_bytes
    if len(data) > max_bytes:
        raise ModelFormatError(
            "",
            "document too large",
            rule="RTN-E301",
            expected=f"at most {max_bytes} bytes",
            found=f"{len(data)} bytes",
            source=name,
        )
    try:
        # nlohmann skips a UTF-8 byte order mark, so RTNeural reads such files; so do we.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ModelFormatError(
            "",
            f"not valid UTF-8 (byte {error.start}: {error.reason})",
            rule="RTN-E003",
            expected="UTF-8 text",
            found=f"byte 0x{data[error.start]:02x}",
            source=name,
        ) from None
    return _parse_text(text, name, reader)


class _NonFinite:
    """Stands for a NaN/Infinity literal until its place in the document is known."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_text(text: str, name: str, reader: _Reader) -> dict[str, Any]:
    max_bytes, max_depth = reader.max_bytes, reader.max_depth
    if len(text) > max_bytes:
        raise ModelFormatError(
            "",
            "document too large",
            rule="RTN-E301",
            expected=f"at most {max_bytes} characters",
            found=str(len(text)),
            source=name,
        )
    if not text.strip():
        raise ModelFormatError(
            "", "empty document", expected="a JSON object", found="nothing", source=name, rule="RTN-E002"
        )
    duplicates: list[tuple[dict[str, Any], str, bool]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append((obj, key, _same(obj[key], value)))
            obj[key] = value
        return obj

    try:
        doc = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_NonFinite)
    except json.JSONDecodeError as error:
        raise ModelFormatError(
            "",
            f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}",
            source=name,
            rule="RTN-E004",
        ) from None
    except ValueError as error:  # an integer literal longer than Python converts (4,300 digits)
        raise ModelFormatError(
            "",
            f"a number RTNeural cannot read as a finite double ({str(error)[:80]})",
            rule="RTN-E005",
            expected="a finite number",
            found="an integer literal of thousands of digits",
            source=name,
        ) from None
    except RecursionError:
        raise ModelFormatError(
            "",
            "the document nests too deeply",
            rule="RTN-E302",
            expected=f"at most {max_depth} levels",
            found="deeper",
            source=name,
        ) from None
    if not isinstance(doc, dict):
        raise ModelFormatError(
            "",
            "a keras-json model must be a JSON object",
            rule="RTN-E102",
            expected="an object",
            found=_kind(doc),
            source=name,
        )
    differing = [(obj, key) for obj, key, same in duplicates if not same]
    if differing:
        obj, key = differing[0]
        raise ModelFormatError(
            pointer_join(_find(doc, obj), key),
            f"duplicate key {key!r} with different values (JSON parsers disagree on which value wins)",
            rule="RTN-E006",
            expected="unique keys",
            found=f"{key!r} twice",
            source=name,
        )
    _check_tree(doc, name, max_depth)
    for obj, key, _ in duplicates:
        reader.warnings.append(
            finding(
                "RTN-W007",
                pointer_join(_find(doc, obj), key),
                f"duplicate key {key!r} with identical values; remove the copy",
                expected="unique keys",
                found=f"{key!r} twice",
            )
        )
    return doc


def _same(a: Any, b: Any) -> bool:
    """Identical JSON values: same types all the way down (1, 1.0 and true are three different values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, _NonFinite):
        return False  # refused where it stands anyway
    return bool(a == b)


def _check_tree(doc: dict[str, Any], name: str, max_depth: int) -> None:
    """Depth, key types, Unicode and finite numbers, walked iteratively (no recursion limit to hit)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 1)]
    while stack:
        node, pointer, depth = stack.pop()
        if isinstance(node, dict | list) and depth > max_depth:
            raise ModelFormatError(
                pointer,
                "the document nests too deeply",
                rule="RTN-E302",
                expected=f"at most {max_depth} levels",
                found="deeper",
                source=name,
            )
        if isinstance(node, dict):
            # Children are pushed last-first, so that the first problem in document order is the one reported.
            for key, value in reversed(node.items()):
                if not isinstance(key, str):
                    raise ModelFormatError(
                        pointer,
                        "object keys must be strings",
                        rule="RTN-E102",
                        expected="a string",
                        found=repr(key),
                        source=name,
                    )
                if not _encodable(key):
                    raise _not_unicode(pointer, "a key", name)
                stack.append((value, f"{pointer}/{_escape(key)}", depth + 1))
        elif isinstance(node, list):
            stack.extend((node[i], f"{pointer}/{i}", depth + 1) for i in range(len(node) - 1, -1, -1))
        elif isinstance(node, _NonFinite):
            raise ModelFormatError(
                pointer,
                f"{node.literal} is not valid JSON (RTNeural's parser rejects it)",
                rule="RTN-E005",
                expected="a finite number",
                found=node.literal,
                source=name,
            )
        elif isinstance(node, str) and not _encodable(node):
            raise _not_unicode(pointer, "a string", name)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ModelFormatError(
                pointer,
                "numbers must be finite",
                expected="a finite number",
                found=repr(node),
                source=name,
                rule="RTN-E005",
            )


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a "\ud800" escape
        return False
    return True


def _not_unicode(pointer: str, what: str, name: str) -> ModelFormatError:
    # nlohmann refuses an unpaired surrogate escape; the pointer names the object when the key is the culprit
    # (the key itself cannot be written in UTF-8).
    return ModelFormatError(
        pointer,
        f"{what} is not valid Unicode: an unpaired surrogate (\\ud800-\\udfff escape)",
        rule="RTN-E003",
        expected="UTF-8 text",
        found="a lone surrogate",
        source=name,
    )


def _find(doc: dict[str, Any], target: dict[str, Any]) -> str:
    """The JSON pointer of the object `target` inside `doc`."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, pointer = stack.pop()
        if node is target:
            return pointer
        if isinstance(node, dict):
            stack.extend((v, f"{pointer}/{_escape(k)}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{pointer}/{i}") for i, v in enumerate(node))
    return ""


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
