"""What every ``verify`` subcommand shares about its arguments: the exit statuses, the usage error, the parser
that raises it, and the types of numeric options (bounded here, so no subcommand accepts a count it cannot act
on)."""

from __future__ import annotations

import argparse
import importlib.util
from typing import NoReturn

from verifier.checks.limits import (
    MAX_JOBS,
    MAX_REFERENCE_SECONDS,
    MAX_RSS_COPIES,
    MAX_SEED,
    MAX_STEPS,
    MAX_TIMING_STEPS,
    bounded_count,
)
from verifier.quoting import shown

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A problem with how ``verify`` was called; exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised as :class:`UsageError` (one line, exit 2) instead of exiting."""

    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep our one-line form
        raise UsageError(message)


def tolerance(text: str) -> float:
    from verifier.checks.limits import is_tolerance

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {shown(repr(text))}") from None
    if not is_tolerance(value):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {shown(text)}")
    return value


# torch is an extra (pyproject.toml): the validate hook and `verify inspect` install without it.
TORCH_HINT = "pip install 'rtneural-verifier[torch]'"


def require_torch(what: str) -> None:
    """A usage error naming the extra when torch is not installed. Asked before the run, not left to it:
    there a missing torch is a failed numeric check that blames the file, or an --against import error, and
    a check that skipped instead would leave the torch-free checks passing alone. Looked up, not imported:
    the run imports torch only after it has validated the files compared with a torch module."""
    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # an import hook refusing it, or a half-removed installation
        found = False
    if not found:
        raise UsageError(f"{what} needs torch, which is not installed: {TORCH_HINT}")


def against(text: str) -> str:
    """``--against``: a checkpoint file, or a ``module:factory`` reference of the form a manifest's factory
    has (an empty module, a lone ``:``, a module name longer than any file name are refused here, not
    handed to the importer)."""
    import os
    import re

    from verifier.checks.limits import MAX_REFERENCE_CHARS, REFERENCE_PATTERN

    if os.path.isfile(text):
        return text
    if ":" in text and (len(text) > MAX_REFERENCE_CHARS or not re.fullmatch(REFERENCE_PATTERN, text)):
        raise argparse.ArgumentTypeError(
            f"{shown(repr(text))}: not MODULE:FACTORY (Python names, at most {MAX_REFERENCE_CHARS} "
            "characters) nor an existing checkpoint file"
        )
    return text


# The numeric options of every subcommand (one type per kind of count; maxima in verifier.checks.limits).
steps = bounded_count(1, MAX_STEPS)
timing_steps = bounded_count(1, MAX_TIMING_STEPS)
rss_copies = bounded_count(0, MAX_RSS_COPIES)
jobs = bounded_count(1, MAX_JOBS)
seed = bounded_count(0, MAX_SEED)
reference_seconds = bounded_count(1, MAX_REFERENCE_SECONDS)
