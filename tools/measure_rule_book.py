"""Measure how often ``load`` refuses with the rule and pointer of ``validate``'s first error.

    python tools/measure_rule_book.py [N] [--seed S]

draws N mutated model files (tests/rule_book.py: valid documents with widths up to a few hundred, and the
good files, mutated once or twice; default or tight Limits), compares (rule, pointer) of both sides on each
(as a dict, and as JSON text),
and prints the counts: agreements, disagreements (with the first few), loader crashes (an exception other
than ModelFormatError), and the rules seen. Run it from a checkout with the package installed.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import rule_book  # type: ignore[import-not-found]  # tests/rule_book.py, put on sys.path above
from hypothesis import HealthCheck, Phase, given, seed, settings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tally: collections.Counter[str] = collections.Counter()
    rules: collections.Counter[str] = collections.Counter()
    disagreements: list[str] = []

    @seed(args.seed)
    @settings(
        max_examples=args.count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(doc=rule_book.documents(), limits=rule_book.limits())
    def one(doc, limits) -> None:
        try:
            first, refusal = rule_book.verdicts(doc, limits)
            # The same file as text: read by the native reader, validated on its skeleton.
            text = rule_book.verdicts(rule_book.as_text(doc), limits)
        except Exception as error:  # a crash of either side: the worst outcome, counted and shown
            tally["crash"] += 1
            disagreements.append(f"crash {type(error).__name__}: {error}")
            return
        tally["files"] += 1
        tally["refused" if first else "accepted"] += 1
        rules[first[0] if first else "none"] += 1
        if first == refusal and text == (first, refusal):
            tally["agree"] += 1
        else:
            disagreements.append(
                f"validate {first} load {refusal}; as text: validate {text[0]} load {text[1]}"
            )

    start = time.perf_counter()
    one()
    elapsed = time.perf_counter() - start
    print(
        f"{tally['files']} mutated files in {elapsed:.0f} s: {tally['agree']} agree on (rule, pointer), "
        f"{len(disagreements) - tally['crash']} disagree, {tally['crash']} crashes; "
        f"{tally['refused']} refused, {tally['accepted']} accepted"
    )
    print("first errors:", ", ".join(f"{r} {n}" for r, n in sorted(rules.items())))
    for line in disagreements[:20]:
        print("  ", line)
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
