"""Where a JSON pointer sits in a file: its line and column, for ``path:line:col:`` messages and annotations.

The parsed document has no positions, and a second full parse (or a Python-level tokenizer) of a 13 MB
weight file costs seconds. So the pointers are resolved by walking the raw bytes along the pointers only,
all of them in one walk (a file with a finding in each of a million layers is walked once, not once per
finding). A container that is not on a path is skipped, and an element of an array reached, by scanning
the bytes with numpy a chunk at a time: brackets, braces, commas and unescaped quotes are found at C speed
and the nesting depth is a running sum, so the Python work is per chunk and per key of an object on a path,
never per byte, per number or per nesting level (100,000 nested brackets cost what 100,000 numbers do).
Time is linear in the file; memory is the file's bytes and a chunk's worth of arrays.

Lines and columns are 1-based; a column counts characters (not bytes), as editors and CI annotations do.
A pointer to a missing key (``/layers/0/epsilon``) resolves to the object that should hold it; a pointer
that cannot be followed at all resolves to its deepest reachable place, and unreadable bytes to 1:1.
Only the findings that carry a pointer are located; nothing here runs for a file without findings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Position", "locate", "locate_in_file"]

_WS = re.compile(rb"[ \t\r\n]*")
_STRING_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR_END = re.compile(rb"[,\]}\s]")
_INDEX = re.compile(r"[0-9]+")
_SYNTAX_AT = re.compile(r"line (\d+) column (\d+)")  # the position json.JSONDecodeError puts in RTN-E004
_BOM = b"\xef\xbb\xbf"

# A scan reads at most this many bytes at a time (its numpy temporaries are a small multiple of that),
# starting small so that skipping a short value costs little.
_CHUNK_MAX = 1 << 16
_CHUNK_FIRST = 256
_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_IS_MARK = np.zeros(256, dtype=bool)
_IS_MARK[[ord(c) for c in "[]{},"]] = True
_DEPTH_STEP = np.zeros(256, dtype=np.int64)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1


@dataclass(frozen=True)
class Position:
    line: int
    column: int


class _Unresolvable(Exception):
    """The bytes at this place are not the JSON the pointer expects (a truncated or broken file)."""


@dataclass(eq=False)
class _Node:
    """Pointers sharing a prefix: those that end here, and the next token of the longer ones."""

    ends: list[str] = field(default_factory=list)
    children: dict[str, _Node] = field(default_factory=dict)

    def pointers(self) -> Iterator[str]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield from node.ends
            stack.extend(node.children.values())


def _unescaped_quotes(chunk: np.ndarray, carried: int) -> np.ndarray:
    """Offsets in ``chunk`` of the quotes no odd run of backslashes precedes (``carried``: the backslashes
    that ended the previous chunk)."""
    quotes = np.flatnonzero(chunk == _QUOTE)
    if not quotes.size or (not carried and not (chunk == _BACKSLASH).any()):
        return quotes
    # For every offset, the last one at or before it that is not a backslash (-1: none in this chunk).
    last = np.maximum.accumulate(np.where(chunk == _BACKSLASH, -1, np.arange(chunk.size)))
    before = quotes - 1
    last_before = np.where(before >= 0, last[np.maximum(before, 0)], -1)
    run = before - last_before + np.where(last_before < 0, carried, 0)
    return quotes[(run & 1) == 0]


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
            close = self.scan(pos, [])[0]
            if close is None:
                raise _Unresolvable
            return close
        match = _SCALAR_END.search(self.data, pos)
        return match.start() if match else len(self.data)

    def scan(self, pos: int, wanted: list[int]) -> tuple[int | None, dict[int, int]]:
        """``pos`` at ``[`` or ``{``: the offset after its matching close, and the offset of each of its own
        commas whose ordinal (1 for the first) is in ``wanted`` (ascending). With ``wanted`` given, the scan
        stops once it has them all (the close then None): reaching an early element never reads the rest.
        The close is None as well when the bytes end first.

        A quote toggles "inside a string" unless an odd run of backslashes precedes it; brackets and commas
        inside a string are text. Both the string state and the backslash run carry over between chunks.
        """
        data, end = self.data, len(self.data)
        found: dict[int, int] = {}
        done = 0  # how many of ``wanted`` are found
        depth, commas, in_string, backslashes = 0, 0, False, 0
        start, size = pos, _CHUNK_FIRST
        while start < end:
            stop = min(end, start + size)
            size = min(4 * size, _CHUNK_MAX)
            chunk = np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start)
            quotes = _unescaped_quotes(chunk, backslashes)
            piece = data[start:stop]
            trailing = len(piece) - len(piece.rstrip(b"\\"))
            backslashes = backslashes + trailing if trailing == len(piece) else trailing
            marks = np.flatnonzero(_IS_MARK[chunk])
            if quotes.size or in_string:
                marks = marks[((np.searchsorted(quotes, marks) + in_string) & 1) == 0]
                in_string ^= bool(quotes.size & 1)
            kinds = chunk[marks]
            depths = depth + np.cumsum(_DEPTH_STEP[kinds])
            closed = np.flatnonzero(depths <= 0)
            close = None
            if closed.size:
                first = int(closed[0])
                close = start + int(marks[first]) + 1
                marks, kinds, depths = marks[:first], kinds[:first], depths[:first]
            own = marks[(kinds == _COMMA) & (depths == 1)]
            while done < len(wanted) and wanted[done] <= commas + own.size:
                found[wanted[done]] = start + int(own[wanted[done] - commas - 1])
                done += 1
            if close is not None:
                return close, found
            if wanted and done == len(wanted):
                return None, found
            commas += own.size
            depth = int(depths[-1]) if depths.size else depth
            start = stop
        return None, found

    def members(self, pos: int, keys: set[str]) -> tuple[dict[str, tuple[int, int]], bool]:
        """(offset of the key, offset of its value) of each of ``keys`` the object at ``pos`` holds (the first
        copy of a key), and whether the object could be read to where the missing ones would be."""
        found: dict[str, tuple[int, int]] = {}
        pos = self.skip_ws(pos + 1)
        if self.data[pos : pos + 1] == b"}":
            return found, True
        while True:
            if self.data[pos : pos + 1] != b'"':
                return found, False
            try:
                end = self.skip_string(pos)
                name = _decode_key(self.data[pos:end])
                value = self.skip_ws(self.skip_ws(end) + 1)  # past the colon
                if name in keys and name not in found:
                    found[name] = (pos, value)
                    if len(found) == len(keys):
                        return found, True
                pos = self.skip_ws(self.skip_value(value))
            except _Unresolvable:
                return found, False
            if self.data[pos : pos + 1] != b",":
                return found, True
            pos = self.skip_ws(pos + 1)

    def elements(self, pos: int, indices: list[int]) -> tuple[dict[int, int], bool]:
        """Offset of each of ``indices`` (ascending) the array at ``pos`` has, and whether the array could be
        read to where the missing ones would be."""
        first = self.skip_ws(pos + 1)
        if self.data[first : first + 1] in (b"]", b""):
            return {}, self.data[first : first + 1] == b"]"
        found = {0: first} if indices[0] == 0 else {}
        later = [i for i in indices if i > 0]
        if not later:
            return found, True
        close, commas = self.scan(pos, later)
        for index, comma in commas.items():
            at = self.skip_ws(comma + 1)
            if self.data[at : at + 1] not in (b"]", b""):
                found[index] = at
        return found, close is not None or len(commas) == len(later)

    def resolve(self, pointers: Sequence[str]) -> dict[str, int]:
        """The offset of the place each pointer names (or of the deepest part of it that exists); 0 for a
        pointer whose walk meets bytes that are not JSON."""
        root = _Node()
        for pointer in pointers:
            node = root
            for token in pointer.split("/")[1:]:
                node = node.children.setdefault(token.replace("~1", "/").replace("~0", "~"), _Node())
            node.ends.append(pointer)
        offsets: dict[str, int] = {}
        start = self.skip_ws(3 if self.data.startswith(_BOM) else 0)
        # (node, offset of its value, offset of the key naming it: a member is shown at its key)
        stack: list[tuple[_Node, int, int | None]] = [(root, start, None)]
        while stack:
            node, pos, key_at = stack.pop()
            for pointer in node.ends:
                offsets[pointer] = pos if key_at is None else key_at
            if not node.children:
                continue
            try:
                stack.extend(self._children(node, pos, offsets))
            except (_Unresolvable, IndexError, ValueError):
                for pointer in node.pointers():
                    offsets.setdefault(pointer, 0)
        return offsets

    def _children(
        self, node: _Node, pos: int, offsets: dict[str, int]
    ) -> list[tuple[_Node, int, int | None]]:
        """The next places to visit under the container at ``pos``; the pointers that end at ``pos`` itself
        (a missing key or index, a token a scalar cannot follow) are settled in ``offsets``."""
        kind = self.data[pos : pos + 1]
        follow: list[tuple[_Node, int, int | None]] = []
        missing: list[_Node] = []  # settled at this container
        broken: list[_Node] = []  # past the end of the readable bytes: 1:1
        if kind == b"{":
            found, complete = self.members(pos, set(node.children))
            for key, child in node.children.items():
                if key in found:
                    follow.append((child, found[key][1], found[key][0]))
                else:
                    (missing if complete else broken).append(child)
        elif kind == b"[":
            numbered = {
                int(token): child for token, child in node.children.items() if _INDEX.fullmatch(token)
            }
            found_at, complete = self.elements(pos, sorted(numbered)) if numbered else ({}, True)
            follow = [(child, found_at[i], None) for i, child in numbered.items() if i in found_at]
            followed = {id(child) for child, _, _ in follow}
            unfound = [c for c in node.children.values() if id(c) not in followed]
            if complete:
                missing = unfound
            else:
                broken = [c for i, c in numbered.items() if i not in found_at]
                cut = {id(c) for c in broken}
                missing = [c for c in unfound if id(c) not in cut]
        else:
            missing = list(node.children.values())
        for child in missing:
            for pointer in child.pointers():
                offsets[pointer] = pos
        for child in broken:
            for pointer in child.pointers():
                offsets[pointer] = 0
        return follow


def _decode_key(raw: bytes) -> str:
    if b"\\" not in raw:
        return raw[1:-1].decode("utf-8", "replace")
    import json

    try:
        return str(json.loads(raw))
    except ValueError:
        return raw[1:-1].decode("utf-8", "replace")


def _characters(text: bytes) -> int:
    # ASCII (every export of ours, on one line of megabytes) needs no decoding to count its characters
    return len(text) if text.isascii() else len(text.decode("utf-8", "replace"))


def _positions(data: bytes, offsets: Sequence[int]) -> dict[int, Position]:
    """Line and column of each offset, counted in one pass over the bytes up to the last of them (each
    stretch between two offsets is read once, however many offsets share one long line)."""
    places: dict[int, Position] = {}
    line, column, at = 1, 1, 0
    for offset in sorted(set(offsets)):
        newline = data.rfind(b"\n", at, offset)
        if newline >= 0:
            line += data.count(b"\n", at, newline + 1)
            column, at = 1, newline + 1
        if line == 1 and at < len(_BOM) <= offset and data.startswith(_BOM):
            at = len(_BOM)  # the byte order mark is no character of the line
        column += _characters(data[at:offset])
        at = offset
        places[offset] = Position(line, column)
    return places


def locate(data: bytes, pointers: list[str] | tuple[str, ...]) -> dict[str, Position]:
    """The position of every pointer in ``data`` (1:1 where the bytes cannot be walked)."""
    unique = list(dict.fromkeys(pointers))
    offsets = {p: min(o, len(data)) for p, o in _Walker(data).resolve(unique).items()}
    places = _positions(data, list(offsets.values()))
    return {pointer: places[offsets[pointer]] for pointer in unique}


def position_from_message(message: str) -> Position | None:
    """The line and column a JSON syntax error names in its message (the reader reports them there)."""
    match = _SYNTAX_AT.search(message)
    return Position(int(match.group(1)), int(match.group(2))) if match else None


def locate_in_file(
    path: str | os.PathLike[str], pointers: list[str] | tuple[str, ...]
) -> dict[str, Position]:
    """:func:`locate` on a file's bytes, read as a model file is (a regular file, within
    ``Limits.max_file_bytes``: a FIFO or a device named as a model never blocks this); every pointer at 1:1
    when the file cannot be read so."""
    from verifier.errors import ModelFormatError
    from verifier.format.findings import Limits
    from verifier.format.reader.document import read_regular_file

    try:
        data = read_regular_file(os.fspath(path), Limits().max_file_bytes)
    except ModelFormatError:
        return dict.fromkeys(pointers, Position(1, 1))
    return locate(data, pointers)
