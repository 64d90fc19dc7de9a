"""Values of the user's file quoted in a message, a finding or a report: cut to a fixed length, size stated.

A key, a layer type or an activation name may be megabytes long in a hostile file; a message that echoes it
whole makes the report as large as the file (a duplicated 10 MB key made 42 MB of output). Every message
that quotes a value of the document goes through :func:`quoted` (or :func:`shown` for text written without
quotes) and every JSON pointer through :func:`shown_pointer` (a pointer holds the keys on its way);
native/quoting.h cuts the C++ reader's and loader's quotations at the same length. It sits below every other
module of the package (verifier.errors bounds its fields with it).
"""

from __future__ import annotations

import re

#: characters of a value shown in a message; the rest is replaced by its size
MAX_QUOTED = 40
#: characters of any one text field of a finding (a message built from several quoted values stays short;
#: this only catches what was not quoted through here)
MAX_FIELD = 2000


def _size(text: str) -> str:
    return f"{len(text):,} characters"


def shown(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` as is when short, else its first ``limit`` characters, an ellipsis and its size."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({_size(text)})"


def quoted(value: object, limit: int = MAX_QUOTED) -> str:
    """``repr(value)`` for a message, cut: a long string as ``'aaaa…' (10,485,760 characters)``."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        head = repr(value[:limit])
        return f"{head[:-1]}…{head[-1]} ({_size(value)})"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({_size(text)})"


def bounded(text: str | None) -> str | None:
    """A finding's field (message, expected, found) within :data:`MAX_FIELD` characters."""
    return None if text is None else shown(text, MAX_FIELD)


_CUT = re.compile(r"… \([0-9,]+ characters\)\Z")


def shown_pointer(pointer: str) -> str:
    """A JSON pointer with each segment longer than :data:`MAX_QUOTED` cut like :func:`shown` (the cut
    segment holds no ``/``, so the pointer keeps its depth). A segment already cut is left as it is, so that
    a pointer passed on from an error to a finding keeps the size of the original key."""
    if len(pointer) <= MAX_QUOTED:
        return pointer
    return "/".join(
        segment if _CUT.search(segment[MAX_QUOTED:]) else shown(segment) for segment in pointer.split("/")
    )


def exception_text(exc: BaseException) -> str:
    """``TypeName: message`` of an exception for a check or a report, within :data:`MAX_FIELD` (user code
    -- a factory, a checkpoint -- may raise with a message of any size)."""
    return shown(f"{type(exc).__name__}: {exc}", MAX_FIELD)
