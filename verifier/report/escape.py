"""Text of a report made safe for the format it is written in.

A report quotes what a user gave: file names, model names, summaries that quote a key of the file. Any of it
may hold a newline (which would split one finding over two lines, or start a new GitHub workflow command),
a terminal escape sequence, a bidirectional override that shows a name other than the one it is, a NUL or a
character XML 1.0 cannot hold, or a lone surrogate that no UTF-8 stream can write. :func:`visible` turns each
of them into a backslash escape (``\\n``, ``\\x1b``, ``\\ud800``), so a report line shows what is there and
stays one line; every format applies it, then its own syntax's escaping (:func:`markdown_text`,
:func:`markdown_code`, :func:`plot_text` here; HTML and XML by their libraries).
"""

from __future__ import annotations

import re

from verifier.quoting import shown

__all__ = ["markdown_code", "markdown_text", "plot_text", "visible"]

# C0 and C1 controls and DEL; the line and paragraph separators (editors break lines there); the
# bidirectional embeddings, overrides and isolates (they reorder what a reader sees); surrogates (never
# valid alone in UTF-8); U+FFFE/U+FFFF (not characters, refused by XML).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Markdown punctuation that starts emphasis, code, links, strike-through, GitHub's math ($) or a table cell.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~$])")
#: characters of a name shown in a plot (a tick label of megabytes would leave no room for the axes)
PLOT_LABEL_CHARS = 60


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` on one line, with every character listed above as its backslash escape."""
    return _UNSAFE.sub(_escape, str(text))


def markdown_text(text: object) -> str:
    """``text`` for a Markdown table cell or paragraph: shown literally (no HTML, emphasis, link or math)."""
    out = visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", out)


def markdown_code(text: object) -> str:
    """``text`` as a code span in a Markdown table cell: a fence longer than any run of backticks inside,
    and ``\\|`` for a pipe (GitHub splits cells before it reads code spans)."""
    out = visible(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", out)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if out.startswith("`") or out.endswith("`") or not out.strip() else ""
    return f"{fence}{pad}{out}{pad}{fence}"


def plot_text(text: object, limit: int = PLOT_LABEL_CHARS) -> str:
    """``text`` for a matplotlib label: cut, and every ``$`` escaped so that mathtext does not parse it (an
    unbalanced or invalid formula is an exception when the figure is drawn)."""
    return shown(visible(text), limit).replace("$", r"\$")
