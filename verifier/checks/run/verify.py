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
from contextlib import nullcontext
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
    PatternLatency,
    PluginLatency,
    RssMeasurement,
    check_latency,
    check_memory,
    check_memory_total,
    check_parameters,
    check_widths,
    folded_lstm_biases,
    json_widths,
    measure_patterns,
    measure_rss_in_fresh_process,
    measure_rss_of_files,
)
from verifier.checks.builds import check_builds, explain_failure
from verifier.checks.diagnose.diverge import CHECK_PATTERN
from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check, FileResult, RunResult
from verifier.checks.run.cache import ResultCache
from verifier.checks.run.isolation import check_in_processes, guarded, internal_error, timing_turn
from verifier.checks.run.manifest import Manifest, ModelEntry
from verifier.checks.run.options import DEFAULT_TIMING_STEPS, DEFAULT_WARMUP, Options
from verifier.checks.run.plugin_latency import model_names
from verifier.checks.run.reference import (
    ReferenceError,
    ReferenceFailure,
    ReferenceRun,
    References,
    check_references,
    describe_reference,
    diagnosed,
    isolated_references,
    reference_setting,
    reference_spec,
)
from verifier.checks.run.tolerances import Tolerances, resolve_tolerances
from verifier.checks.validation import orientation_confirmed, validate_check
from verifier.errors import ConfigurationError
from verifier.format.loaders import torch_helpers
from verifier.format.loaders.state_dict import converted, is_state_dict
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


def _once(load_check: Check, validate: Check) -> Check:
    """A load failure that validate has already reported (its rule at its place, an error) is not reported
    again: the load check is skipped and points at that finding, so each report shows one line, one
    annotation, one SARIF result per finding. The file fails on validate's finding all the same."""
    rule, pointer = load_check.figures.get("rule"), load_check.figures.get("pointer")
    if load_check.status != FAIL or rule is None:
        return load_check
    for finding in validate.figures.get("findings") or ():
        if (finding.get("rule"), finding.get("pointer"), finding.get("severity")) == (rule, pointer, "error"):
            summary = f"not loaded: see validate {rule} at {pointer or '/'}"
            return Check("load", SKIP, summary, {"reported_by": "validate"})
    return load_check


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


STATE_DICT_REFERENCE = {
    "kind": "state-dict",
    "summary": "against PyTorch's nn.LSTM/nn.GRU and nn.Linear loaded from the file's state_dict (plus "
    "input 0 when skip is 1), as GuitarML's training code computes it: this checks the plugin's conversion "
    "and the engine, not the training",
}
TORCH_HELPERS_REFERENCE = {
    "kind": "torch-helpers",
    "summary": "against PyTorch's nn.Linear/nn.LSTM/nn.GRU/nn.Conv1d loaded from the file's state_dict as "
    "the manifest's torch_helpers declaration lists them: this checks the helpers' conversion and the engine",
}
EMBEDDED_REFERENCE = {
    "kind": "embedded",
    "summary": "streamed against the file's own input_batch/output_batch (per frame: the JSON's own rebuild)",
}


def _outputs(
    model: Any, source: Any, ran: ReferenceRun | None, xs: np.ndarray
) -> tuple[Outputs, tuple[Any, ...]]:
    """The four output sequences (the reference module's as ``ran`` brought them, else the JSON's own torch
    rebuild's), and every container of the module whose forward() is not its chain."""
    mismatches: tuple[Any, ...] = ()
    if ran is not None:
        expected_frame, expected_stream, mismatches = ran.frames, ran.stream, ran.mismatches
    else:
        import torch

        from verifier.pytorch.rebuild import reference

        rebuilt = reference(source, torch.float64)
        expected_stream = rebuilt(xs).numpy()
        expected_frame = rebuilt(xs[:, None, :])[:, 0].numpy()  # a batch of T one-step sequences
    model.reset()
    actual_stream = model.run(xs)
    actual_frame = model.run_frames(xs)
    return Outputs(expected_frame, expected_stream, actual_frame, actual_stream), mismatches


