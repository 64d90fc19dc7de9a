"""Peak memory and wall time of validate, load (float32 and float64) and verify on model files of 1, 20 and
200 MB (issue 16: cost in proportion to the file). Each run is a fresh process; its peak RSS (the whole
process tree, polled) and wall time are printed as a table, with the interpreter's baseline (the same
command on a 4-wide model) to subtract. A run beyond --max-seconds or --max-mb is stopped and shown as ">".

    python tools/measure_big.py [--sizes 1 20 200] [--classes valid unknown badshape rows] [--commands ...]

The files are written by verifier.testing.big_files into a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from verifier.testing.big_files import CLASSES, model_text, write

_LOAD = (
    "import sys, verifier\n"
    "try:\n    verifier.load(sys.argv[1], sys.argv[2])\n"
    "except verifier.ModelFormatError as error:\n    print(error.rule, error.pointer)\n"
)
_BIN = Path(sys.executable).parent
COMMANDS = {
    "validate": lambda f: [str(_BIN / "verify"), "validate", f],
    "load32": lambda f: [sys.executable, "-c", _LOAD, f, "float32"],
    "load64": lambda f: [sys.executable, "-c", _LOAD, f, "float64"],
    "verify": lambda f: [str(_BIN / "verify"), "--no-manifest", "--no-timing", f],
}


def run(argv: list[str], max_seconds: float, max_bytes: int) -> tuple[int, float, bool, str]:
    """(peak RSS in bytes, wall seconds, stopped early, last output line) of one run."""
    # /usr/bin/time reports the exact peak of the child (polling can miss a short one); the polling below
    # only stops a run that goes beyond the caps.
    handle, report = tempfile.mkstemp(suffix=".time")
    os.close(handle)
    start = time.perf_counter()
    child = psutil.Popen(
        ["/usr/bin/time", "-f", "%M", "-o", report, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peak, stopped = 0, False
    while child.poll() is None:
        try:
            procs = [child, *child.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        if peak > max_bytes or time.perf_counter() - start > max_seconds:
            # The command runs under /usr/bin/time: stop it first, or it would run on holding the pipe.
            for process in [*child.children(recursive=True), child]:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            stopped = True
            break
        time.sleep(0.02)
    out = child.communicate()[0].decode(errors="replace").strip().splitlines()
    text = Path(report).read_text().strip().splitlines()
    Path(report).unlink()
    if not stopped and text and text[-1].isdigit():
        peak = int(text[-1]) * 1024
    return peak, time.perf_counter() - start, stopped, (out[-1][:70] if out else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--classes", nargs="+", default=list(CLASSES), choices=CLASSES)
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--max-mb", type=int, default=6000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="measure_big_"))
    try:
        tiny = folder / "tiny.json"
        tiny.write_text(model_text("valid", 10), encoding="ascii")
        for name in args.commands:
            peak, wall, _, _ = run(COMMANDS[name](str(tiny)), args.max_seconds, args.max_mb << 20)
            print(f"baseline {name:8s} {peak / 2**20:8.0f} MB {wall:7.2f} s", flush=True)
        print(f"{'file':18s} {'command':8s} {'peak RSS':>11s} {'wall':>9s}  output")
        for size in args.sizes:
            for kind in args.classes:
                path = write(folder, kind, size)
                for name in args.commands:
                    argv = COMMANDS[name](str(path))
                    peak, wall, stopped, last = run(argv, args.max_seconds, args.max_mb << 20)
                    mark = ">" if stopped else " "
                    print(
                        f"{path.name:18s} {name:8s} {mark}{peak / 2**20:7.0f} MB {mark}{wall:7.2f} s  {last}",
                        flush=True,
                    )
                path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
