"""``verify [options] FILE...``: the command the team runs on exported models before merging.

Thin by design: parse arguments, find the files and the manifest, call
``verifier.checks.run.verify.verify_files``, format with ``verifier.report.formats``. Exit status: 0 every
check passed, 1 a check failed (an invalid file included: a finding with its rule id and pointer; a factory
that raises, ends its process or hangs), 2 a usage error (bad option, no file matched, unusable
manifest/baseline/--against, a factory that cannot be imported, a report that cannot be written, torch not
installed for a run that needs it), 3 an internal error (a file whose checks could not finish: "this is a bug
in rtneural-verifier", every other file still checked and reported). A user error is one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from verifier import __version__
from verifier.checks.catalogue import LONG_STREAM_SECONDS
from verifier.checks.results import RunResult
from verifier.checks.run.cache import CACHE_FOLDER
from verifier.checks.run.isolation import BUG
from verifier.checks.run.options import DEFAULT_REFERENCE_TIMEOUT
from verifier.checks.run.project import project_root
from verifier.cli.arguments import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    against,
    jobs,
    reference_seconds,
    require_torch,
    rss_copies,
    seed,
    steps,
    timing_steps,
    tolerance,
)
from verifier.cli.config import PRECEDENCE, parse_with_config_source
from verifier.cli.files import (
    OutputError,
    append_step_summary,
    check_output,
    emit,
    expand_files,
    read_report,
    write_text,
)
from verifier.errors import VerifierError
from verifier.report.formats import FORMATS


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="verify",
        description="Check RTNeural keras-json model files: validation, numeric agreement with PyTorch "
        "(per frame and streamed), parameter counts, widths, latency and memory budgets.",
        epilog="Exit status: 0 all checks passed, 1 a check failed, 2 usage error, 3 internal error. "
        "Diagnosis: `verify inspect FILE...`, `verify reduce FILE --against MODULE:FACTORY -o DIR`, "
        "`verify replay DIR`; GuitarML state_dict files: `verify convert FILE --to keras-json|state-dict -o "
        "OUT` (each with --help). "
        "A plugin's compile-time type: `verify modelt FILE [--check TYPE | --check-source HEADER]`. "
        "Every option but --help, --version, --timing, --save-golden and --embed-golden can be set in "
        "[tool.verifier] "
        "of the project's pyproject.toml, spelt without its dashes (steps = 64, no-timing = true); "
        f"precedence: {PRECEDENCE}.",
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
        "(default: [tool.verifier] manifest in the project's pyproject.toml, else ./verifier.json)",
    )
    parser.add_argument(
        "--no-manifest", action="store_true", help="ignore a manifest found in this directory"
    )
    parser.add_argument(
        "--against",
        type=against,
        metavar="MODULE:FACTORY|CHECKPOINT",
        help="torch module to compare with (a factory, or torch.save(module) file); "
        "default: the manifest's factory, else the JSON's independent torch rebuild",
    )
    parser.add_argument(
        "--atol", type=tolerance, help="absolute tolerance (default: manifest, else per model)"
    )
    parser.add_argument(
        "--rtol", type=tolerance, help="relative tolerance (default: manifest, else per model)"
    )
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), help="engine type (default: manifest, else float32)"
    )
    parser.add_argument("--steps", type=steps, default=256, help="time steps compared (default 256)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument(
        "--long-streams",
        action="store_true",
        help=f"also compare {LONG_STREAM_SECONDS:g} s at 48 kHz of a sweep, silence after signal, DC and "
        "full scale, with the error-to-signal ratio in dB (the long-streams check; costs the model's time "
        f"on {4 * LONG_STREAM_SECONDS:g} s of audio)",
    )
    parser.add_argument(
        "--timing-steps", type=timing_steps, help="timed steps per call pattern (default 2000)"
    )
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument("--no-timing", action="store_true", help="skip the latency measurement")
    timing.add_argument(
        "--timing",
        action="store_false",
        dest="no_timing",
        help="measure latency even when [tool.verifier] says no-timing = true",
    )
    parser.add_argument(
        "--rss-copies",
        type=rss_copies,
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
        type=jobs,
        default=1,
        help="files checked in parallel (latency figures get noisier)",
    )
    parser.add_argument(
        "--reference-timeout",
        type=reference_seconds,
        metavar="SECONDS",
        default=int(DEFAULT_REFERENCE_TIMEOUT),
        help="most seconds a file's reference module may take (its factory imported and called, its "
        f"forward() run, in a child process) before the file fails (default {DEFAULT_REFERENCE_TIMEOUT:g})",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only failures and the verdict")
    parser.add_argument("-v", "--verbose", action="store_true", help="every check's figures too")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_golden_options(parser)
    _add_cache_options(parser)
    return parser


def _add_cache_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        f"result cache ({CACHE_FOLDER}/ at the project root: a file nothing it depends on has changed in is "
        "not checked again; its report line says cached)"
    )
    switch = group.add_mutually_exclusive_group()
    switch.add_argument("--cache", action="store_true", help="use the cache, even under CI=true")
    switch.add_argument(
        "--no-cache", action="store_true", help="check every file (default under CI=true: a CI job checks)"
    )


def _wants_cache(args: argparse.Namespace) -> bool:
    """On unless ``--no-cache``; off under ``CI`` (GitHub, GitLab and the others set CI=true) unless
    ``--cache``: a CI job's verdict is the one a merge trusts, so it checks."""
    if args.cache or args.no_cache:
        return bool(args.cache)
    return os.environ.get("CI", "").strip().lower() not in ("true", "1", "yes")


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
    group.add_argument(
        "--plugin-latency",
        metavar="FILE",
        action="append",
        default=[],
        help="the plugin's own build timed by the C++ golden checker (rtv::write_latency_json): the latency "
        "check judges its figures for the model the file names (repeat for each model)",
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


def _plugin_latency(named: list, files: list[str], manifest) -> tuple:  # -> tuple[PluginLatency, ...]
    from verifier.checks.run.plugin_latency import PluginLatencyError, read_named

    try:
        return read_named(named, files, manifest)
    except PluginLatencyError as exc:
        raise UsageError(str(exc)) from None


def _manifest(args: argparse.Namespace):  # -> Manifest | None
    from verifier.checks.run.manifest import ManifestError, discover_manifest, load_manifest

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
        verdict += " (cached)" if result.cached else ""
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
    if argv and argv[0] == "modelt" and not os.path.exists(argv[0]):
        from verifier.cli.modelt import run as modelt

        return modelt(argv[1:], stdout, stderr)
    if argv and argv[0] == "convert" and not os.path.exists(argv[0]):
        from verifier.cli.convert import run as convert

        return convert(argv[1:], stderr, Parser)
    if argv and argv[0] in ("validate", "render") and not os.path.exists(argv[0]):
        from verifier.cli.render import run as render
        from verifier.cli.validate import run as validate_only

        return (validate_only if argv[0] == "validate" else render)(argv[1:], stdout, Parser)
    args, config = parse_with_config_source(build_parser(), argv, Path.cwd())
    # Imported after parsing so that --help, --version and usage errors start without numpy or torch.
    from verifier.checks.run.cache import ResultCache
    from verifier.checks.run.options import Options
    from verifier.checks.run.reference import reference_spec
    from verifier.checks.run.verify import verify_files
    from verifier.report.baseline import apply_baseline
    from verifier.report.formats import format_report
    from verifier.report.machine import machine_info

    manifest = _manifest(args)
    files = expand_files(args.files) if args.files else _manifest_files(manifest)
    from verifier.checks.run.plugin_latency import files_named

    latency_files = files_named(args.plugin_latency, config.place("plugin_latency"), files, manifest)
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
        reference_timeout=args.reference_timeout,
        long_streams=LONG_STREAM_SECONDS if args.long_streams else 0.0,
        plugin_latency=_plugin_latency(latency_files, files, manifest),
    )
    if not (args.save_golden or args.embed_golden):
        require_torch("comparing a file with PyTorch")
    elif any(reference_spec(path, options, manifest) for path in files):
        require_torch("golden data from a torch module (--against or a manifest factory)")
    if args.format == "html":  # before the run, not after minutes of checks
        from verifier.report.html import require_matplotlib

        require_matplotlib()
    baseline = read_report(args.baseline) if args.baseline else None
    named = (manifest and str(manifest.path), args.baseline, args.against, *(p for p, _ in latency_files))
    read = [*files, *(p for p in named if p)]
    check_output(args.output, read)
    if args.format == "github":
        check_output(os.environ.get("GITHUB_STEP_SUMMARY"), read, "$GITHUB_STEP_SUMMARY")
    backend = _describe_backend(args.backend)
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
        cache=ResultCache(project_root()) if _wants_cache(args) else None,
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
    emit(text, args.output, stdout, inputs=read)
    if args.output and args.format != "text" and not args.quiet:
        write_text(stdout, format_report(result, "text", verbosity=-1))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.format == "github" and summary:
        append_step_summary(summary, format_report(result, "markdown"), inputs=read)
    for broken in result.internal_errors:
        stderr.write(f"verify: internal error: {broken.checks[-1].summary}\n")  # names the file
    if result.internal_errors:
        return EXIT_INTERNAL
    return EXIT_FAILED if result.failed else EXIT_OK


