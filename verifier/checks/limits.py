"""The largest counts a run accepts, wherever they come from: an option, a manifest, a repro folder or a
golden bundle. Each is defined here once; ``schemas/manifest.schema.json`` states the same maxima for the
manifest's keys (tests/test_hostile_inputs.py holds the two equal).

A count beyond these is refused before anything proportional to it is allocated or run: ``--timing-steps
10^12`` asked for 7.28 TiB of samples, ``--steps 10^7`` took 1.2 GB. Each bound is far above what a check
needs (the defaults are 256 compared steps, 2000 timed steps, 200 warm-up steps).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from verifier.quoting import shown

#: time steps of the numeric comparison (--steps; a repro folder's or a golden bundle's rows): 65,536 steps
#: is 1.4 s of audio at 48 kHz, 256 times the default; a step costs ~120 bytes per value of width
MAX_STEPS = 1 << 16
#: timed steps per call pattern (--timing-steps, latency.steps): 8 MiB of int64 samples per pattern
MAX_TIMING_STEPS = 1 << 20
#: untimed steps before the timed ones (latency.warmup)
MAX_WARMUP = 1 << 20
#: copies loaded for the RSS cross-check (--rss-copies, memory.rss_copies); it stops at 4 MiB of growth
MAX_RSS_COPIES = 1000
#: files checked in parallel (--jobs): processes started
MAX_JOBS = 256
#: seed of the random inputs (--seed): the engine's generator takes an unsigned 64-bit seed
MAX_SEED = (1 << 64) - 1
#: seconds a file's reference module may take in its child process (--reference-timeout): one day
MAX_REFERENCE_SECONDS = 24 * 3600
#: a declared count of bytes, parameters or nanoseconds: integers a double holds exactly
MAX_COUNT = 1 << 53
#: characters of a module:factory reference (--against, a manifest's factory); a dotted module path longer
#: than this is no module (file names stop at 255 bytes per part)
MAX_REFERENCE_CHARS = 256
#: a module:factory reference (--against, a manifest's factory): dotted Python names, a colon, a name
REFERENCE_PATTERN = r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*"


def is_tolerance(value: object) -> bool:
    """Whether ``value`` can be a tolerance: a finite number >= 0 (an infinite or NaN one passes or fails
    every output whatever it is; a bool or a string is no number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:  # an int beyond a double
        return False
    return 0 <= number < float("inf")


def whole_number(text: str, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError:  # also an integer of more than 4,300 digits (Python's own limit)
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(repr(text))}") from None
    if not minimum <= value <= maximum:
        raise argparse.ArgumentTypeError(f"must be {minimum} to {maximum}, got {shown(str(value))}")
    return value


def bounded_count(minimum: int, maximum: int) -> Callable[[str], int]:
    """The argparse type of an option counting steps, copies, processes...: a whole number in [minimum,
    maximum] (``verify``'s options and the pytest plugin's alike)."""

    def count(text: str) -> int:
        return whole_number(text, minimum, maximum)

    count.__name__ = "whole number"  # argparse names the type in its own messages
    return count
