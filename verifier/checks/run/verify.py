"""One ``verify`` run as a library call: every check on every file, returned as a ``RunResult``.

The CLI (``verifier.cli``) only parses arguments, calls :func:`verify_files` and formats what it returns;
everything it does is reachable from here. Per file, in the order data flows:

``validate`` (findings) -> ``load`` (the engine) -> ``numeric-frame`` / ``numeric-stream`` /
``plugin-state`` (against the torch module or the JSON's independent reference) -> ``rtneural-builds`` (where
RTNeural's own builds disagree) -> ``parameters`` /
``widths`` (against the manifest) -> ``latency`` -> ``memory``; then ``memory-total`` over the manifest's
models. A step that cannot run (the file does not load) turns the later checks into ``skip`` with the reason.

A file's checks run in two stages, :func:`prepare_file` (validate, load: no torch) and :func:`finish_file`
(everything that runs torch or times the engine); :func:`verify_file` is the two in a row. A serial
:func:`verify_files` prepares every file compared with a torch module before it finishes the first, and
measures the RSS cross-check of every file in one process at the end (:func:`with_rss`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from verifier.checks.agreement import (
    Outputs,
    check_agreement,
    check_plugin_state,
    not_the_chain,
    random_inputs,
)
from verifier.checks.budgets import (
    RSS_TARGET_BYTES,
    RssMeasurement,
    check_latency,
    check_memory,
    check_memory_total,
    check_parameters,
    check_widths,
    folded_lstm_biases,
    json_widths,
    measure_latency,
    measure_rss_in_fresh_process,
    measure_rss_of_files,
    torch_parameter_count,
    torch_widths,
)
from verifier.checks.builds import check_builds, explain_failure
from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check, FileResult, RunResult
from verifier.checks.run.isolation import check_in_processes, guarded, internal_error, timing_turn
from verifier.checks.run.manifest import Manifest, ModelEntry
from verifier.checks.run.options import DEFAULT_TIMING_STEPS, DEFAULT_WARMUP, Options
from verifier.checks.run.reference import describe_reference, reference_spec, resolve_against
from verifier.checks.run.tolerances import Tolerances, resolve_tolerances
from verifier.checks.validation import orientation_confirmed, validate_check
from verifier.quoting import exception_text

# --------------------------------------------------------------------------------------------- per step


def _load(path: str, source: Any, dtype: str) -> tuple[Any, Check]:
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError
    from verifier.format.reader.positions import locate_in_file

    try:
        model = load(source, dtype)
    except ModelFormatError as exc:
        place = locate_in_file(path, [exc.pointer])[exc.pointer]
        return None, Check(
            "load",
            FAIL,
            f"{exc.pointer or '/'}: {exc.message}",
            {
                "pointer": exc.pointer,
                "expected": exc.expected,
                "found": exc.found,
                "rule": exc.rule,
                "line": place.line,
                "column": place.column,
            },
        )
    shape = f"{model.in_size} -> {model.out_size}, {len(model.layers)} layers, {dtype}"
    figures = {
        "in_size": model.in_size,
        "out_size": model.out_size,
        "layers": len(model.layers),
        "warnings": [list(w) for w in model.warnings],
    }
    if model.warnings:
        pointer, message = model.warnings[0]
        return model, Check("load", WARN, f"{shape}; {pointer}: {message}", figures)
    return model, Check("load", PASS, shape, figures)


def _load_backend(source: Any, dtype: str, backend: str, engine_check: Check) -> tuple[Any, Check]:
    """The model on ``backend`` (our loader has accepted the file), and the load check naming that runtime."""
    from verifier.engine.backends import describe_backend, load_backend
    from verifier.errors import ModelFormatError

    try:
        runner = load_backend(source, backend, dtype)
    except ModelFormatError as exc:
        figures = {"pointer": exc.pointer, "expected": exc.expected, "found": exc.found, "backend": backend}
        return None, Check("load", FAIL, f"{exc.pointer or '/'}: {exc.message}", figures)
    # The build is named on every file's line, so that a text report says what was measured, not only JSON.
    build = describe_backend(backend)
    figures = {**engine_check.figures, "backend": backend, "build": build}
    return runner, replace(engine_check, summary=f"{engine_check.summary}; runs on {build}", figures=figures)


def _embedded(source: Any, model: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The file's own golden data (input_batch, output_batch), when it carries any."""
    from verifier.checks.run.embedded import EMBEDDED_KEYS, embedded_data
    from verifier.format.reader.document import read

    # Only the golden data's keys are built in Python (and the ones every skeleton has); weights stay in C++.
    document = read(source)
    doc = document.skeleton((), top_keys=EMBEDDED_KEYS)
    return embedded_data(doc, model.in_size, model.out_size, source=document.name)


