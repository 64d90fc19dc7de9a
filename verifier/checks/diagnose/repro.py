"""A repro folder: a reduced failing case that reproduces without the torch module or the original model.

``write_repro(reduction, directory)`` writes:

* ``model.json``: the reduced model (a keras-json file like any other);
* ``inputs.csv``, ``expected.csv``, ``actual.csv``: ``[steps x width]``, one line per step, comma-separated,
  no header, every value as the shortest text that reads back as the same double (numeric failures only);
  ``expected`` is the reference module in float64, ``actual`` what the engine computed;
* ``check.json``: which check failed and how to judge it again (pattern, dtype, atol, rtol; or the rule id);
* ``README.md``: what was reduced from what, and the command that reproduces the failure from the folder.

``replay(directory)`` runs the engine on ``inputs.csv`` and judges it against ``expected.csv`` exactly as
the original check did (``verify replay DIR``): a failing check means the failure reproduces.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verifier.checks.diagnose.reduce import Reduction
from verifier.checks.results import FAIL, PASS, Check
from verifier.errors import VerifierError
from verifier.quoting import MAX_FIELD, shown

__all__ = ["ReproError", "check_target", "replay", "write_repro"]

FORMAT = "rtneural-verifier-repro"
FORMAT_VERSION = 1
FILES = ("model.json", "inputs.csv", "expected.csv", "actual.csv", "check.json", "README.md")


class ReproError(VerifierError):
    """A repro folder that cannot be written (the target holds other files) or read (malformed)."""


def _csv_text(values: np.ndarray) -> str:
    rows = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def _read_csv(path: Path) -> np.ndarray:
    from verifier.checks.limits import MAX_STEPS
    from verifier.format.findings import Limits
    from verifier.format.reader.guarded import InputError, read_csv

    try:
        return read_csv(path, max_rows=MAX_STEPS, max_columns=Limits().max_layer_width)
    except InputError as exc:
        raise ReproError(str(exc)) from None


def write_repro(
    reduction: Reduction, directory: str | Path, *, origin: str, command: str, inputs: Sequence[str] = ()
) -> list[Path]:
    """Write the folder (created if needed). Only an earlier repro folder's own files are replaced: a folder
    holding anything else, or holding one of ``inputs`` (the files the reduction read, ``origin`` always
    among them), is refused. ``origin`` names the original file, ``command`` the reduce command that made it
    (both go into the README)."""
    from verifier.format.reader.guarded import InputError, write_file
    from verifier.pytorch.export import document_bytes

    out = Path(directory)
    given = [origin, *inputs]
    check_target(out, given)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "check": reduction.check,
        "pattern": reduction.pattern,
        "dtype": reduction.dtype,
        "atol": reduction.atol,
        "rtol": reduction.rtol,
        "rule": reduction.rule,
        "origin": _unicode(origin),
        "layers": list(reduction.layers),
        "steps": None if reduction.steps is None else list(reduction.steps),
        "diverging_layer": None if reduction.divergence is None else _cut(reduction.divergence.to_dict()),
    }
    # check.json first: it marks the folder as ours, so that a folder left half written by an interrupted
    # run may be written again.
    contents: dict[str, str | bytes] = {"check.json": json.dumps(meta, indent=2) + "\n"}
    contents["model.json"] = document_bytes(reduction.doc)
    if reduction.inputs is not None:
        contents["inputs.csv"] = _csv_text(np.asarray(reduction.inputs))
        contents["expected.csv"] = _csv_text(np.asarray(reduction.expected))
        contents["actual.csv"] = _csv_text(np.asarray(reduction.actual))
    contents["README.md"] = readme(reduction, out, origin=origin, command=command)
    out.mkdir(parents=True, exist_ok=True)
    for stale in FILES:
        (out / stale).unlink(missing_ok=True)
    try:
        for name, content in contents.items():
            write_file(out / name, content, inputs=given, what="repro file")
    except InputError as exc:
        raise ReproError(str(exc)) from None
    return [out / name for name in FILES if name in contents]


def _unicode(text: str) -> str:
    """``text`` with any lone surrogate written as its escape (``\\udcff``): a file name of bytes in no
    encoding reaches us as os.fsdecode's surrogates, which neither UTF-8 nor a JSON reader holds."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _cut(values: dict[str, Any]) -> dict[str, Any]:
    """The diverging layer's texts cut to MAX_FIELD characters: module names come from the user's code, and
    check.json must stay within the cap replay reads it with (MAX_REPRO_META_BYTES)."""
    return {
        key: _unicode(shown(value, MAX_FIELD)) if isinstance(value, str) else value
        for key, value in values.items()
    }


