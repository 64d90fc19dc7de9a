"""Reading a keras-json document from a path, JSON text, bytes or an already-parsed dict.

Text is parsed once, in C++ (``read_json`` of the compiled module ``_verifier_engine``, native/json_reader.h),
straight from the bytes: no Python object tree is built unless a caller asks for one (:attr:`Document.tree`),
and the engine loads from the C++ document directly. Python's json module accepts things RTNeural's parser
(nlohmann) refuses or that would make the file mean something else than it says: duplicate keys with
different values (the last one silently wins), ``NaN``/``Infinity`` literals, strings that are not Unicode
(lone surrogates from ``\ud800`` escapes), integers beyond a double, very deep nesting. The native reader
refuses each with its rule id (RTN-E002 empty, E003 not UTF-8, E004 syntax, E005 non-finite, E006 duplicate
key, E102 not an object, E302 too deep) and, where it is known, the place; here it becomes a
:class:`ModelFormatError` naming the source. A duplicate key whose values are identical means the same
whichever copy a parser keeps: it is a warning (RTN-W007), kept in :attr:`Document.warnings`.

Only regular files are read: a FIFO, a directory or a device is refused (RTN-E001) without being opened for
reading, so a path never blocks or streams forever. The sizes come from
:class:`verifier.format.findings.Limits` (``max_file_bytes``, ``max_depth``).
"""

from __future__ import annotations

import gc
import math
import os
import stat
import sys
from collections.abc import Iterable
from functools import cache
from typing import Any

from verifier.errors import ModelFormatError
from verifier.format.findings import Finding, Limits, finding
from verifier.quoting import quoted

#: Weight arrays with fewer numbers are Python lists in :meth:`Document.skeleton` (what a size key or a small
#: bias costs either way); larger ones are views of the C++ document.
SKELETON_MIN_LEAVES = 64


class _NoNumericArray:
    """Stands for the engine's NumericArray where the engine is not installed (nothing is one then)."""


@cache
def _numeric_array() -> type:
    try:
        from _verifier_engine import NumericArray
    except ImportError:
        return _NoNumericArray
    return NumericArray


def is_numeric_array(value: Any) -> bool:
    """Whether ``value`` is a weight array kept in the C++ document (:meth:`Document.skeleton`)."""
    return type(value) is _numeric_array()


class Document:
    """One document, read and parsed once: ``native`` (the C++ tree the engine loads from, ``None`` for a dict
    given by the caller), ``name`` for messages, ``size`` in bytes of its text (0 for a dict), ``warnings``
    of reading (RTN-W007).

    :attr:`tree` is the Python view (dict/list/...), built on first use and kept until :meth:`drop_tree`.
    """

    __slots__ = ("_tree", "name", "native", "size", "warnings")

    def __init__(
        self,
        name: str,
        native: Any = None,
        tree: dict[str, Any] | None = None,
        size: int = 0,
        warnings: tuple[Finding, ...] = (),
    ) -> None:
        self.name = name
        self.native = native
        self.size = size
        self.warnings = warnings
        self._tree = tree

    @property
    def tree(self) -> dict[str, Any]:
        if self._tree is None:
            # A million new floats in new lists would trigger the cyclic collector hundreds of times, each
            # pass walking every object of the process (torch's included); none of them can be garbage.
            enabled = gc.isenabled()
            gc.disable()
            try:
                self._tree = self.native.to_python()
            finally:
                if enabled:
                    gc.enable()
        return self._tree

    def outline(self) -> dict[str, Any]:
        """The keys of the document and of each layer entry, enough to recognise the legacy format without
        building every weight (values are those of :meth:`skeleton` without entry keys)."""
        if self._tree is not None:
            return self._tree
        return self.skeleton(())

    def skeleton(self, entry_keys: Iterable[str], top_keys: Iterable[str] = ()) -> dict[str, Any]:
        """The document as ``validate`` reads it, in memory proportional to its declarations rather than its
        numbers: each weight array (or rectangular part of a ragged one) of at least
        :data:`SKELETON_MIN_LEAVES` numbers is a ``NumericArray`` (its shape; the numbers stay in C++), and
        the values of keys validate never reads (top level: besides ``in_shape``, ``layers`` and
        ``top_keys``; in a layer entry: besides ``entry_keys``) are ``Skipped`` (their kind only).

        A caller's dict is returned as is."""
        if self.native is None or self._tree is not None:
            return self.tree
        skeleton: dict[str, Any] = self.native.skeleton(SKELETON_MIN_LEAVES, list(entry_keys), list(top_keys))
        return skeleton

    def drop_tree(self) -> None:
        """Free the Python view (a parsed dict given by the caller is kept: it is the document)."""
        if self.native is not None:
            self._tree = None


