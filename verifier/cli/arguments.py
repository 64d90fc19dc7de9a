"""What every ``verify`` subcommand shares about its arguments: the exit statuses, the usage error, the parser
that raises it, and the types of numeric options (bounded here, so no subcommand accepts a count it cannot act
on)."""

from __future__ import annotations

import argparse
import importlib.util
from typing import NoReturn

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A problem with how ``verify`` was called; exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised as :class:`UsageError` (one line, exit 2) instead of exiting."""

    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep our one-line form
        raise UsageError(message)


def whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
    return value


def positive(text: str) -> int:
    return whole_number(text, 1)


def non_negative(text: str) -> int:
    return whole_number(text, 0)


def tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
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