EMBEDDED_REFERENCE = {
    "kind": "embedded",
    "summary": "streamed against the file's own input_batch/output_batch (per frame: the JSON's own rebuild)",
}


def _outputs(model: Any, source: Any, torch_module: Any, xs: np.ndarray) -> tuple[Outputs, tuple[Any, ...]]:
    """The four output sequences, and every container of ``torch_module`` whose forward() is not its chain."""
    import torch

    from verifier.pytorch.rebuild import reference
    from verifier.pytorch.run import run_module

    mismatches: tuple[Any, ...] = ()
    if torch_module is not None:
        ran = run_module(torch_module, xs, torch.float64)
        expected_frame, expected_stream, mismatches = ran.frames, ran.stream, ran.mismatches
    else:
        rebuilt = reference(source, torch.float64)
        expected_stream = rebuilt(xs).numpy()
        expected_frame = rebuilt(xs[:, None, :])[:, 0].numpy()  # a batch of T one-step sequences
    model.reset()
    actual_stream = model.run(xs)
    actual_frame = model.run_frames(xs)
    return Outputs(expected_frame, expected_stream, actual_frame, actual_stream), mismatches


def _with_statistics(
    check: Check, expected: np.ndarray, actual: np.ndarray, origin: str, reference_kind: str
) -> Check:
    """The check with its reference kind, error statistics and the per-step series the HTML report draws."""
    from verifier.checks.errorstats import error_series, error_statistics

    atol, rtol = check.figures["atol"], check.figures["rtol"]
    return replace(
        check,
        figures={
            **check.figures,
            "tolerance_origin": origin,
            "reference": reference_kind,
            "stats": error_statistics(expected, actual, rtol=rtol),
            "series": error_series(expected, actual, atol=atol, rtol=rtol),
        },
    )


def _read_once(path: str) -> Any:
    """The file's :class:`~verifier.format.reader.document.Document`, or the path (a ``Path``: a file name is
    never
    read as JSON text) when it cannot be read, so that each step reports the reader's finding in its words."""
    from verifier.errors import ModelFormatError
    from verifier.format.reader.document import read

    try:
        return read(Path(path))
    except ModelFormatError:
        return Path(path)


def _drop_tree(source: Any) -> None:
    if not isinstance(source, Path):
        source.drop_tree()


def _skipped(names: Sequence[str], reason: str) -> list[Check]:
    return [Check(name, SKIP, reason, {}) for name in names]


def _judge_stream(
    check: Check,
    outputs: Outputs,
    mismatches: tuple[Any, ...],
    source: Any,
    xs: np.ndarray,
    dtype: str,
    tolerances: Tolerances,
) -> Check:
    """A failing stream of a stateful model is judged only as far as the model itself is reproducible."""
    stateful = not np.array_equal(outputs.actual_stream, outputs.actual_frame)
    if check.status != FAIL or mismatches or not stateful:
        return check
    atol, rtol = tolerances.stream
    # imported here: only a failing stream of a stateful model needs it (it imports the divergence search)
    from verifier.checks.diagnose.sensitivity import judge_chaotic_stream, stream_horizon

    horizon = stream_horizon(source, xs, dtype, atol, rtol)
    return judge_chaotic_stream(
        check, outputs.expected_stream, outputs.actual_stream, horizon, atol=atol, rtol=rtol, dtype=dtype
    )


