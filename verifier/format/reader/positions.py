"""Where a JSON pointer sits in a file: its line and column, for ``path:line:col:`` messages and annotations.

The parsed document has no positions, and a second full parse (or a Python-level tokenizer) of a 13 MB
weight file costs seconds. So each pointer is resolved by walking the raw bytes along the pointer only:
containers that are not on the path are skipped by bracket counting over the offsets of every bracket and
quote (each found with ``bytes.find``, so a million numbers between two brackets cost nothing in Python),
and an array index is reached by counting commas with numpy when the array holds only scalars. Only the
findings that carry a pointer are located; nothing here runs for a file without findings.

Lines and columns are 1-based; a column counts characters (not bytes), as editors and CI annotations do.
A pointer to a missing key (``/layers/0/epsilon``) resolves to the object that should hold it; a pointer
that cannot be followed at all resolves to its deepest reachable place, and unreadable bytes to 1:1.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Position", "locate", "locate_in_file"]

_WS = re.compile(rb"[ \t\r\n]*")
_MARKS = (b"[", b"]", b"{", b"}", b'"')  # what bracket counting must see: brackets, braces, quotes
_STRING_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR_END = re.compile(rb"[,\]}\s]")
_SYNTAX_AT = re.compile(r"line (\d+) column (\d+)")  # the position json.JSONDecodeError puts in RTN-E004


@dataclass(frozen=True)
class Position:
    line: int
    column: int


class _Unresolvable(Exception):
    """The bytes at this place are not the JSON the pointer expects (a truncated or broken file)."""


class _Walker:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def skip_ws(self, pos: int) -> int:
        match = _WS.match(self.data, pos)
        return match.end() if match else pos

    def skip_string(self, pos: int) -> int:
        """``pos`` at an opening quote; returns the offset after the closing quote."""
        match = _STRING_END.match(self.data, pos + 1)
        if match is None:
            raise _Unresolvable
        return match.end()

    def skip_value(self, pos: int) -> int:
        """Offset just after the value starting at ``pos``."""
        first = self.data[pos : pos + 1]
        if first == b'"':
            return self.skip_string(pos)
        if first in (b"[", b"{"):
            return self.skip_container(pos)
        match = _SCALAR_END.search(self.data, pos)
        return match.start() if match else len(self.data)

    def skip_container(self, pos: int) -> int:
        """``pos`` at ``[`` or ``{``; returns the offset after its matching close (strings skipped).

        Only the bytes up to the close are scanned, each kind of mark with ``bytes.find`` (memchr speed):
        the next offset of each kind is kept until the walk passes it, so a kind a weight array lacks
        (braces, quotes) is searched for once, not once per bracket.
        """
        data, end = self.data, len(self.data)
        ahead = {mark: data.find(mark, pos) for mark in _MARKS}
        for mark, at in ahead.items():
            ahead[mark] = end if at < 0 else at
        depth = 0
        while True:
            mark = min(ahead, key=ahead.__getitem__)
            at = ahead[mark]
            if at >= end:
                raise _Unresolvable
            if mark == b'"':  # brackets inside a string are text
                after = self.skip_string(at)
                for other, seen in ahead.items():
                    if seen < after:
                        found = data.find(other, after)
                        ahead[other] = end if found < 0 else found
                continue
            depth += 1 if mark in (b"[", b"{") else -1
            if depth == 0:
                return at + 1
            found = data.find(mark, at + 1)
            ahead[mark] = end if found < 0 else found

    def member(self, pos: int, key: str) -> tuple[int, int] | None:
        """(offset of the key, offset of its value) in the object at ``pos``; None if absent."""
        pos = self.skip_ws(pos + 1)
        if self.data[pos : pos + 1] == b"}":
            return None
        while True:
            if self.data[pos : pos + 1] != b'"':
                raise _Unresolvable
            end = self.skip_string(pos)
            name = _decode_key(self.data[pos:end])
            value = self.skip_ws(self.skip_ws(end) + 1)  # past the colon
            if name == key:
                return pos, value
            pos = self.skip_ws(self.skip_value(value))
            if self.data[pos : pos + 1] != b",":
                return None
            pos = self.skip_ws(pos + 1)

    def element(self, pos: int, index: int) -> int | None:
        """Offset of element ``index`` of the array at ``pos``; None if the array is shorter."""
        end = self.skip_container(pos)
        body = self.data[pos + 1 : end - 1]
        if not any(c in body for c in (b"[", b"{", b'"')):
            # Scalars only: the commas are the separators, found at C speed.
            commas = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord(","))
            if index > len(commas) or (index == len(commas) and not body.strip()):
                return None
            start = pos + 1 + (0 if index == 0 else int(commas[index - 1]) + 1)
            return self.skip_ws(start)
        pos = self.skip_ws(pos + 1)
        for _ in range(index):
            if self.data[pos : pos + 1] == b"]":
                return None
            pos = self.skip_ws(self.skip_value(pos))
            if self.data[pos : pos + 1] != b",":
                return None
            pos = self.skip_ws(pos + 1)
        return None if self.data[pos : pos + 1] in (b"]", b"") else pos

    def resolve(self, pointer: str) -> int:
        """Offset of the place ``pointer`` names (or of the deepest part of it that exists)."""
        pos = self.skip_ws(3 if self.data.startswith(b"\xef\xbb\xbf") else 0)
        if not pointer:
            return pos
        last_key: int | None = None
        for token in pointer[1:].split("/"):
            key = token.replace("~1", "/").replace("~0", "~")
            kind = self.data[pos : pos + 1]
            if kind == b"{":
                found = self.member(pos, key)
                if found is None:
                    return pos
                key_at, value_at = found
                pos, last_key = value_at, key_at
            elif kind == b"[" and key.isdigit():
                element = self.element(pos, int(key))
                if element is None:
                    return pos
                pos, last_key = element, None
            else:
                return pos
        # A member is shown at its key ("activation": ...), the way a reader scans a file.
        return last_key if last_key is not None else pos


def _decode_key(raw: bytes) -> str:
    import json

    try:
        return str(json.loads(raw))
    except ValueError:
        return raw[1:-1].decode("utf-8", "replace")


def _position(data: bytes, offset: int) -> Position:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, line_start) + 1 if line_start else 1
    prefix = data[line_start:offset]
    if line == 1 and prefix.startswith(b"\xef\xbb\xbf"):
        prefix = prefix[3:]
    # ASCII (every export of ours, on one line of megabytes) needs no decoding to count its characters
    return Position(line, (len(prefix) if prefix.isascii() else len(prefix.decode("utf-8", "replace"))) + 1)


def locate(data: bytes, pointers: list[str] | tuple[str, ...]) -> dict[str, Position]:
    """The position of every pointer in ``data`` (1:1 where the bytes cannot be walked)."""
    walker = _Walker(data)
    found: dict[str, Position] = {}
    for pointer in dict.fromkeys(pointers):
        try:
            offset = walker.resolve(pointer)
        except (_Unresolvable, ValueError, IndexError):
            offset = 0
        found[pointer] = _position(data, min(offset, len(data)))
    return found


def position_from_message(message: str) -> Position | None:
    """The line and column a JSON syntax error names in its message (the reader reports them there)."""
    match = _SYNTAX_AT.search(message)
    return Position(int(match.group(1)), int(match.group(2))) if match else None


def locate_in_file(
    path: str | os.PathLike[str], pointers: list[str] | tuple[str, ...]
) -> dict[str, Position]:
    """:func:`locate` on a file's bytes; every pointer at 1:1 when the file cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return dict.fromkeys(pointers, Position(1, 1))
    return locate(data, pointers)
