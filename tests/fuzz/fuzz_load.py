"""Fuzz ``load`` and ``validate`` from bytes with atheris (libFuzzer): ``tox -e fuzz``.

    python tests/fuzz/fuzz_load.py [libFuzzer options]

Seeds: fixtures/good, fixtures/bad and the tiny hand-made cases of tests/fuzz/seeds; new inputs that reach
new code go to build/fuzz-corpus (not committed). The budget is ``-max_total_time=<s>`` (or ``-runs=<n>``)
on the command line, else $FUZZ_SECONDS (default 120). Every crasher -- an exception other than our own
errors, a disagreement between load and validate, a native crash, a hang over 10 s or more than 2 GB --
is written to fixtures/fuzz-crashers/, where tests/test_fuzz_crashers.py replays it in every test run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from target import check  # noqa: E402

# After the import: instrument_imports misses modules an editable install loads through its own finder.
atheris.instrument_all()


def main() -> None:
    options = sys.argv[1:]
    if not any(o.startswith(("-max_total_time=", "-runs=")) for o in options):
        options.append(f"-max_total_time={int(os.environ.get('FUZZ_SECONDS', '120'))}")
    corpus = REPO / "build" / "fuzz-corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    crashers = REPO / "fixtures" / "fuzz-crashers"
    seeds = [REPO / "fixtures" / "good", REPO / "fixtures" / "bad", HERE / "seeds"]
    argv = [
        sys.argv[0],
        f"-artifact_prefix={crashers}{os.sep}",
        f"-dict={HERE / 'json.dict'}",
        "-max_len=65536",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        *options,
        str(corpus),
        *map(str, seeds),
    ]
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