def rss_copies(options: Options, manifest: Manifest | None) -> int:
    """The most copies of the RSS cross-check (0: not run): the option, else the manifest's, else 0."""
    if options.rss_copies is not None:
        return options.rss_copies
    return (manifest.rss_copies if manifest else 0) or 0


# The checks after load, in the order they run (skipped with the reason when the file does not load).
LATER_CHECKS = (
    "numeric-frame",
    "numeric-stream",
    "plugin-state",
    "rtneural-builds",
    "parameters",
    "widths",
    "latency",
    "memory",
)


@dataclass
class PreparedFile:
    """One file after the steps that need no torch (read, validate, load, tolerance), ready for the rest.

    ``result`` is set when nothing is left to run (the file does not load).
    """

    path: str
    entry: ModelEntry | None
    dtype: str
    spec: str | None
    reference: dict[str, Any]
    checks: list[Check]
    source: Any = None
    model: Any = None
    runner: Any = None
    tolerances: Tolerances | None = None
    result: FileResult | None = None


def prepare_file(path: str, options: Options = Options(), manifest: Manifest | None = None) -> PreparedFile:
    """The checks of ``path`` that need no torch: validate and load (then the tolerance it is held to)."""
    entry = manifest.entry_for(path) if manifest is not None else None
    dtype = options.dtype or (manifest.dtype if manifest is not None else "float32")
    spec = reference_spec(path, options, manifest)
    reference = describe_reference(spec, "--against" if options.against else "the manifest")
    # The file is read and parsed once (in C++): validate, load, the tolerance model, the embedded data and
    # the JSON rebuild all take this one document.
    source = _read_once(path)
    checks: list[Check] = [validate_check(path, source, dtype)]
    _drop_tree(source)  # rebuilt from the C++ document if the tolerance model or the JSON rebuild need it
    model, load_check = _load(path, source, dtype)
    runner = model
    if model is not None and options.backend != "engine":
        runner, load_check = _load_backend(source, dtype, options.backend, load_check)
        model = model if runner is not None else None
    checks.append(load_check)
    prepared = PreparedFile(path, entry, dtype, spec, reference, checks)
    if model is None:
        prepared.result = FileResult(
            path,
            tuple(checks + _skipped(LATER_CHECKS, "the file does not load")),
            entry.name if entry else None,
            reference,
        )
        return prepared
    prepared.tolerances = resolve_tolerances(options, manifest, entry, dtype, source)
    if spec:  # a torch module is the reference: only a failure's diagnosis would read the file again
        _drop_tree(source)
        source = Path(path)
    prepared.source, prepared.model, prepared.runner = source, model, runner
    return prepared


def verify_file(
    path: str,
    options: Options = Options(),
    manifest: Manifest | None = None,
    *,
    measure_rss: bool = True,
) -> FileResult:
    """Every check on one model file. Never raises for a bad file: problems are failing checks.

    ``measure_rss=False`` leaves the engine's RSS cross-check to the caller (:func:`verify_files` measures
    every file in one process afterwards, :func:`with_rss`): the memory check then has no RSS figure yet.
    """
    return finish_file(prepare_file(path, options, manifest), options, manifest, measure_rss=measure_rss)


