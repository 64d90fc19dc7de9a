"""The property the fuzzer checks on the other readers: for any bytes, the manifest reader, the report reader
(and every format a report renders to) and the repro folder reader either answer or raise the project's own
error -- a VerifierError subclass, or the CLI's UsageError for a report -- and nothing else.

Each target takes the fuzzer's bytes as its file(s): the manifest and the report are one file each; a repro
folder is check.json, model.json, inputs.csv and expected.csv, the bytes split at ``REPRO_SEPARATOR``.
``SEEDS`` holds a well-formed input of each, for the fuzzer to start from.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

from verifier.cli.arguments import UsageError
from verifier.errors import VerifierError

REPRO_SEPARATOR = b"\n%%\n"
REPRO_FILES = ("check.json", "model.json", "inputs.csv", "expected.csv")


class UnexpectedError(AssertionError):
    """A reader let an exception other than the project's own errors out."""


@cache
def _folder() -> Path:
    """One folder per process, its files rewritten by every input (the fuzzer runs millions)."""
    return Path(tempfile.mkdtemp(prefix="fuzz_readers_"))


def _file(name: str, data: bytes) -> Path:
    path = _folder() / name
    path.write_bytes(data)
    return path


def _own_errors_only(read, *args) -> object:
    try:
        return read(*args)
    except (VerifierError, UsageError):
        return None
    except Exception as error:
        where = f"{read.__module__}.{read.__qualname__}"
        raise UnexpectedError(f"{where}: {type(error).__name__}: {error}") from error


def check_manifest(data: bytes) -> None:
    from verifier.checks.run.manifest import load_manifest, parse_manifest

    path = _file("verifier.json", data)
    _own_errors_only(load_manifest, path)
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return
    _own_errors_only(parse_manifest, parsed, path)


def check_report(data: bytes) -> None:
    from verifier.cli.files import read_report
    from verifier.report.formats import FORMATS, format_report

    run = _own_errors_only(read_report, str(_file("report.json", data)), "report")
    if run is None:
        return
    for fmt in FORMATS:
        if fmt != "html":  # matplotlib's figure per run would make each input take seconds
            _own_errors_only(format_report, run, fmt)


def check_repro(data: bytes) -> None:
    from verifier.checks.diagnose.repro import replay

    parts = data.split(REPRO_SEPARATOR, len(REPRO_FILES) - 1)
    for name in REPRO_FILES:
        (_folder() / name).unlink(missing_ok=True)
    for name, part in zip(REPRO_FILES, parts, strict=False):
        _file(name, part)
    _own_errors_only(replay, _folder())


_TINY_MODEL = (
    '{"in_shape": [null, 2], "layers": [{"type": "dense", "activation": "tanh", "shape": [null, 1], '
    '"weights": [[[0.5], [-0.25]], [0.1]]}]}'
)
_META = {
    "format": "rtneural-verifier-repro",
    "format_version": 1,
    "check": "agreement/stream",
    "pattern": "stream",
    "dtype": "float32",
    "atol": 1e-6,
    "rtol": 1e-5,
    "rule": None,
    "origin": "model.json",
    "layers": [0],
}


def _report_seed() -> bytes:
    from verifier.checks.results import PASS, Check, FileResult, RunResult

    run = RunResult(files=(FileResult(path="model.json", checks=(Check("validate", PASS, "valid"),)),))
    return json.dumps(run.to_dict()).encode()


def _repro_seed(meta: dict) -> bytes:
    parts = [json.dumps(meta).encode(), _TINY_MODEL.encode(), b"0.5,-1.0\n1.0,0.0\n", b"0.2\n0.5\n"]
    return REPRO_SEPARATOR.join(parts)


def seeds(target: str) -> dict[str, bytes]:
    """Well-formed inputs of ``target`` (made here: no fixture of a report or repro folder is committed)."""
    if target == "manifest":
        root = Path(__file__).resolve().parents[2]
        return {"production.json": (root / "fixtures" / "production" / "manifest.json").read_bytes()}
    if target == "report":
        return {"report.json": _report_seed()}
    if target == "repro":
        broken = {**_META, "pattern": None, "check": "load"}  # a file that failed to validate or load
        return {"stream": _repro_seed(_META), "format": _repro_seed(broken)}
    raise ValueError(target)


TARGETS = {"manifest": check_manifest, "report": check_report, "repro": check_repro}
