"""``verify [options] FILE...``: the command the team runs on exported models before merging.

Thin by design: parse arguments, find the files and the manifest, call ``verifier.run.verify_files``,
format with ``verifier.report.formats``. Exit status: 0 every check passed, 1 a check failed (an invalid file
included: a finding with its rule id and pointer), 2 a usage error (bad option, no file matched, unusable
manifest/baseline/--against, a report that cannot be written), 3 an internal error (a file whose checks
could not finish: "this is a bug in rtneural-verifier", every other file still checked and reported). A
user error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from verifier import __version__
from verifier.checks.results import RunResult
from verifier.errors import VerifierError
from verifier.report.formats import FORMATS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
BUG = "this is a bug in rtneural-verifier"


class UsageError(Exception):
    """A problem with how ``verify`` was called; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep our one-line form
        raise UsageError(message)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
    return value


def _positive(text: str) -> int:
    return _whole_number(text, 1)


def _non_negative(text: str) -> int:
    return _whole_number(text, 0)


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="verify",
        description="Check RTNeural keras-json model files: validation, numeric agreement with PyTorch "
        "(per frame and streamed), parameter counts, widths, latency and memory budgets.",
        epilog="Exit status: 0 all checks passed, 1 a check failed, 2 usage error, 3 internal error. "
        "Diagnosis: `verify inspect FILE...`, `verify reduce FILE --against MODULE:FACTORY -o DIR`, "
        "`verify replay DIR` (each with --help).",
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="model files (globs are expanded here too); none: every model of the manifest",
    )
    parser.add_argument(
        "--manifest",
        metavar="FILE",
        help="declared widths, counts, budgets, tolerances "
        "(default: ./verifier.json, or [tool.verifier] manifest in ./pyproject.toml)",
    )
    parser.add_argument(
        "--no-manifest", action="store_true", help="ignore a manifest found in this directory"
    )
    parser.add_argument(
        "--against",
        metavar="MODULE:FACTORY|CHECKPOINT",
        help="torch module to compare with (a factory, or torch.save(module) file); "
        "default: the manifest's factory, else the JSON's independent torch rebuild",
    )
    parser.add_argument(
        "--atol", type=_tolerance, help="absolute tolerance (default: manifest, else per model)"
    )
    parser.add_argument(
        "--rtol", type=_tolerance, help="relative tolerance (default: manifest, else per model)"
    )
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), help="engine type (default: manifest, else float32)"
    )
    parser.add_argument("--steps", type=_positive, default=256, help="time steps compared (default 256)")
    parser.add_argument("--seed", type=_non_negative, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--timing-steps", type=_positive, help="timed steps per call pattern (default 2000)")
    parser.add_argument("--no-timing", action="store_true", help="skip the latency measurement")
    parser.add_argument(
        "--rss-copies",
        type=_non_negative,
        metavar="N",
        help="most copies loaded for the RSS cross-check: as many as grow RSS by 4 MiB, at most N "
        "(default: manifest, else 0 = off)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="github: workflow annotations (and the Markdown report appended to $GITHUB_STEP_SUMMARY); "
        "sarif: for code scanning; html: one self-contained file with plots (needs the html extra)",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument(
        "--baseline", metavar="REPORT.json", help="flag regressions against an earlier JSON report"
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        default=1,
        help="files checked in parallel (latency figures get noisier)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only failures and the verdict")
    parser.add_argument("-v", "--verbose", action="store_true", help="every check's figures too")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_golden_options(parser)
    return parser


def _add_golden_options(parser: argparse.ArgumentParser) -> None:
    """The runtime (--backend) and the golden-data writers (docs/golden.md)."""
    group = parser.add_argument_group("runtime and golden data (docs/golden.md)")
    group.add_argument(
        "--backend",
        choices=("engine", "rtneural"),
        default="engine",
        help="run the numeric, latency and memory checks on our engine (default) or on the RTNeural "
        "build compiled in with RTNEURAL_DIR at install time",
    )
    writers = group.add_mutually_exclusive_group()
    writers.add_argument(
        "--save-golden",
        metavar="DIR",
        help="instead of checking, write a golden bundle per file to DIR/<file stem>/ for the C++ checker",
    )
    writers.add_argument(
        "--embed-golden",
        metavar="DIR",
        help="instead of checking, write a copy of each file to DIR/<file name> carrying input_batch and "
        "output_batch (the input files are never modified; DIR must not be their directory)",
    )


def expand_files(patterns: Sequence[str]) -> list[str]:
    """Every pattern as a glob (quoted globs and Windows shells do not expand them); an existing file is
    taken literally first (``model[1].json``), and every name stays a path (never JSON text)."""
    found: list[str] = []
    for pattern in patterns:
        if os.path.isfile(pattern):
            found.append(pattern)
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise UsageError(f"no file matches {pattern!r}")
            found += [m for m in matches if os.path.isfile(m)]
        elif os.path.isdir(pattern):
            raise UsageError(
                f"{pattern} is a directory; give the files (e.g. {os.path.join(pattern, '*.json')})"
            )
        elif os.path.exists(pattern):  # a FIFO, socket or device: reading it could block or never end
            raise UsageError(f"{pattern} is not a regular file ({_file_kind(pattern)}); give model files")
        else:
            raise UsageError(f"{pattern}: no such file")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise UsageError("no model file matched")
    return unique


def _file_kind(path: str) -> str:
    mode = os.stat(path).st_mode
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"))
    return next((name for test, name in kinds if test(mode)), "a device")


def _manifest(args: argparse.Namespace):  # -> Manifest | None
    from verifier.checks.manifest import ManifestError, discover_manifest, load_manifest

    try:
        path = Path(args.manifest) if args.manifest else None if args.no_manifest else discover_manifest(".")
        return None if path is None else load_manifest(path)
    except ManifestError as exc:
        raise UsageError(f"manifest {exc}") from None


def _manifest_files(manifest) -> list[str]:  # manifest: Manifest | None
    """Every model file of the manifest (``verify`` without FILE arguments, as the pre-commit hook runs)."""
    if manifest is None:
        raise UsageError(
            "FILE is required without a manifest "
            "(--manifest FILE, or verifier.json here: its models are checked)"
        )
    return expand_files([os.path.relpath(entry.file) for entry in manifest.models])


def read_report(path: str, what: str = "--baseline") -> RunResult:
    """The run of a JSON report; a :class:`UsageError` naming the file for anything else. Read as a model
    file is (a regular file within ``Limits.max_file_bytes``, nested at most ``Limits.max_depth``)."""
    from verifier.errors import ModelFormatError
    from verifier.format.document import read_file_bytes
    from verifier.format.findings import Limits
    from verifier.format.schema import predicate

    limits = Limits()
    try:
        # ValueError: JSON syntax, or an integer of more digits than Python converts; RecursionError: nesting
        # deeper than the parser's stack
        data = json.loads(read_file_bytes(path, limits).decode("utf-8"))
    except ModelFormatError as exc:
        raise UsageError(f"{what} {path}: cannot read a JSON report: {exc.message}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"{what} {path}: cannot read a JSON report: {exc}") from None
    if _depth(data, limits.max_depth) > limits.max_depth:
        raise UsageError(f"{what} {path}: not a verify JSON report: nested deeper than {limits.max_depth}")
    conforms = predicate("report")
    if conforms is None or not conforms(data):
        from jsonschema.exceptions import best_match

        from verifier.format.schema import error_message, validator
        from verifier.quoting import shown_pointer

        error = best_match(validator("report").iter_errors(data))
        if error is not None:
            where = shown_pointer("/" + "/".join(str(p) for p in error.absolute_path))
            raise UsageError(f"{what} {path}: {where}: not a verify JSON report: {error_message(error)}")
    return RunResult.from_dict(data)


def _depth(value: object, limit: int) -> int:
    """How deeply ``value`` nests (stopping past ``limit``), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class _Progress:
    """A one-line progress display on a terminal; plain lines otherwise (CI logs, pipes)."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, result, pending: bool) -> None:
        if self.quiet or (total < 2 and not self.tty):
            return
        # "ok" only once every check of the file has run: the RSS cross-check may still fail it
        verdict = "FAIL" if result.failed else ("checked" if pending else "ok")
        if self.tty:
            bar = "#" * (20 * done // total)
            self.stream.write(f"\r[{bar:<20}] {done}/{total} {verdict:7} {result.path[-50:]:<50}")
            if done == total:
                self.stream.write("\r" + " " * 100 + "\r")
        else:
            self.stream.write(f"[{done}/{total}] {result.path}: {verdict}\n")
        self.stream.flush()


def run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("inspect", "reduce", "replay") and not os.path.exists(argv[0]):
        from verifier.cli.diagnose import run_subcommand  # a file of that name is still checked

        return run_subcommand(argv, stdout, stderr)
    if argv and argv[0] in ("validate", "render") and not os.path.exists(argv[0]):
        from verifier.cli.render import run as render
        from verifier.cli.validate import run as validate_only

        return (validate_only if argv[0] == "validate" else render)(argv[1:], stdout, _Parser)
    args = build_parser().parse_args(argv)
    # Imported after parsing so that --help, --version and usage errors start without numpy or torch.
    from verifier.checks.run import Options, ReferenceError, resolve_against, verify_files
    from verifier.report.baseline import apply_baseline
    from verifier.report.formats import format_report
    from verifier.report.machine import machine_info

    manifest = _manifest(args)
    files = expand_files(args.files) if args.files else _manifest_files(manifest)
    if args.format == "html":  # before the run, not after minutes of checks
        from verifier.report.html import require_matplotlib

        require_matplotlib()
    baseline = read_report(args.baseline) if args.baseline else None
    if args.against:
        try:
            resolve_against(args.against)
        except ReferenceError as exc:
            raise UsageError(str(exc)) from None
    backend = _describe_backend(args.backend)
    options = Options(
        dtype=args.dtype,
        atol=args.atol,
        rtol=args.rtol,
        steps=args.steps,
        seed=args.seed,
        timing=not args.no_timing,
        timing_steps=args.timing_steps,
        rss_copies=args.rss_copies,
        against=args.against,
        backend=args.backend,
    )
    if args.save_golden or args.embed_golden:
        return _write_golden(args, files, options, manifest, stdout, stderr)
    result = verify_files(
        files,
        options,
        manifest,
        jobs=args.jobs,
        progress=_Progress(stderr, args.quiet),
        tool={"name": "rtneural-verifier", "version": __version__, "backend": backend},
        machine=machine_info(),
    )
    if baseline is not None:
        result = apply_baseline(result, baseline)
        result = RunResult(
            result.files,
            result.suite,
            result.tool,
            result.machine,
            {**result.settings, "baseline": args.baseline},
        )
    verbosity = -1 if args.quiet else 1 if args.verbose else 0
    text = format_report(result, args.format, verbosity=verbosity)
    emit(text, args.output, stdout)
    if args.output and args.format != "text" and not args.quiet:
        _write(stdout, format_report(result, "text", verbosity=-1))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.format == "github" and summary:
        append_step_summary(summary, format_report(result, "markdown"))
    for broken in result.internal_errors:
        stderr.write(f"verify: internal error: {broken.checks[-1].summary}\n")  # names the file
    if result.internal_errors:
        return EXIT_INTERNAL
    return EXIT_FAILED if result.failed else EXIT_OK


def append_step_summary(path: str, markdown: str) -> None:
    """GitHub shows this file on the run's summary page; other steps write to it too, so append."""
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    except OSError as exc:
        raise UsageError(f"$GITHUB_STEP_SUMMARY {path}: {exc}") from None


class OutputError(Exception):
    """The report could not be written to stdout (a full device, a closed pipe)."""


def emit(text: str, output: str | None, stdout: TextIO) -> None:
    """The report to the file ``output``, else to ``stdout``; a failed write is one line, not a traceback."""
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {output}: {exc}") from None
    else:
        _write(stdout, text)


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except OSError as exc:
        raise OutputError(f"cannot write the report to stdout: {exc.strerror or exc}") from None


def _describe_backend(name: str) -> str:
    from verifier.engine.backends import describe_backend

    try:
        return describe_backend(name)
    except ImportError as exc:
        raise UsageError(f"--backend {name}: {exc}") from None


def _write_golden(
    args: argparse.Namespace, files: list[str], options, manifest, stdout: TextIO, stderr: TextIO
) -> int:
    from verifier.checks.golden import GoldenError, embed_golden, save_golden

    write, directory = (
        (save_golden, args.save_golden) if args.save_golden else (embed_golden, args.embed_golden)
    )
    try:
        written = write(files, directory, options, manifest)
    except GoldenError as exc:
        raise UsageError(str(exc)) from None
    for item in written:
        (stderr if item.failed else stdout).write(f"{item.path}: {item.summary}\n")
    return EXIT_FAILED if any(item.failed for item in written) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv, sys.stdout, sys.stderr)
    except UsageError as exc:
        sys.stderr.write(f"verify: error: {exc}\n")
        return EXIT_USAGE
    except VerifierError as exc:  # a library error reaching here is a user input the CLI did not pre-check
        sys.stderr.write(f"verify: error: {exc}\n")
        return EXIT_USAGE
    except OutputError as exc:
        _silence_stdout()
        sys.stderr.write(f"verify: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("verify: interrupted\n")
        return 130
    except Exception as exc:  # not a finding and not a usage error: ours to fix, said in one line
        sys.stderr.write(f"verify: internal error: {type(exc).__name__}: {exc}; {BUG}\n")
        return EXIT_INTERNAL


def console_main() -> int:
    """The ``verify`` command (and ``python -m verifier``): :func:`main`, with the heap frozen after torch's
    import and at exit (:mod:`verifier.cli.heap` says why)."""
    from verifier.cli.heap import freeze_after_import

    freeze_after_import("torch")
    code = main()
    gc.freeze()
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's own flush at exit does not fail (and print) again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a captured stream)
        pass


if __name__ == "__main__":
    sys.exit(main())