def finish_file(
    prepared: PreparedFile,
    options: Options = Options(),
    manifest: Manifest | None = None,
    *,
    measure_rss: bool = True,
) -> FileResult:
    """The checks of a :func:`prepare_file`'d file that run torch or time the engine, then its memory."""
    if prepared.result is not None:
        return prepared.result
    path, entry, dtype, spec = prepared.path, prepared.entry, prepared.dtype, prepared.spec
    reference, checks, source = prepared.reference, prepared.checks, prepared.source
    model, runner, tolerances = prepared.model, prepared.runner, prepared.tolerances
    assert tolerances is not None  # set whenever the file loaded
    prepared.source = None  # the document is held here only: dropped below, before timing
    torch_module = None
    xs = None
    # The reference side runs user code (a factory, a checkpoint, a torch module of any shape): whatever it
    # raises is a failing check naming it, never a traceback; the checks that need no reference still run.
    try:
        torch_module = resolve_against(spec)() if spec else None
        embedded = None if torch_module is not None else _embedded(source, model)
        xs = random_inputs(options.steps, model.in_size, options.seed) if embedded is None else embedded[0]
        outputs, mismatches = _outputs(runner, source, torch_module, xs)
        kinds = {"numeric-frame": reference["kind"]}
        kinds["numeric-stream"] = "embedded" if embedded is not None else reference["kind"]
        if embedded is not None:
            outputs = replace(outputs, expected_stream=embedded[1])
            reference = EMBEDDED_REFERENCE
            if dtype == "float64":
                # Embedded outputs may have been computed in float32 (AIDA-X's are): their round-off is
                # float32's, which the float64 tolerance would report as a mismatch.
                tolerances = replace(
                    tolerances, stream=resolve_tolerances(options, manifest, entry, "float32", source).stream
                )
        patterns = (
            ("numeric-frame", outputs.expected_frame, outputs.actual_frame, tolerances.frame),
            ("numeric-stream", outputs.expected_stream, outputs.actual_stream, tolerances.stream),
        )
        numeric = [
            not_the_chain(
                _with_statistics(
                    check_agreement(name, expected, actual, atol=tol[0], rtol=tol[1], dtype=dtype),
                    expected,
                    actual,
                    tolerances.origin,
                    kinds[name],
                ),
                mismatches,
            )
            for name, expected, actual, tol in patterns
        ]
        numeric[1] = _judge_stream(numeric[1], outputs, mismatches, source, xs, dtype, tolerances)
        if embedded is not None:
            numeric[1] = replace(
                numeric[1], summary=f"{numeric[1].summary} (against the file's output_batch)"
            )
    except Exception as exc:
        origin = spec or "the file's input_batch/output_batch or its torch rebuild"
        checks += [
            Check(
                "numeric-frame",
                FAIL,
                f"no reference output from {origin}: {exception_text(exc)}",
                {"against": spec},
            ),
            *_skipped(LATER_CHECKS[1:3], "no reference output"),
        ]
        torch_module = None
    else:
        if any(check.failed for check in numeric):
            from verifier.checks.diagnose.diverge import annotate

            numeric = [  # each pattern against its own tolerance (a stream's is wider)
                annotate([check], model, source, torch_module, xs, atol=tol[0], rtol=tol[1])[0]
                for check, tol in zip(numeric, (tolerances.frame, tolerances.stream), strict=True)
            ]
        checks += numeric
        if numeric[0].status == PASS:  # the frame agrees with the module: a square kernel's orientation too
            checks[0] = orientation_confirmed(checks[0], reference)
        checks.append(
            check_plugin_state(
                outputs,
                atol=tolerances.stream[0],
                rtol=tolerances.stream[1],
                plugin_call=entry.plugin_call if entry is not None else None,
                torch_call=entry.torch_call if entry is not None else None,
            )
        )
    # Needs no reference: which of RTNeural's builds a plugin ships can change its answer on this model.
    inputs = xs if xs is not None else random_inputs(options.steps, model.in_size, options.seed)
    builds = check_builds(model, source, inputs, atol=tolerances.stream[0], rtol=tolerances.stream[1])
    checks = [explain_failure(check, builds) for check in checks] + [builds]

    checks.append(
        check_parameters(
            json_count=model.param_count,
            folded=folded_lstm_biases(model.layers),
            declared=entry.parameters if entry else None,
            declared_json=entry.json_parameters if entry else None,
            torch_count=torch_parameter_count(torch_module) if torch_module is not None else None,
        )
    )
    checks.append(
        check_widths(
            in_size=model.in_size,
            out_size=model.out_size,
            widths=json_widths(model.layers),
            declared_in=entry.in_size if entry else None,
            declared_out=entry.out_size if entry else None,
            declared_widths=entry.widths if entry else None,
            torch=torch_widths(torch_module) if torch_module is not None else None,
        )
    )

    _drop_tree(source)
    del source  # the loaded model is all the later checks need: the document is not held through timing
    if options.timing:
        steps = options.timing_steps or (manifest and manifest.latency_steps) or DEFAULT_TIMING_STEPS
        warmup = (
            options.warmup
            if options.warmup is not None
            else (manifest and manifest.latency_warmup) or DEFAULT_WARMUP
        )
        with timing_turn():
            frame, stream = measure_latency(runner, steps=steps, warmup=warmup, seed=options.seed)
        checks.append(check_latency(frame, stream, entry.latency_budget_p99_ns if entry else None))
    else:
        checks.append(Check("latency", SKIP, "timing disabled (--no-timing)", {}))

    copies = rss_copies(options, manifest)
    rss = None
    if copies and (measure_rss or options.backend != "engine"):
        target = RSS_TARGET_BYTES if options.backend == "engine" else None
        rss = measure_rss_in_fresh_process(path, dtype, copies, backend=options.backend, target_bytes=target)
    if options.backend == "engine":
        checks.append(check_memory(model.bytes_held, rss, dtype=dtype, param_count=model.param_count))
    elif runner.bytes_held is None:
        checks.append(Check("memory", SKIP, "RTNeural's heap use is not measurable here (needs glibc)", {}))
    else:
        checks.append(
            check_memory(
                runner.bytes_held, rss, dtype=dtype, param_count=model.param_count, holder="RTNeural's heap"
            )
        )
    return FileResult(path, tuple(checks), entry.name if entry else None, reference)