def _long_streams(
    prepared: PreparedFile,
    runner: Any,
    source: Any,
    options: Options,
    manifest: Manifest | None,
    references: References | None,
) -> Check:
    """The long-streams check of a loaded file: its runtime against the reference module (in
    ``references``), else the JSON's own torch rebuild, streamed over seconds of audio."""
    from verifier.checks.longstreams import NAME, judge_long_streams, long_stream_cases

    path, spec, seconds = prepared.path, prepared.spec, options.long_streams
    cases = long_stream_cases(runner.in_size, seconds)
    steps = len(next(iter(cases.values())))
    # Held to the stream tolerance of that many steps (a recurrent state's round-off grows with them).
    atol, rtol = resolve_tolerances(
        replace(options, steps=steps), manifest, prepared.entry, prepared.dtype, source
    ).stream
    if spec:
        assert references is not None
        answer = references.outputs(spec, reference_setting(path, options, manifest), list(cases.values()))
        if isinstance(answer, ReferenceFailure):
            return Check(NAME, FAIL, f"no reference output: {answer.summary}", {"against": spec})
        expected = {name: streamed for name, (_, streamed) in zip(cases, answer, strict=True)}
    else:
        import torch

        from verifier.pytorch.rebuild import reference

        rebuilt = reference(source, torch.float64)
        expected = {name: rebuilt(xs).numpy() for name, xs in cases.items()}
    actual = {}
    for name, xs in cases.items():
        runner.reset()
        actual[name] = runner.run(xs)
    return judge_long_streams(expected, actual, atol=atol, rtol=rtol, dtype=prepared.dtype, seconds=seconds)


class _NoReference(Exception):
    """The reference module gave no outputs (:class:`ReferenceFailure`): its summary names the factory."""


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


def _declared(source: Any, declaration: Any) -> Any:
    """The file's document with the manifest's torch_helpers declaration in it (the file is not changed;
    the pointers of every finding stay the file's own), or ``source`` when it is not a JSON object."""
    return source if isinstance(source, Path) else torch_helpers.declared(source, declaration)


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
    # A GuitarML state_dict file's keras-json: the checks that read layers take it (the reference does not)
    keras: dict[str, Any] | None = None


def prepare_file(path: str, options: Options = Options(), manifest: Manifest | None = None) -> PreparedFile:
    """The checks of ``path`` that need no torch: validate and load (then the tolerance it is held to)."""
    entry = manifest.entry_for(path) if manifest is not None else None
    dtype = options.dtype or (manifest.dtype if manifest is not None else "float32")
    spec = reference_spec(path, options, manifest)
    reference = describe_reference(spec, "--against" if options.against else "the manifest")
    # The file is read and parsed once (in C++): validate, load, the tolerance model, the embedded data and
    # the JSON rebuild all take this one document.
    source = _read_once(path)
    if entry is not None and entry.torch_helpers is not None:
        source = _declared(source, entry.torch_helpers)
    checks: list[Check] = [validate_check(path, source, dtype)]
    plugin_file = not isinstance(source, Path) and is_state_dict(source.outline())
    helpers_file = not isinstance(source, Path) and torch_helpers.is_torch_helpers(source.outline())
    keras = converted(source) if plugin_file else torch_helpers.converted(source) if helpers_file else None
    if spec is None and (plugin_file or helpers_file):
        reference = STATE_DICT_REFERENCE if plugin_file else TORCH_HELPERS_REFERENCE
    _drop_tree(source)  # rebuilt from the C++ document if the tolerance model or the JSON rebuild need it
    model, load_check = _load(path, source, dtype)
    load_check = _once(load_check, checks[0])
    runner = model
    if model is not None and options.backend != "engine":
        runner, load_check = _load_backend(source, dtype, options.backend, load_check)
        model = model if runner is not None else None
    checks.append(load_check)
    prepared = PreparedFile(path, entry, dtype, spec, reference, checks, keras=keras)
    if model is None:
        prepared.result = FileResult(
            path,
            tuple(checks + _skipped(LATER_CHECKS, "the file does not load")),
            entry.name if entry else None,
            reference,
        )
        return prepared
    prepared.tolerances = resolve_tolerances(options, manifest, entry, dtype, keras or source)
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
    references: References | None = None,
) -> FileResult:
    """Every check on one model file. Never raises for a bad file: problems are failing checks (an
    unusable factory is the run's configuration error, :func:`finish_file`).

    ``measure_rss=False`` leaves the engine's RSS cross-check to the caller (:func:`verify_files` measures
    every file in one process afterwards, :func:`with_rss`): the memory check then has no RSS figure yet.
    """
    prepared = prepare_file(path, options, manifest)
    return finish_file(prepared, options, manifest, measure_rss=measure_rss, references=references)


