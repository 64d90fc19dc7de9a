"""Fuzz the readers from bytes with atheris (libFuzzer): ``tox -e fuzz``.

    python tests/fuzz/fuzz_load.py [--target=load|manifest|report|repro] [libFuzzer options]

Targets: ``load`` (load and validate of a model file, tests/fuzz/target.py) and the other readers (the
manifest, a report and every format it renders to, a repro folder; tests/fuzz/readers.py). Without
--target every target runs in turn, each in its own process (libFuzzer ends the process it runs in), the
budget shared between them by wall clock (start-ups included). The budget is ``-max_total_time=<s>`` (or
``-runs=<n>``, given to each target) on the command line, else $FUZZ_SECONDS (default 120) in all.

Seeds: for ``load``, fixtures/good, fixtures/bad and the tiny hand-made cases of tests/fuzz/seeds; for the
others, a well-formed input of each made by tests/fuzz/readers.py. New inputs that reach new code go to
build/fuzz-corpus/<target> (not committed). A crasher of ``load`` -- an exception other than our own errors,
a disagreement between load and validate, a native crash, a hang over 10 s or more than 2 GB -- is written
to fixtures/fuzz-crashers/, where tests/test_fuzz_crashers.py replays it in every test run; a crasher of
another reader goes to build/fuzz-crashers/<target>/, to be fixed in that reader and pinned by its tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

TARGETS = ("load", "manifest", "report", "repro")


def _budget(options: list[str]) -> list[str]:
    if any(o.startswith(("-max_total_time=", "-runs=")) for o in options):
        return options
    return [*options, f"-max_total_time={int(os.environ.get('FUZZ_SECONDS', '120'))}"]


def run_all(options: list[str]) -> int:
    """Every target in turn, in a child process each; the worst exit status. A time budget is shared by
    wall clock: each target gets an even part of what is left, so the start-up of the processes (imports,
    instrumenting thousands of functions: seconds each) comes out of the budget instead of adding to it."""
    options = _budget(options)
    total = next((int(o.split("=", 1)[1]) for o in options if o.startswith("-max_total_time=")), None)
    others = [o for o in options if not o.startswith("-max_total_time=")]
    deadline = time.monotonic() + (total or 0)
    codes = []
    for done, target in enumerate(TARGETS):
        budget = others
        if total is not None:
            share = int((deadline - time.monotonic()) / (len(TARGETS) - done))
            budget = [*others, f"-max_total_time={max(1, share)}"]
        codes.append(subprocess.call([sys.executable, __file__, f"--target={target}", *budget]))
    return max(codes)


def fuzz(target: str, options: list[str]) -> None:
    import atheris

    if target == "load":
        from target import check

        crashers = REPO / "fixtures" / "fuzz-crashers"
        seeds = [REPO / "fixtures" / "good", REPO / "fixtures" / "bad", HERE / "seeds"]
        extra = [f"-dict={HERE / 'json.dict'}"]
    else:
        from readers import TARGETS as READERS
        from readers import seeds as made_seeds

        check = READERS[target]
        crashers = REPO / "build" / "fuzz-crashers" / target
        seed_folder = REPO / "build" / "fuzz-seeds" / target
        seed_folder.mkdir(parents=True, exist_ok=True)
        for name, data in made_seeds(target).items():
            (seed_folder / name).write_bytes(data)
        seeds = [seed_folder]
        extra = [f"-dict={HERE / 'json.dict'}"] if target != "repro" else []
    # After the imports: instrument_imports misses modules an editable install loads through its own finder.
    atheris.instrument_all()
    corpus = REPO / "build" / "fuzz-corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    crashers.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        f"-artifact_prefix={crashers}{os.sep}",
        *extra,
        "-max_len=65536",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        *_budget(options),
        str(corpus),
        *map(str, seeds),
    ]
    atheris.Setup(argv, check)
    atheris.Fuzz()


def main() -> None:
    targets = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--target=")]
    options = [a for a in sys.argv[1:] if not a.startswith("--target=")]
    if not targets:
        sys.exit(run_all(options))
    if targets[0] not in TARGETS:
        sys.exit(f"unknown target {targets[0]!r}; one of {', '.join(TARGETS)}")
    fuzz(targets[0], options)


if __name__ == "__main__":
    main()