# --------------------------------------------------------------------------------------------- the run


def memory_total(files: Sequence[FileResult], manifest: Manifest) -> Check:
    """The manifest's models together against its memory budget (``skip`` if some were not checked)."""
    held: dict[str, int] = {}
    rss: dict[str, float] = {}
    for f in files:
        memory = f.check("memory")
        if f.model and memory is not None and "bytes_held" in memory.figures:
            held[f.model] = int(memory.figures["bytes_held"])
            if memory.figures.get("rss"):
                rss[f.model] = float(memory.figures["rss"]["per_copy"])
    missing = [e.name for e in manifest.models if e.name not in held]
    text = manifest.memory_budget_text
    if manifest.memory_budget_bytes is not None and text:
        budget = manifest.memory_budget_bytes
        text = f"{text} ({'4 MiB' if budget == 4 * 2**20 else f'{budget:,} B'})"
    return check_memory_total(
        held, manifest.memory_budget_bytes, budget_text=text, missing=missing, rss_per_copy=rss
    )


def with_rss(
    files: Sequence[FileResult], options: Options, manifest: Manifest | None
) -> tuple[FileResult, ...]:
    """``files`` (checked with ``measure_rss=False``) with the engine's RSS cross-check in their memory
    checks, every file measured in one fresh process; a file that cannot be measured becomes an internal
    error, as it would have been in :func:`verify_file`."""
    dtype = options.dtype or (manifest.dtype if manifest is not None else "float32")
    measured = [i for i, f in enumerate(files) if "bytes_held" in getattr(f.check("memory"), "figures", {})]
    if not measured:
        return tuple(files)
    answers = measure_rss_of_files(
        [files[i].path for i in measured], dtype, rss_copies(options, manifest), target_bytes=RSS_TARGET_BYTES
    )
    done = list(files)
    for i, answer in zip(measured, answers, strict=True):
        done[i] = _with_measured_rss(files[i], answer)
    return tuple(done)