def check_target(out: Path, inputs: Sequence[str]) -> None:
    """ReproError unless ``out`` is new, empty, or an earlier repro folder holding none of ``inputs``."""
    from verifier.format.reader.guarded import same_file

    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise ReproError(f"{out} exists and is not a directory")
    present = sorted(p.name for p in out.iterdir())
    if not present:
        return
    for name in FILES:
        if any(same_file(out / name, given) for given in inputs):
            raise ReproError(f"{out / name} is an input of this reduction; give an empty or new folder")
    strangers = [name for name in present if name not in FILES]
    if strangers:
        raise ReproError(f"{out} holds other files ({', '.join(strangers[:3])}); give an empty or new folder")
    try:
        read_meta(out)
    except ReproError:
        # Files named like ours but no check.json of ours: someone else's model.json, never replaced.
        raise ReproError(
            f"{out} holds {', '.join(present[:3])} but is not a repro folder; give an empty or new folder"
        ) from None


def readme(reduction: Reduction, directory: Path, *, origin: str, command: str) -> str:
    a, b = reduction.layers
    kept = f"layer {a}" if b - a == 1 else f"layers {a}..{b - 1}"
    replay_command = f"verify replay {shlex.quote(str(directory))}"
    lines = [
        f"# Reduced failure of `{origin}`",
        "",
        f"The `{reduction.check}` check fails on {kept} of the original {reduction.original_layers} "
        f"({reduction.parameters:,} of {reduction.original_parameters:,} parameters).",
        "",
    ]
    if reduction.pattern is not None:
        s, t = reduction.steps or (0, 0)
        call = (
            "each step from zero state (reset before every forward())"
            if reduction.pattern == "frame"
            else "one stream from zero state (reset once)"
        )
        lines += [
            f"- `inputs.csv`: {t - s + 1} step(s) (original steps {s}..{t}), what the reference module "
            "computes just before the kept layers from the original inputs",
            "- `expected.csv`: the reference module's layers that these entries stand for, in float64",
            f"- `actual.csv`: the engine at {reduction.dtype}, {call}",
            f"- judged at atol {reduction.atol:g}, rtol {reduction.rtol:g} (the original check's tolerance)",
        ]
        d = reduction.divergence
        if d is not None and d.index is not None:
            lines.append(
                f"- first diverging layer: `/layers/{d.index}` of `model.json` = original "
                f"`/layers/{a + d.index}` ({d.type}), step {d.step}: {d.cause}"
            )
    else:
        lines.append(f"- {reduction.rule}: {reduction.message}")
    lines += [*(f"- {note}" for note in reduction.notes), "", "Reproduce (needs only this folder):", ""]
    lines += ["```sh", replay_command, "```", "", "(or, inside this folder, `verify replay .`)", ""]
    if reduction.pattern is None:
        lines += [
            "or",
            "",
            "```sh",
            f"verify {shlex.quote(str(directory / 'model.json'))} --no-timing",
            "```",
            "",
        ]
    lines += [
        "It exits 1 while the failure reproduces and 0 once it is fixed.",
        "",
        "Made by:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    return _unicode("\n".join(lines))


#: check.json's keys that replay reads, and what each must be
_META_RULES: tuple[tuple[str, str], ...] = (
    ("format_version", f"the number {FORMAT_VERSION}"),
    ("check", "the failed check's name (a string of 1 to 200 characters)"),
    ("pattern", '"frame", "stream", or null for a format failure'),
    ("dtype", '"float32" or "float64"'),
    ("atol", "a finite number >= 0"),
    ("rtol", "a finite number >= 0"),
    ("rule", "a rule id string, or null for a numeric failure"),
)


def _meta_value_ok(key: str, value: Any) -> bool:
    from verifier.checks.limits import is_tolerance

    if key == "format_version":
        return value == FORMAT_VERSION and not isinstance(value, bool)
    if key == "check":
        return isinstance(value, str) and 0 < len(value) <= 200
    if key == "pattern":
        return value in (None, "frame", "stream")
    if key == "dtype":
        return value in ("float32", "float64")
    if key in ("atol", "rtol"):
        return value is None or is_tolerance(value)
    return value is None or (isinstance(value, str) and 0 < len(value) <= 200)


def read_meta(directory: str | Path) -> dict[str, Any]:
    """check.json, every key replay reads present and usable (a missing pattern must not turn the replay
    of a numeric failure into a validation that passes)."""
    from verifier.format.reader.guarded import MAX_REPRO_META_BYTES, InputError, read_json

    path = Path(directory) / "check.json"
    try:
        meta = read_json(path, MAX_REPRO_META_BYTES)
    except InputError as exc:
        raise ReproError(f"cannot read a repro description: {exc}") from None
    if meta.get("format") != FORMAT:
        raise ReproError(f"{path}: /format: not a repro folder's check.json (format {FORMAT!r} expected)")
    for key, rule in _META_RULES:
        if key not in meta:
            raise ReproError(f"{path}: /{key}: missing (expected {rule})")
        if not _meta_value_ok(key, meta[key]):
            raise ReproError(f"{path}: /{key}: expected {rule}")
    numeric = meta["pattern"] is not None
    for key in ("atol", "rtol") if numeric else ("rule",):
        if meta[key] is None:
            raise ReproError(
                f"{path}: /{key}: null, but pattern says a {'numeric' if numeric else 'format'} failure"
            )
    return meta


def replay(directory: str | Path) -> Check:
    """The folder's check run again from its files alone (``FAIL``: the failure reproduces)."""
    from verifier.checks.agreement import check_agreement

    out = Path(directory)
    meta = read_meta(out)
    model_file = out / "model.json"
    if meta.get("pattern") is None:
        from verifier.checks.diagnose.reduce import format_failure
        from verifier.format.reader.document import read_document

        failure = format_failure(read_document(model_file)[0], meta["dtype"])
        if failure is None:
            return Check(
                str(meta["check"]), PASS, "the file now validates and loads", {"rule": meta.get("rule")}
            )
        return Check(str(meta["check"]), FAIL, failure[1], {"rule": failure[0]})
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError

    try:
        model = load(model_file, str(meta["dtype"]))
    except ModelFormatError as exc:
        return Check(str(meta["check"]), FAIL, f"model.json does not load: {exc}", {"rule": exc.rule})
    inputs = _read_csv(out / "inputs.csv")
    expected = _read_csv(out / "expected.csv")
    if inputs.shape[1] != model.in_size:
        raise ReproError(f"{out / 'inputs.csv'}: {inputs.shape[1]} columns, the model takes {model.in_size}")
    if len(expected) != len(inputs):
        raise ReproError(f"{out / 'expected.csv'}: {len(expected)} rows, inputs.csv has {len(inputs)}")
    model.reset()
    actual = model.run_frames(inputs) if meta["pattern"] == "frame" else model.run(inputs)
    if actual.shape != expected.shape:
        return Check(
            str(meta["check"]),
            FAIL,
            f"output shape {list(actual.shape)} against expected {list(expected.shape)}",
            {"pattern": meta["pattern"]},
        )
    return check_agreement(
        str(meta["check"]),
        expected,
        actual,
        atol=float(meta["atol"]),
        rtol=float(meta["rtol"]),
        dtype=str(meta["dtype"]),
    )
