"""Reading a keras-json document from a path, JSON text, bytes or an already-parsed dict.

Python's json module accepts things RTNeural's parser (nlohmann) refuses or that would make the file mean
something else than it says: duplicate keys (the last one silently wins), ``NaN``/``Infinity`` literals,
and very deep nesting (a RecursionError). Each becomes a :class:`ModelFormatError` naming the source and,
where it is known, the place.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from verifier.errors import ModelFormatError

#: Files larger than this are refused before reading (a large production model is a few tens of MB).
MAX_BYTES = 256 * 1024 * 1024
#: Deeper nesting is refused; legitimate keras-json nests 9 levels (conv2d kernels).
MAX_DEPTH = 64


def read_document(source: str | os.PathLike[str] | dict[str, Any] | bytes) -> tuple[dict[str, Any], str]:
    """The parsed document and a display name (the path as given, ``<string>``, ``<bytes>`` or ``<dict>``).

    A ``str`` whose first non-space character is ``{`` is JSON text; any other ``str`` is a path. A dict is
    checked (key types, depth, finite numbers) and returned as is, never modified.
    """
    if isinstance(source, dict):
        _check_tree(source, "<dict>")
        return source, "<dict>"
    if isinstance(source, bytes | bytearray):
        return _parse_bytes(bytes(source), "<bytes>"), "<bytes>"
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _parse_text(source, "<string>"), "<string>"
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        return _parse_bytes(_read_file(Path(name), name), name), name
    raise TypeError(f"read_document() takes a path, JSON text, bytes or a dict, not {type(source).__name__}")


def _read_file(path: Path, name: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ModelFormatError(
                "",
                "file too large",
                rule="RTN-E301",
                expected=f"at most {MAX_BYTES} bytes",
                found=f"{size} bytes",
                source=name,
            )
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise ModelFormatError(
            "", f"cannot read the file: {error.strerror or error}", source=name, rule="RTN-E001"
        ) from None


def _parse_bytes(data: bytes, name: str) -> dict[str, Any]:
    if len(data) > MAX_BYTES:
        raise ModelFormatError(
            "",
            "document too large",
            rule="RTN-E301",
            expected=f"at most {MAX_BYTES} bytes",
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
    return _parse_text(text, name)


class _NonFinite:
    """Stands for a NaN/Infinity literal until its place in the document is known."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_text(text: str, name: str) -> dict[str, Any]:
    if len(text) > MAX_BYTES:
        raise ModelFormatError(
            "",
            "document too large",
            rule="RTN-E301",
            expected=f"at most {MAX_BYTES} characters",
            found=str(len(text)),
            source=name,
        )
    if not text.strip():
        raise ModelFormatError(
            "", "empty document", expected="a JSON object", found="nothing", source=name, rule="RTN-E002"
        )
    duplicates: list[tuple[dict[str, Any], str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append((obj, key))
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
    except RecursionError:
        raise ModelFormatError(
            "",
            "the document nests too deeply",
            rule="RTN-E302",
            expected=f"at most {MAX_DEPTH} levels",
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
    if duplicates:
        obj, key = duplicates[0]
        pointer = _find(doc, obj)
        raise ModelFormatError(
            f"{pointer}/{_escape(key)}",
            f"duplicate key {key!r} (JSON parsers disagree on which value wins)",
            rule="RTN-E006",
            expected="unique keys",
            found=f"{key!r} twice",
            source=name,
        )
    _check_tree(doc, name)
    return doc


def _check_tree(doc: dict[str, Any], name: str) -> None:
    """Depth, key types and finite numbers, walked iteratively (no recursion limit to hit)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 1)]
    while stack:
        node, pointer, depth = stack.pop()
        if isinstance(node, dict | list) and depth > MAX_DEPTH:
            raise ModelFormatError(
                pointer,
                "the document nests too deeply",
                rule="RTN-E302",
                expected=f"at most {MAX_DEPTH} levels",
                found="deeper",
                source=name,
            )
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise ModelFormatError(
                        pointer,
                        "object keys must be strings",
                        rule="RTN-E102",
                        expected="a string",
                        found=repr(key),
                        source=name,
                    )
                stack.append((value, f"{pointer}/{_escape(key)}", depth + 1))
        elif isinstance(node, list):
            stack.extend((value, f"{pointer}/{i}", depth + 1) for i, value in enumerate(node))
        elif isinstance(node, _NonFinite):
            raise ModelFormatError(
                pointer,
                f"{node.literal} is not valid JSON (RTNeural's parser rejects it)",
                rule="RTN-E005",
                expected="a finite number",
                found=node.literal,
                source=name,
            )
        elif isinstance(node, float) and not math.isfinite(node):
            raise ModelFormatError(
                pointer,
                "numbers must be finite",
                expected="a finite number",
                found=repr(node),
                source=name,
                rule="RTN-E005",
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