def _with_measured_rss(result: FileResult, rss: RssMeasurement | RuntimeError) -> FileResult:
    if isinstance(rss, RuntimeError):
        return internal_error(
            result.path,
            f"checking {result.path} raised RuntimeError: {rss}",
            {"exception": "RuntimeError", "message": str(rss)},
        )
    memory, parameters = result.check("memory"), result.check("parameters")
    # both are there whenever the file loaded (memory carries bytes_held only then)
    assert memory is not None
    assert parameters is not None
    figures = memory.figures
    redone = check_memory(
        figures["bytes_held"], rss, dtype=figures["dtype"], param_count=parameters.figures["json"]
    )
    checks = tuple(redone if check is memory else check for check in result.checks)
    return replace(result, checks=checks)


def verify_files(
    paths: Sequence[str],
    options: Options = Options(),
    manifest: Manifest | None = None,
    *,
    jobs: int = 1,
    progress: Callable[[int, int, FileResult, bool], None] | None = None,
    tool: dict[str, Any] | None = None,
    machine: dict[str, Any] | None = None,
) -> RunResult:
    """Every file through :func:`verify_file` (``jobs`` processes), results in the order of ``paths``.

    ``progress(done, total, result, pending)`` is told of each file as it is checked; ``pending`` is true
    while the file's RSS cross-check is still to come (run for every file at the end), so a file that has
    passed so far is not yet "ok"."""
    results: dict[int, FileResult] = {}
    # The engine's RSS cross-check runs once for every file, in one process, after every file has been timed:
    # one interpreter instead of one per file, and never beside a timed loop.
    rss_afterwards = bool(rss_copies(options, manifest)) and options.backend == "engine"

    def done(index: int, result: FileResult) -> None:
        results[index] = result
        if progress:
            progress(len(results), len(paths), result, rss_afterwards)

    if jobs > 1 and len(paths) > 1:
        check_in_processes(
            paths, options, manifest, jobs, done, check_file=verify_file, measure_rss=not rss_afterwards
        )
    else:
        # Files compared with a torch module are validated and loaded before torch is imported: validation's
        # transient memory then peaks over this small process, not over torch's ~190 MB (their documents are
        # dropped once loaded, so nothing large is held meanwhile). Files checked against their own JSON
        # keep their document for the rebuild: each is prepared in its turn, so one document at a time.
        ahead = {
            i: guarded(path, prepare_file, path, options, manifest)
            for i, path in enumerate(paths)
            if reference_spec(path, options, manifest)
        }
        for i, path in enumerate(paths):
            prepared = ahead.pop(i) if i in ahead else guarded(path, prepare_file, path, options, manifest)
            if not isinstance(prepared, FileResult):
                prepared = guarded(
                    path, finish_file, prepared, options, manifest, measure_rss=not rss_afterwards
                )
            done(i, prepared)
    files = tuple(results[i] for i in range(len(paths)))
    if rss_afterwards:
        files = with_rss(files, options, manifest)
    suite = (memory_total(files, manifest),) if manifest is not None and manifest.memory_budget_bytes else ()
    dtype = options.dtype or (manifest.dtype if manifest is not None else "float32")
    settings = {
        "dtype": dtype,
        "atol": options.atol,
        "rtol": options.rtol,
        "steps": options.steps,
        "seed": options.seed,
        "timing": options.timing,
        "timing_steps": options.timing_steps,
        "warmup": options.warmup,
        "rss_copies": options.rss_copies,
        "against": options.against,
        "backend": options.backend,
        "manifest": None if manifest is None else os.fspath(manifest.path),
        "jobs": jobs,
        "baseline": None,
    }
    return RunResult(files, suite, tool or {}, machine or {}, settings)
