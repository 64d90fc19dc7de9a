"""The fresh process of the RSS cross-check (``python -m verifier.checks.rss_probe``), run by
:func:`verifier.checks.budgets.measure_rss_of_files`.

It imports the engine module only (no numpy, no torch; ``verifier``'s own ``__init__`` imports nothing heavy),
so that it starts in tens of milliseconds. One process measures every file given, one after the other: each
file is read and parsed once in C++ and every copy is loaded from that one document (no copy parses JSON
again). The limits (``verifier.format.findings.Limits``) come in as arguments: the engine has no defaults of
its own. The loader checks every array of a file before it builds a layer, so its temporaries (the weights
read as doubles) are freed between the arrays the copies keep; the holes stayed resident and, on glibc, made
RSS count ~10 % more than emotion_recognizer's copies hold. ``malloc_trim`` before each reading returns every
free page inside the heap, so neither those holes nor the memory of a file measured earlier count, and memory
reused from them is counted again as it is touched. Transparent huge pages are switched off for the process:
a 2 MiB page would make RSS grow in steps as large as a copy. Each file answers one line,
``ok COPIES BEFORE AFTER`` or ``error MESSAGE``, so one bad file costs only its own.

Arguments: ``DTYPE MOST LEAST TARGET WIDTH PARAMETERS STATE DEPTH FILE...``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable, Sequence

# PR_SET_THP_DISABLE (linux/prctl.h): RSS then grows by 4 KiB pages, never by 2 MiB ones.
_PR_SET_THP_DISABLE = 41


def _rss_reader() -> Callable[[], int]:
    if os.path.exists("/proc/self/statm"):
        page = os.sysconf("SC_PAGE_SIZE")

        def statm() -> int:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * page

        return statm
    import psutil  # only where /proc is absent (macOS)

    return lambda: int(psutil.Process().memory_info().rss)


def _trim() -> Callable[[int], int]:
    """glibc's malloc_trim (gives the free pages inside the heap back), else a no-op; THP off on Linux."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return lambda pad: 0
    with contextlib.suppress(AttributeError):  # no prctl: not Linux
        libc.prctl(_PR_SET_THP_DISABLE, *(ctypes.c_ulong(word) for word in (1, 0, 0, 0)))
    return trim


def main(argv: Sequence[str]) -> int:
    import _verifier_engine as engine

    dtype, most, least, target = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    width, parameters, state, depth = (int(word) for word in argv[4:8])
    model_class = {"float32": engine.Model32, "float64": engine.Model64}[dtype]
    limits = {
        "max_layer_width": width,
        "max_total_parameters": parameters,
        "max_state_values": state,
        "max_depth": depth,
    }
    rss, trim = _rss_reader(), _trim()
    for path in argv[8:]:
        try:
            with open(path, "rb") as handle:
                document = engine.read_json(handle.read(), depth)
            first = model_class(document, **limits)  # loaded and dropped: one-time costs are paid first
            wanted = -(-target // first.bytes_held) if target and first.bytes_held else most
            copies = min(most, max(least, wanted))
            del first
            trim(0)
            before = rss()
            held = [model_class(document, **limits) for _ in range(copies)]
            trim(0)
            after = rss()
            del held, document
            print("ok", copies, before, after, flush=True)
        except Exception as exc:  # one line per file: a bad file costs only its own answer
            print("error", type(exc).__name__ + ":", " ".join(str(exc).split()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