Source = str | os.PathLike[str] | dict[str, Any] | bytes | Document


def read(source: Source, limits: Limits | None = None) -> Document:
    """The :class:`Document` of ``source``; a ``Document`` is returned as is (read under its own limits).

    A ``str`` whose first non-space character is ``{`` is JSON text; any other ``str`` is a path. A dict is
    checked (key types, depth, finite numbers, Unicode) and kept as is, never modified.
    """
    if isinstance(source, Document):
        return source
    limits = limits or Limits()
    if isinstance(source, dict):
        _check_tree(source, "<dict>", limits.max_depth)
        return Document("<dict>", tree=source)
    if isinstance(source, bytes | bytearray):
        return _parse_bytes(bytes(source), "<bytes>", limits)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _parse_text(source, "<string>", limits)
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        return _parse_bytes(_read_file(name, limits.max_file_bytes), name, limits)
    raise TypeError(f"read_document() takes a path, JSON text, bytes or a dict, not {type(source).__name__}")


def read_document(
    source: Source, limits: Limits | None = None, *, warnings: list[Finding] | None = None
) -> tuple[dict[str, Any], str]:
    """The parsed document as a Python tree and a display name (the path as given, ``<string>``,
    ``<bytes>`` or ``<dict>``). A dict is returned as is, never copied. Warnings of reading (RTN-W007) are
    appended to ``warnings`` when it is given."""
    document = read(source, limits)
    if warnings is not None:
        warnings.extend(document.warnings)
    return document.tree, document.name


def read_file_bytes(name: str, limits: Limits | None = None) -> bytes:
    """The bytes of the model file ``name`` read as :func:`read` reads them (a regular file, within
    ``max_file_bytes``), without parsing them; a :class:`ModelFormatError` otherwise."""
    return _read_file(name, (limits or Limits()).max_file_bytes)


def _unreadable(name: str, reason: str, found: str | None = None) -> ModelFormatError:
    return ModelFormatError(
        "",
        f"cannot read the file: {reason}",
        rule="RTN-E001",
        expected=None if found is None else "a regular file",
        found=found,
        source=name,
    )


