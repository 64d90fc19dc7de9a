"""Bytes of output ``verify`` and ``verify validate`` write for model files holding one 10 MB string.

    python tools/measure_message_sizes.py [KIND ...]

KIND is one of duplicate-key (the string as a key, twice, with different values), activation, layer-type,
unknown-key (default: these four), or weight-string (a string where a weight belongs). Each file is
fixtures/good/mlp.json with the string put in; each is checked in every report format, report file plus
standard output and error counted. Issue 16 measured 42 MB for the duplicated key before messages were
bounded. Runs the ``verify`` of the current environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from verifier.testing.big_files import STRING_PLACES, long_string_text

GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "good" / "mlp.json"
KINDS = ("duplicate-key", "activation", "layer-type", "unknown-key")
VERIFY_FORMATS = ("text", "json", "markdown", "junit", "sarif", "github", "html")
VALIDATE_FORMATS = ("text", "json", "markdown", "junit", "sarif", "github")


def output_bytes(argv: list[str], report: Path) -> int:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    run = subprocess.run([*argv, "-o", str(report)], capture_output=True, env=env, check=False)
    size = len(run.stdout) + len(run.stderr)
    if report.exists():
        size += report.stat().st_size
        report.unlink()
    return size


def main(kinds: list[str]) -> None:
    unknown = [kind for kind in kinds if kind not in STRING_PLACES]
    if unknown:
        sys.exit(f"unknown kind {unknown[0]!r}: one of {', '.join(STRING_PLACES)}")
    verify = shutil.which("verify") or sys.exit("no verify on PATH: install the package first")
    folder = Path(tempfile.mkdtemp(prefix="message-sizes-"))
    try:
        print("| file | command | format | bytes |\n|---|---|---|---|")
        for kind in kinds or KINDS:
            path = folder / f"{kind}.json"
            path.write_text(long_string_text(kind, json.loads(GOOD.read_text())))
            for command, extra, formats in (
                ("verify", ["--no-manifest", "--no-timing"], VERIFY_FORMATS),
                ("verify validate", ["validate"], VALIDATE_FORMATS),
            ):
                for fmt in formats:
                    size = output_bytes([verify, *extra, "--format", fmt, str(path)], folder / "report")
                    print(f"| {kind} | {command} | {fmt} | {size:,} |", flush=True)
            path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