def _describe_backend(name: str) -> str:
    from verifier.engine.backends import describe_backend

    try:
        return describe_backend(name)
    except ImportError as exc:
        raise UsageError(f"--backend {name}: {exc}") from None


def _write_golden(
    args: argparse.Namespace, files: list[str], options, manifest, stdout: TextIO, stderr: TextIO
) -> int:
    from verifier.checks.golden.bundles import GoldenError, embed_golden, save_golden
    from verifier.checks.run.reference import check_references, isolated_references

    write, directory = (
        (save_golden, args.save_golden) if args.save_golden else (embed_golden, args.embed_golden)
    )
    # The factories run in one watched child (as a run's do): an unusable one is exit 2 before anything is
    # written; one that ends, aborts or hangs its process fails its own file.
    with isolated_references(options, manifest) as references:
        check_references(files, options, manifest, references)
        try:
            written = write(files, directory, options, manifest, references)
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


def production_main() -> int:
    """The ``verify-production`` command: its five models are torch modules, so without torch it is the
    install hint on one line, not the traceback of the module's own import."""
    try:
        require_torch("verify-production (its five models are torch modules)")
    except UsageError as exc:
        sys.stderr.write(f"verify-production: error: {exc}\n")
        return EXIT_USAGE
    from verifier.production import main as write_production

    return write_production()


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