_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_file(name: str, max_bytes: int) -> bytes:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the kind of file is then checked on the open
    # descriptor (no race with a rename between a stat and the open).
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if os.path.isdir(name):  # where a directory cannot be opened at all
            raise _not_regular(name, "a directory") from None
        raise _unreadable(name, error.strerror or str(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((text for test, text in _NOT_REGULAR if test(info.st_mode)), "not a regular file")
            raise _not_regular(name, kind)
        if info.st_size > max_bytes:
            raise _too_large(name, "file too large", f"{info.st_size} bytes", max_bytes)
        # Normally one read of the size stat reported; bounded by the limit, not by that size, since the file
        # may grow while it is read.
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(max_bytes + 1 - total, max(info.st_size + 1 - total, 1 << 16)))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise _unreadable(name, error.strerror or str(error)) from None
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _not_regular(name: str, kind: str) -> ModelFormatError:
    # A FIFO or a device would block or never end: only a regular file is a model file.
    return _unreadable(name, f"it is {kind}, not a regular file; only regular files are read", found=kind)


def _too_large(name: str, message: str, found: str, max_bytes: int, unit: str = "bytes") -> ModelFormatError:
    return ModelFormatError(
        "", message, rule="RTN-E301", expected=f"at most {max_bytes} {unit}", found=found, source=name
    )


def _parse_bytes(data: bytes, name: str, limits: Limits) -> Document:
    if len(data) > limits.max_file_bytes:
        raise _too_large(name, "document too large", f"{len(data)} bytes", limits.max_file_bytes)
    try:
        import _verifier_engine as native
    except ImportError as missing:
        raise ImportError(
            "the JSON reader is native (the extension module _verifier_engine) and is not installed: "
            "install the package (`pip install .`, or `pip install --no-build-isolation -e .`)"
        ) from missing
    try:
        parsed = native.read_json(data, limits.max_depth)
    except native.ReadError as error:
        rule, pointer, message, expected, found = error.args
        raise ModelFormatError(
            pointer, message, rule=rule, expected=expected or None, found=found or None, source=name
        ) from None
    warnings = tuple(
        finding(rule, pointer, message, expected=expected, found=found)
        for rule, pointer, message, expected, found in parsed.warnings()
    )
    return Document(name, native=parsed, size=len(data), warnings=warnings)


def _parse_text(text: str, name: str, limits: Limits) -> Document:
    if len(text) > limits.max_file_bytes:
        raise _too_large(name, "document too large", str(len(text)), limits.max_file_bytes, unit="characters")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:  # a str holding a lone surrogate has no UTF-8 form
        raise ModelFormatError(
            "",
            f"not valid UTF-8 (character {error.start}: a lone surrogate)",
            rule="RTN-E003",
            expected="UTF-8 text",
            found=f"U+{ord(text[error.start]):04X}",
            source=name,
        ) from None
    return _parse_bytes(data, name, limits)


def _check_tree(doc: dict[str, Any], name: str, max_depth: int) -> None:
    """A caller's dict: depth, key types, Unicode and finite numbers, walked iteratively (no recursion limit
    to hit). Text never comes here: the native reader checks the same while parsing."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 1)]
    while stack:
        node, pointer, depth = stack.pop()
        if isinstance(node, dict | list) and depth > max_depth:
            raise ModelFormatError(
                pointer,
                "the document nests too deeply",
                rule="RTN-E302",
                expected=f"at most {max_depth} levels (Limits.max_depth)",
                found="deeper",
                source=name,
            )
        if isinstance(node, _Key):
            key = node.key
            if not isinstance(key, str):
                raise ModelFormatError(
                    pointer,
                    "object keys must be strings",
                    rule="RTN-E102",
                    expected="a string",
                    found=quoted(key),
                    source=name,
                )
            if not _encodable(key):
                raise _not_unicode(pointer, "a key", name)
        elif isinstance(node, dict):
            # Children are pushed last-first, so that the first problem in document order is the one reported;
            # a key is checked where it stands, just before its value (as the reader meets it in the text).
            for key, value in reversed(node.items()):
                stack.append((value, f"{pointer}/{_escape(str(key))}", depth + 1))
                stack.append((_Key(key), pointer, depth))
        elif isinstance(node, list):
            if _finite_floats(node):  # a row of weights: nothing in it to report, no pointer to build
                continue
            stack.extend((node[i], f"{pointer}/{i}", depth + 1) for i in range(len(node) - 1, -1, -1))
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
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > sys.float_info.max:
            # A Python int has no limit; every reader of the file (and our engine) takes numbers as doubles.
            digits = len(str(abs(node))) if abs(node).bit_length() < 14_000 else "thousands of"
            raise ModelFormatError(
                pointer,
                f"an integer of {digits} digits overflows a double",
                expected="a finite number",
                found="an integer beyond the double range",
                source=name,
                rule="RTN-E005",
            )


_FLOAT = {float}


def _finite_floats(values: list[Any]) -> bool:
    """Whether every item of ``values`` is a finite float (checked at C speed; any other list is walked)."""
    return set(map(type, values)) <= _FLOAT and all(map(math.isfinite, values))


class _Key:
    """A key of a caller's dict, on the stack of :func:`_check_tree` at its place in document order."""

    __slots__ = ("key",)

    def __init__(self, key: object) -> None:
        self.key = key


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file could hold it, the engine cannot take it
        return False
    return True


def _not_unicode(pointer: str, what: str, name: str) -> ModelFormatError:
    # The native reader's words for a lone surrogate escape; the pointer names the object when the key is the
    # culprit (the key itself cannot be written in UTF-8), and the message never quotes it (unprintable).
    return ModelFormatError(
        pointer,
        f"{what} is not valid Unicode: an unpaired surrogate (\\ud800-\\udfff escape)",
        rule="RTN-E003",
        expected="UTF-8 text",
        found="a lone surrogate",
        source=name,
    )


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
