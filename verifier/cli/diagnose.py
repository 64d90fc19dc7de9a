"""The diagnosis subcommands of ``verify``: ``inspect``, ``reduce`` and ``replay``.

* ``verify inspect FILE... [--format text|json]``: the layer table of each file (``verifier.format.inspect``);
  exit 1 when a file has an error finding.
* ``verify reduce FILE --against MODULE:FACTORY -o DIR``: the smallest sub-model and input that still fail
  the same check (``verifier.checks.diagnose.reduce``), written as a repro folder
  (``verifier.checks.diagnose.repro``); exit 1
  when there is nothing to reduce (the file passes, or its failure is the model's own sensitivity), or when
  the factory or its module fails (they run in a watched child process: ``--reference-timeout``).
* ``verify replay DIR``: a repro folder's check run again from its files alone; exit 1 while the failure
  reproduces, 0 once it is gone.

Thin like ``verifier.cli``: parse, call the library, format. Usage errors exit 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from verifier.cli.arguments import (
    EXIT_FAILED,
    EXIT_OK,
    Parser,
    UsageError,
    against,
    reference_seconds,
    require_torch,
    seed,
    steps,
    tolerance,
)
from verifier.cli.files import emit, expand_files

if TYPE_CHECKING:
    from verifier.checks.diagnose.reduce import Reduction

# A reduction runs the module on many sub-models: one request to its child, so a wider limit than a run's
# per-file one.
REDUCE_TIMEOUT = 3600


def _inspect_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="verify inspect",
        description="Show what keras-json files hold, layer by layer (no torch, no engine needed).",
        epilog="Exit status: 0 every file loads, 1 a file has an error finding, 2 usage error.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    return parser


def _reduce_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="verify reduce",
        description="Shrink a failing export to the smallest model and input that still fail the same check, "
        "and write a folder that reproduces it without the torch module.",
        epilog="Exit status: 0 a repro folder was written, 1 nothing to reduce (the file passes, or the "
        "failure is the model's own sensitivity to rounding; or the --against factory or its module failed, "
        "ended its process or passed --reference-timeout), 2 usage error.",
    )
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--against", type=against, required=True, metavar="MODULE:FACTORY|CHECKPOINT")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="repro folder to write")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--atol", type=tolerance, help="absolute tolerance (default: per model, as verify)")
    parser.add_argument("--rtol", type=tolerance, help="relative tolerance (default: per model, as verify)")
    parser.add_argument("--steps", type=steps, default=256, help="time steps compared (default 256)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument(
        "--reference-timeout",
        type=reference_seconds,
        metavar="SECONDS",
        default=REDUCE_TIMEOUT,
        help="most seconds the --against factory and the whole reduction may take, in a child process "
        f"(default {REDUCE_TIMEOUT})",
    )
    return parser


def _replay_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="verify replay",
        description="Run a repro folder's check again from its files alone.",
        epilog="Exit status: 0 the check passes now, 1 the failure reproduces, 2 usage error.",
    )
    parser.add_argument("directory", metavar="DIR")
    return parser


def run_subcommand(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    name, rest = argv[0], list(argv[1:])
    if name == "inspect":
        return _inspect(_inspect_parser().parse_args(rest), stdout)
    if name == "reduce":
        return _reduce(_reduce_parser().parse_args(rest), rest, stdout)
    return _replay(_replay_parser().parse_args(rest), stdout)


def _inspect(args: argparse.Namespace, stdout: TextIO) -> int:
    from verifier.format.inspect import inspect
    from verifier.report.inspect import inspection_pieces

    files = expand_files(args.files)
    inspections = [inspect(path) for path in files]
    emit(inspection_pieces(inspections, args.format), args.output, stdout, inputs=files)
    return EXIT_FAILED if any(i.errors or not i.readable for i in inspections) else EXIT_OK


def _reduce(args: argparse.Namespace, rest: Sequence[str], stdout: TextIO) -> int:
    from verifier.checks.diagnose.repro import ReproError, check_target, write_repro
    from verifier.checks.run.project import project_root
    from verifier.checks.run.reference import IsolatedReferences, NothingToReduce, ReferenceFailure

    require_torch("verify reduce (it runs the --against module layer by layer)")
    (path,) = expand_files([args.file])
    try:  # before minutes of reduction, not after
        check_target(Path(args.output), [path, args.against])
    except ReproError as exc:
        raise UsageError(f"--output {args.output}: {exc}") from None
    settings = {
        "dtype": args.dtype,
        "atol": args.atol,
        "rtol": args.rtol,
        "steps": args.steps,
        "seed": args.seed,
    }
    # The factory and its module are user code: they run in a watched child, where ending, aborting or
    # hanging its process is a finding about the factory, not the end of this command.
    with IsolatedReferences(project_root(), args.reference_timeout) as references:
        answer = references.reduce(args.against, f"--against {args.against}", os.path.abspath(path), settings)
    if isinstance(answer, ReferenceFailure):
        if answer.configuration:
            raise UsageError(answer.summary)
        stdout.write(f"{path}: no reduction: {answer.summary}\n")
        return EXIT_FAILED
    if isinstance(answer, NothingToReduce):
        stdout.write(f"{path}: {answer.message}\n")
        return EXIT_FAILED
    reduction = answer
    command = shlex.join(["verify", "reduce", *rest])
    try:
        write_repro(reduction, args.output, origin=path, command=command, inputs=[args.against])
    except (ReproError, OSError) as exc:
        raise UsageError(f"--output {args.output}: {exc}") from None
    stdout.write(reduction_text(reduction, path, args.output))
    return EXIT_OK


def reduction_text(reduction: Reduction, path: str, directory: str) -> str:
    a, b = reduction.layers
    kept = f"layer {a}" if b - a == 1 else f"layers {a}..{b - 1}"
    lines = [
        f"{path}: {reduction.check} still fails on {kept} ({b - a} of {reduction.original_layers} layers, "
        f"{reduction.parameters:,} of {reduction.original_parameters:,} parameters)"
    ]
    if reduction.steps is not None:
        s, t = reduction.steps
        lines.append(f"  input: {t - s + 1} of {reduction.original_steps} steps (original steps {s}..{t})")
    d = reduction.divergence
    if d is not None and d.index is not None:
        lines.append(f"  faulty layer: /layers/{a + d.index} ({d.type}): {d.cause}")
    elif reduction.message:
        lines.append(f"  {reduction.message}")
    lines.append(f"  {reduction.evaluations} sub-models checked in {reduction.seconds:.1f} s")
    lines.append(f"  wrote {directory}; reproduce with: verify replay {shlex.quote(directory)}")
    return "\n".join(lines) + "\n"


def _replay(args: argparse.Namespace, stdout: TextIO) -> int:
    from verifier.checks.diagnose.repro import ReproError, replay

    try:
        check = replay(args.directory)
    except ReproError as exc:
        raise UsageError(str(exc)) from None
    verdict = "reproduces" if check.failed else "no longer fails"
    stdout.write(f"{args.directory}: {check.name} {verdict}: {check.summary}\n")
    return EXIT_FAILED if check.failed else EXIT_OK
