"""Reading a keras-json document from a path, JSON text, bytes or an already-parsed dict.

Text is parsed once, in C++ (``read_json`` of the compiled module ``_verifier_engine``, native/json_reader.h),
straight from the bytes: no Python object tree is built unless a caller asks for one (:attr:`Document.tree`),
and the engine loads from the C++ document directly. Python's json module accepts things RTNeural's parser
(nlohmann) refuses or that would make the file mean something else than it says: duplicate keys (the last
one silently wins), ``NaN``/``Infinity`` literals, lone surrogate escapes, integers beyond a double, very deep
nesting. The native reader refuses each with its rule id (RTN-E002 empty, E003 not UTF-8, E004 syntax, E005
non-finite, E006 duplicate key, E302 too deep) and, where it is known, the place; here it becomes a
:class:`ModelFormatError` naming the source.

Only regular files are read: a FIFO, a directory or a device is refused (RTN-E001) without being opened
for reading, so a path never blocks or streams forever.
"""

from __future__ import annotations

import gc
import math
import os
import stat
from typing import Any

from verifier.errors import ModelFormatError

#: Files larger than this are refused before reading (a large production model is a few tens of MB).
MAX_BYTES = 256 * 1024 * 1024
#: Deeper nesting is refused; legitimate keras-json nests 9 levels (conv2d kernels).
MAX_DEPTH = 64


class Document:
    """One document, read and parsed once: ``native`` (the C++ tree the engine loads from, ``None`` for a dict
    given by the caller), ``name`` for messages, ``size`` in bytes of its text (0 for a dict).

    :attr:`tree` is the Python view (dict/list/...), built on first use and kept until :meth:`drop_tree`.
    """

    __slots__ = ("_tree", "name", "native", "size")

    def __init__(
        self, name: str, native: Any = None, tree: dict[str, Any] | None = None, size: int = 0
    ) -> None:
        self.name = name
        self.native = native
        self.size = size
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

    def drop_tree(self) -> None:
        """Free the Python view (a parsed dict given by the caller is kept: it is the document)."""
        if self.native is not None:
            self._tree = None


def read(source: str | os.PathLike[str] | dict[str, Any] | bytes | Document) -> Document:
    """The :class:`Document` of ``source``; a ``Document`` is returned as is.

    A ``str`` whose first non-space character is ``{`` is JSON text; any other ``str`` is a path. A dict is
    checked (key types, depth, finite numbers) and kept as is, never modified.
    """
    if isinstance(source, Document):
        return source
    if isinstance(source, dict):
        _check_tree(source, "<dict>")
        return Document("<dict>", tree=source)
    if isinstance(source, bytes | bytearray):
        return _parse_bytes(bytes(source), "<bytes>")
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _parse_text(source, "<string>")
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        return _parse_bytes(_read_file(name), name)
    raise TypeError(f"read_document() takes a path, JSON text, bytes or a dict, not {type(source).__name__}")


def read_document(source: str | os.PathLike[str] | dict[str, Any] | bytes) -> tuple[dict[str, Any], str]:
    """The parsed document as a Python tree and a display name (the path as given, ``<string>``,
    ``<bytes>`` or ``<dict>``). A dict is returned as is, never copied."""
    document = read(source)
    return document.tree, document.name


def _unreadable(name: str, reason: str) -> ModelFormatError:
    return ModelFormatError("", f"cannot read the file: {reason}", source=name, rule="RTN-E001")


_NOT_REGULAR = (
    (stat.S_ISDIR, "it is a directory"),
    (stat.S_ISFIFO, "it is a FIFO (named pipe)"),
    (stat.S_ISCHR, "it is a character device"),
    (stat.S_ISBLK, "it is a block device"),
    (stat.S_ISSOCK, "it is a socket"),
)


def _read_file(name: str) -> bytes:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the kind of file is then checked on the open
    # descriptor (no race with a rename between a stat and the open).
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _unreadable(name, error.strerror or str(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            why = next(
                (text for test, text in _NOT_REGULAR if test(info.st_mode)), "it is not a regular file"
            )
            raise _unreadable(name, f"{why}; only regular files are read")
        if info.st_size > MAX_BYTES:
            raise _too_large(name, "file too large", f"{info.st_size} bytes")
        # Normally one read of the size stat reported; bounded by the limit, not by that size, since the file
        # may grow while it is read.
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_BYTES:
            chunk = os.read(fd, min(MAX_BYTES + 1 - total, max(info.st_size + 1 - total, 1 << 16)))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise _unreadable(name, error.strerror or str(error)) from None
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(name: str, message: str, found: str, unit: str = "bytes") -> ModelFormatError:
    return ModelFormatError(
        "", message, rule="RTN-E301", expected=f"at most {MAX_BYTES} {unit}", found=found, source=name
    )


def _parse_bytes(data: bytes, name: str) -> Document:
    if len(data) > MAX_BYTES:
        raise _too_large(name, "document too large", f"{len(data)} bytes")
    try:
        import _verifier_engine as native
    except ImportError as missing:
        raise ImportError(
            "the JSON reader is native (the extension module _verifier_engine) and is not installed: "
            "install the package (`pip install .`, or `pip install --no-build-isolation -e .`)"
        ) from missing
    try:
        parsed = native.read_json(data, MAX_DEPTH)
    except native.ReadError as error:
        rule, pointer, message, expected, found = error.args
        raise ModelFormatError(
            pointer, message, rule=rule, expected=expected or None, found=found or None, source=name
        ) from None
    return Document(name, native=parsed, size=len(data))


def _parse_text(text: str, name: str) -> Document:
    if len(text) > MAX_BYTES:
        raise _too_large(name, "document too large", str(len(text)), unit="characters")
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
    return _parse_bytes(data, name)


def _check_tree(doc: dict[str, Any], name: str) -> None:
    """A caller's dict: depth, key types and finite numbers, walked iteratively (no recursion limit to hit).

    Text never comes here: the native reader checks the same while parsing."""
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
                _check_encodable(key, pointer, name)
                stack.append((value, f"{pointer}/{_escape(key)}", depth + 1))
        elif isinstance(node, list):
            stack.extend((value, f"{pointer}/{i}", depth + 1) for i, value in enumerate(node))
        elif isinstance(node, str):
            _check_encodable(node, pointer, name)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ModelFormatError(
                pointer,
                "numbers must be finite",
                expected="a finite number",
                found=repr(node),
                source=name,
                rule="RTN-E005",
            )


def _check_encodable(text: str, pointer: str, name: str) -> None:
    """A str with a lone surrogate has no UTF-8 form: no file could hold it, the engine cannot take it, and
    a message quoting it could not be printed. ``pointer`` is where it sits (its parent, for a key)."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ModelFormatError(
            pointer,
            f"a string holds a lone surrogate at character {error.start} (no UTF-8 form)",
            rule="RTN-E003",
            expected="UTF-8 text",
            found=ascii(text[:40]),
            source=name,
        ) from None


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
