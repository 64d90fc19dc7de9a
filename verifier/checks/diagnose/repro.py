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
from pathlib import Path
from typing import Any

import numpy as np

from verifier.checks.diagnose.reduce import Reduction
from verifier.checks.results import FAIL, PASS, Check
from verifier.errors import VerifierError

__all__ = ["ReproError", "replay", "write_repro"]

FORMAT = "rtneural-verifier-repro"
FORMAT_VERSION = 1
FILES = ("model.json", "inputs.csv", "expected.csv", "actual.csv", "check.json", "README.md")


class ReproError(VerifierError):
    """A repro folder that cannot be written (the target holds other files) or read (malformed)."""


def _csv_text(values: np.ndarray) -> str:
    rows = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def _read_csv(path: Path) -> np.ndarray:
    try:
        rows = [[float(v) for v in line.split(",")] for line in path.read_text("ascii").splitlines() if line]
        array = np.asarray(rows, dtype=np.float64)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ReproError(f"{path}: not a CSV of numbers: {exc}") from None
    if array.ndim != 2:
        raise ReproError(f"{path}: rows of different lengths")
    return array


def write_repro(reduction: Reduction, directory: str | Path, *, origin: str, command: str) -> list[Path]:
    """Write the folder (created if needed; only our own files are replaced). ``origin`` names the original
    file, ``command`` the reduce command that made it (both go into the README)."""
    from verifier.pytorch.export import document_bytes

    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise ReproError(f"{out} exists and is not a directory")
    strangers = sorted(p.name for p in out.iterdir() if p.name not in FILES) if out.is_dir() else []
    if strangers:
        raise ReproError(f"{out} holds other files ({', '.join(strangers[:3])}); give an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    for stale in FILES:
        (out / stale).unlink(missing_ok=True)
    written = [out / "model.json"]
    written[0].write_bytes(document_bytes(reduction.doc))
    if reduction.inputs is not None:
        for name, values in (
            ("inputs.csv", reduction.inputs),
            ("expected.csv", reduction.expected),
            ("actual.csv", reduction.actual),
        ):
            (out / name).write_text(_csv_text(np.asarray(values)), encoding="ascii")
            written.append(out / name)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "check": reduction.check,
        "pattern": reduction.pattern,
        "dtype": reduction.dtype,
        "atol": reduction.atol,
        "rtol": reduction.rtol,
        "rule": reduction.rule,
        "origin": origin,
        "layers": list(reduction.layers),
        "steps": None if reduction.steps is None else list(reduction.steps),
        "diverging_layer": None if reduction.divergence is None else reduction.divergence.to_dict(),
    }
    (out / "check.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    written.append(out / "check.json")
    (out / "README.md").write_text(readme(reduction, out, origin=origin, command=command), encoding="utf-8")
    written.append(out / "README.md")
    return written


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
    return "\n".join(lines)


def read_meta(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "check.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReproError(f"{path}: cannot read a repro description: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ReproError(f"{path}: not a repro folder's check.json (format {FORMAT!r} expected)")
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

        failure = format_failure(read_document(model_file)[0], str(meta.get("dtype", "float32")))
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