def finish_file(
    prepared: PreparedFile,
    options: Options = Options(),
    manifest: Manifest | None = None,
    *,
    measure_rss: bool = True,
    references: References | None = None,
) -> FileResult:
    """The checks of a :func:`prepare_file`'d file that run torch or time the engine, then its memory.

    The reference module runs in ``references`` (default: a child process for this file alone,
    :func:`~verifier.checks.run.reference.isolated_references`). Raises
    :class:`~verifier.checks.run.reference.ReferenceError` when the file's factory cannot be imported or
    called: the run's configuration, not a finding."""
    if prepared.result is not None:
        return prepared.result
    if references is None and prepared.spec:
        with isolated_references(options, manifest) as own:
            return finish_file(prepared, options, manifest, measure_rss=measure_rss, references=own)
    path, entry, dtype, spec = prepared.path, prepared.entry, prepared.dtype, prepared.spec
    reference, checks, source = prepared.reference, prepared.checks, prepared.source
    model, runner, tolerances = prepared.model, prepared.runner, prepared.tolerances
    layers = prepared.keras or source
    assert tolerances is not None  # set whenever the file loaded
    prepared.source = None  # the document is held here only: dropped below, before timing
    ran: ReferenceRun | None = None
    xs = None
    # The reference side runs user code (a factory, a checkpoint, a torch module of any shape) in
    # ``references``: whatever it does is a failing check naming it, never a traceback or the run's end; the
    # checks that need no reference still run.
    try:
        if spec:
            assert references is not None
            embedded = None
            xs = random_inputs(options.steps, model.in_size, options.seed)
            answer = references.run(spec, reference_setting(path, options, manifest), xs)
            if isinstance(answer, ReferenceFailure):
                if answer.configuration:
                    raise ReferenceError(reference_setting(path, options, manifest), answer.summary)
                raise _NoReference(answer.summary)
            ran = answer
        else:
            embedded = _embedded(source, model)
            xs = embedded[0] if embedded else random_inputs(options.steps, model.in_size, options.seed)
        outputs, mismatches = _outputs(runner, source, ran, xs)
        kinds = {"numeric-frame": reference["kind"]}
        kinds["numeric-stream"] = "embedded" if embedded is not None else reference["kind"]
        if embedded is not None:
            outputs = replace(outputs, expected_stream=embedded[1])
            reference = EMBEDDED_REFERENCE
            if dtype == "float64":
                # Embedded outputs may have been computed in float32 (AIDA-X's are): their round-off is
                # float32's, which the float64 tolerance would report as a mismatch.
                tolerances = replace(
                    tolerances, stream=resolve_tolerances(options, manifest, entry, "float32", layers).stream
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
        numeric[1] = _judge_stream(numeric[1], outputs, mismatches, layers, xs, dtype, tolerances)
        if embedded is not None:
            numeric[1] = replace(
                numeric[1], summary=f"{numeric[1].summary} (against the file's output_batch)"
            )
    except ConfigurationError:
        raise
    except Exception as exc:
        if isinstance(exc, _NoReference):
            summary = f"no reference output: {exc}"
        else:
            origin = spec or "the file's input_batch/output_batch or its torch rebuild"
            summary = f"no reference output from {origin}: {exception_text(exc)}"
        checks += [
            Check("numeric-frame", FAIL, summary, {"against": spec}),
            *_skipped(LATER_CHECKS[1:3], "no reference output"),
        ]
        ran = None
    else:
        if any(check.failed for check in numeric):
            limits = (tolerances.frame, tolerances.stream)
            if spec:
                assert references is not None
                numeric = references.diagnose(path, dtype, numeric, xs, limits)
            else:
                numeric = diagnosed(numeric, model, layers, None, xs, limits)
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
                disagreeing=[CHECK_PATTERN[c.name] for c in numeric if c.failed],
            )
        )
    # Needs no reference: which of RTNeural's builds a plugin ships can change its answer on this model.
    inputs = xs if xs is not None else random_inputs(options.steps, model.in_size, options.seed)
    builds = check_builds(model, layers, inputs, atol=tolerances.stream[0], rtol=tolerances.stream[1])
    checks = [explain_failure(check, builds) for check in checks] + [builds]
    if options.long_streams:
        checks.append(_long_streams(prepared, runner, source, options, manifest, references))

    checks.append(
        check_parameters(
            json_count=model.param_count,
            folded=folded_lstm_biases(model.layers),
            declared=entry.parameters if entry else None,
            declared_json=entry.json_parameters if entry else None,
            torch_count=ran.parameters if ran is not None else None,
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
            torch=list(ran.widths) if ran is not None else None,
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
        checks.append(_latency(path, prepared, runner, options, steps=steps, warmup=warmup))
    elif plugin := _plugin_figures(path, prepared, options):
        budget = prepared.entry.latency_budget_p99_ns if prepared.entry else None
        checks.append(check_latency(None, None, budget, plugin=plugin))
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


def _latency(
    path: str, prepared: PreparedFile, runner: Any, options: Options, *, steps: int, warmup: int
) -> Check:
    """The latency check: every pattern on the runtime checked; RTNeural's dynamic model beside the engine
    when that backend is built (shown, not judged); the plugin's own figures when given (judged)."""
    from verifier.engine.backends import rtneural_times_silence
    from verifier.engine.model import FLUSH_TO_ZERO_AVAILABLE

    entry = prepared.entry
    ftz = FLUSH_TO_ZERO_AVAILABLE
    engine = options.backend == "engine"
    beside = None
    with timing_turn():
        measured = measure_patterns(
            runner,
            steps=steps,
            warmup=warmup,
            seed=options.seed,
            flush_to_zero_available=ftz,
            silence=engine or rtneural_times_silence(),
        )
        if engine and rtneural_times_silence():
            beside = _rtneural_latency(path, prepared.dtype, steps, warmup, options.seed)
    plugin = _plugin_figures(path, prepared, options)
    return check_latency(
        measured.frame,
        measured.stream,
        entry.latency_budget_p99_ns if entry else None,
        silence=measured.silence,
        silence_ftz=measured.silence_ftz,
        runtime="the engine" if engine else "RTNeural",
        rtneural=beside,
        plugin=plugin,
    )


def _plugin_figures(path: str, prepared: PreparedFile, options: Options) -> PluginLatency | None:
    """The plugin's own figures (--plugin-latency) naming this file, if any."""
    names = model_names(path, prepared.entry.name if prepared.entry else None)
    return next((given for given in options.plugin_latency if given.model in names), None)


def _rtneural_latency(path: str, dtype: str, steps: int, warmup: int, seed: int) -> PatternLatency | None:
    """RTNeural's dynamic model on the same patterns; None when RTNeural refuses the file (the numeric
    checks under --backend rtneural say why)."""
    from verifier.engine.backends import load_backend
    from verifier.engine.model import FLUSH_TO_ZERO_AVAILABLE
    from verifier.errors import ModelFormatError

    try:
        model = load_backend(path, "rtneural", dtype)
    except (ModelFormatError, ValueError):
        return None
    return measure_patterns(
        model, steps=steps, warmup=warmup, seed=seed, flush_to_zero_available=FLUSH_TO_ZERO_AVAILABLE
    )


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
    references: References | None = None,
    cache: ResultCache | None = None,
) -> RunResult:
    """Every file through :func:`verify_file` (``jobs`` processes), results in the order of ``paths``.

    ``progress(done, total, result, pending)`` is told of each file as it is checked; ``pending`` is true
    while the file's RSS cross-check is still to come (run for every file at the end), so a file that has
    passed so far is not yet "ok".

    The reference modules run in ``references`` (default: one child process for the whole serial run,
    or one per file under ``jobs``). A factory that cannot be imported or called raises
    :class:`~verifier.checks.run.reference.ReferenceError` (serially: before any file is checked).

    With a ``cache``, a file whose result it holds under the same key is served from it
    (:mod:`verifier.checks.run.cache`): only the others are checked (nothing of the reference side starts
    when none is), and their results are stored."""
    if cache is not None:
        return _with_cache(
            cache, paths, options, manifest, jobs, progress, tool=tool, machine=machine, references=references
        )
    results: dict[int, FileResult] = {}
    # The engine's RSS cross-check runs once for every file, in one process, after every file has been timed:
    # one interpreter instead of one per file, and never beside a timed loop.
    rss_afterwards = bool(rss_copies(options, manifest)) and options.backend == "engine"

    def done(index: int, result: FileResult) -> None:
        results[index] = result
        if progress:
            progress(len(results), len(paths), result, rss_afterwards)

    if jobs > 1 and len(paths) > 1 and references is None:
        check_in_processes(
            paths, options, manifest, jobs, done, check_file=verify_file, measure_rss=not rss_afterwards
        )
    else:
        own = isolated_references(options, manifest) if references is None else nullcontext(references)
        with own as refs:
            _check_serially(paths, options, manifest, refs, done, measure_rss=not rss_afterwards)
    files = tuple(results[i] for i in range(len(paths)))
    if rss_afterwards:
        files = with_rss(files, options, manifest)
    suite = (memory_total(files, manifest),) if manifest is not None and manifest.memory_budget_bytes else ()
    return RunResult(files, suite, tool or {}, machine or {}, run_settings(options, manifest, jobs))


def run_settings(options: Options, manifest: Manifest | None, jobs: int) -> dict[str, Any]:
    """What a run was asked to do, as its report's ``settings`` say."""
    dtype = options.dtype or (manifest.dtype if manifest is not None else "float32")
    return {
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


def _with_cache(
    cache: ResultCache,
    paths: Sequence[str],
    options: Options,
    manifest: Manifest | None,
    jobs: int,
    progress: Callable[[int, int, FileResult, bool], None] | None,
    **run: Any,
) -> RunResult:
    """:func:`verify_files` with the files ``cache`` holds served from it; the others checked, then stored."""
    served, keys = cache.serve(paths, options, manifest, jobs=jobs)
    for count, index in enumerate(sorted(served), 1):
        if progress:
            progress(count, len(paths), served[index], False)
    missed = [i for i in range(len(paths)) if i not in served]
    fresh: dict[int, FileResult] = {}
    checked = RunResult((), tool=run["tool"] or {}, machine=run["machine"] or {})
    if missed:

        def told(done: int, _total: int, result: FileResult, pending: bool) -> None:
            assert progress is not None
            progress(len(served) + done, len(paths), result, pending)

        checked = verify_files(
            [paths[i] for i in missed], options, manifest, jobs=jobs, progress=progress and told, **run
        )
        fresh = dict(zip(missed, checked.files, strict=True))
        cache.keep(fresh, keys, options, manifest, jobs=jobs)
    files = tuple(served[i] if i in served else fresh[i] for i in range(len(paths)))
    suite = (memory_total(files, manifest),) if manifest is not None and manifest.memory_budget_bytes else ()
    return replace(checked, files=files, suite=suite, settings=run_settings(options, manifest, jobs))


def _check_serially(
    paths: Sequence[str],
    options: Options,
    manifest: Manifest | None,
    references: References,
    done: Callable[[int, FileResult], None],
    *,
    measure_rss: bool,
) -> None:
    """Every file in this process (the reference modules in ``references``), ``done(index, result)`` for each.

    Files compared with a torch module are validated and loaded before any is finished, while the child
    process starts: validation's transient memory then peaks before this process runs anything else (their
    documents are dropped once loaded, so nothing large is held meanwhile), and torch's import overlaps it.
    A factory that cannot be imported stops the run (:func:`check_references`) before any file is finished.
    Files checked against their own JSON keep their document for the rebuild: each is prepared in its
    turn, so one document at a time."""
    compared = [i for i, path in enumerate(paths) if reference_spec(path, options, manifest)]
    if compared:
        references.start()  # torch is imported there while this process validates and loads
    ahead = {i: guarded(paths[i], prepare_file, paths[i], options, manifest) for i in compared}
    check_references(paths, options, manifest, references)  # before anything is finished or timed
    for i, path in enumerate(paths):
        prepared = ahead.pop(i) if i in ahead else guarded(path, prepare_file, path, options, manifest)
        if not isinstance(prepared, FileResult):
            prepared = guarded(
                path, finish_file, prepared, options, manifest, measure_rss=measure_rss, references=references
            )
        done(i, prepared)


def verify(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    module: Any = None,
    *,
    manifest: str | os.PathLike[str] | Manifest | None = None,
    **options: Any,
) -> RunResult:
    """Every ``verify`` check on ``paths``, the reference module run in *this* process: the trusted mode for a
    notebook or a script that holds its model in memory.

    ``module`` is an ``nn.Module`` (or a zero-argument factory of one) that every file is compared with;
    without it each file's reference is the manifest's factory (imported here), else the JSON's own
    rebuild. ``manifest`` is a manifest file or a loaded one; ``options`` are the fields of
    :class:`~verifier.checks.run.options.Options` (``timing``, ``steps``, ``atol``, ``dtype``...). The
    result is the CLI's, with the same checks.

    Nothing isolates the module here: its ``forward()`` may end or hang this process. The ``verify``
    command, the hooks and the pytest plugin run user code in a child process instead.

    Example::

        import verifier

        model = train()  # a torch module in memory
        verifier.export(model, "model.json")
        result = verifier.verify("model.json", module=model, timing=False, rss_copies=0)
        assert not result.failed, [c.summary for f in result.files for c in f.checks if c.failed]
        print(result.files[0].check("numeric-stream").figures["stats"]["max_abs_error"])
    """
    from verifier.checks.run.manifest import load_manifest
    from verifier.checks.run.reference import IN_PROCESS, LocalReferences

    if module is not None and options.get("against"):
        raise TypeError("verify(): give module= or against=, not both")
    if module is not None:
        options = {**options, "against": IN_PROCESS}
    chosen = load_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else manifest
    files = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    if "plugin_latency" not in options and chosen is not None:
        from verifier.checks.run.plugin_latency import files_named, read_named

        figures = read_named(files_named([], None, files, chosen), files, chosen)
        options = {**options, "plugin_latency": figures}
    with LocalReferences(module) as references:
        return verify_files(files, Options(**options), chosen, references=references)
