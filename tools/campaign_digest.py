"""Which examples a property campaign tried: one line per property, its example count and a digest of them.

Two runs of the campaign drew the same examples in the same order exactly when their lines are equal: this
is how a serial run and a pytest-xdist run (``-n 2``) of the same seed are compared::

    HYPOTHESIS_STORAGE_DIRECTORY=/tmp/serial HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER=1 \\
        HYPOTHESIS_PROFILE=thorough pytest tests/test_properties.py --hypothesis-seed=1
    (the same with /tmp/parallel and -n 2)
    diff <(python tools/campaign_digest.py /tmp/serial) <(python tools/campaign_digest.py /tmp/parallel)

It reads the test-case observations Hypothesis writes under its storage directory (``observed/*.jsonl``)
when ``HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER`` (or ``..._OBSERVABILITY``) is set. Each example
counts with its outcome and its printed arguments; timings and process ids are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path


def digests(storage: Path) -> dict[str, tuple[int, str]]:
    """Per property (its pytest node id): how many test cases were observed, and the SHA-256 of their
    outcomes and arguments in the order they ran."""
    cases: dict[str, list[str]] = defaultdict(list)
    for path in sorted((storage / "observed").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("type") != "test_case":
                continue
            cases[record["property"]].append(f"{record['status']}\x00{record['representation']}")
    return {
        name: (len(seen), hashlib.sha256("\x01".join(seen).encode("utf-8", "surrogatepass")).hexdigest()[:16])
        for name, seen in sorted(cases.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("storage", type=Path, help="the run's HYPOTHESIS_STORAGE_DIRECTORY")
    args = parser.parse_args()
    found = digests(args.storage)
    if not found:
        raise SystemExit(f"no test-case observations under {args.storage / 'observed'}")
    for name, (count, digest) in found.items():
        print(f"{digest} {count:7d} {name}")


if __name__ == "__main__":
    main()
