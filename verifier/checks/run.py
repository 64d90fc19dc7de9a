"""One ``verify`` run as a library call: every check on every file, returned as a ``RunResult``.

The CLI (``verifier.cli``) only parses arguments, calls :func:`verify_files` and formats what it returns;
everything it does is reachable from here. Per file, in the order data flows:

``validate`` (findings) -> ``load`` (the engine) -> ``numeric-frame`` / ``numeric-stream`` /
``plugin-state`` (against the torch module or the JSON's independent reference) -> ``parameters`` /
``widths`` (against the manifest) -> ``latency`` -> ``memory``; then ``memory-total`` over the manifest's
models. A step that cannot run (the file does not load) turns the later checks into ``skip`` with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, replace
from importlib import import_module
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from verifier.checks.agreement import Outputs, check_agreement, check_plugin_state, random_inputs
from verifier.checks.budgets import (
    check_latency,
    check_memory,
    check_memory_total,
    check_parameters,
    check_widths,
    folded_lstm_biases,
    json_widths,
    measure_latency,
    measure_rss_in_fresh_process,
    torch_parameter_count,
    torch_widths,
)
from verifier.checks.manifest import DEFAULT_TOLERANCE, Manifest, ModelEntry
from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check, FileResult, RunResult
from verifier.errors import VerifierError

DEFAULT_TIMING_STEPS = 2000
DEFAULT_WARMUP = 200


@dataclass(frozen=True)
class Options:
    """What a run does; ``None`` means "the manifest's value, else the default"."""

    dtype: str | None = None
    atol: float | None = None
    rtol: float | None = None
    steps: int = 256  # time steps of the numeric comparison
    seed: int = 0
    timing: bool = True
    timing_steps: int | None = None
    warmup: int | None = None
    rss_copies: int | None = None  # 0 skips the RSS cross-check
    against: str | None = None  # "module:factory" or a saved torch module (torch.save(module, path))


class ReferenceError(VerifierError):
    """``--against`` (or a manifest factory) does not name a usable torch module."""


def resolve_against(spec: str) -> Callable[[], Any]:
    """A zero-argument callable returning the torch module ``spec`` names (``module:factory`` or a file)."""
    if ":" in spec and not Path(spec).exists():
        module_name, _, attr = spec.partition(":")
        try:
            module = import_module(module_name)
        except ImportError as exc:
            raise ReferenceError(f"--against {spec}: cannot import {module_name!r}: {exc}") from None
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise ReferenceError(f"--against {spec}: {module_name!r} has no callable {attr!r}")
        return factory
    path = Path(spec)
    if not path.is_file():
        raise ReferenceError(f"--against {spec}: neither module:factory nor an existing checkpoint file")

    def load_checkpoint() -> Any:
        import torch

        # A whole pickled module (torch.save(module, path)); unpickling runs code: only files the user names.
        module = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(module, torch.nn.Module):
            raise ReferenceError(
                f"--against {spec}: the checkpoint holds a {type(module).__name__}, not a torch module "
                "(save the module itself, or give module:factory)"
            )
        return module

    return load_checkpoint


# --------------------------------------------------------------------------------------------- per step


def _validate_check(source: Any) -> Check:
    from verifier.format.validate import validate

    findings = validate(source)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    figures = {
        "errors": len(errors),
        "warnings": len(warnings),
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "pointer": f.pointer,
                "message": f.message,
                "rtneural": f.rtneural,
            }
            for f in findings
        ],
    }
    first = (errors or warnings or findings or [None])[0]
    if first is None:
        return Check("validate", PASS, "no findings", figures)
    lead = f"{first.rule} {first.pointer or '/'}: {first.message}"
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    status = FAIL if errors else WARN if warnings else PASS
    return Check("validate", status, f"{lead}{more}", figures)


def _load(source: Any, dtype: str) -> tuple[Any, Check]:
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError

    try:
        model = load(source, dtype)
    except ModelFormatError as exc:
        return None, Check(
            "load",
            FAIL,
            f"{exc.pointer or '/'}: {exc.message}",
            {"pointer": exc.pointer, "expected": exc.expected, "found": exc.found, "rule": exc.rule},
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


def _outputs(model: Any, source: Any, torch_module: Any, xs: np.ndarray) -> Outputs:
    import torch

    from verifier.pytorch.reference import frames, reference, stream

    if torch_module is not None:
        expected_frame = frames(torch_module, xs, torch.float64)
        expected_stream = stream(torch_module, xs, torch.float64)
    else:
        rebuilt = reference(source, torch.float64)
        expected_stream = rebuilt(xs).numpy()
        expected_frame = rebuilt(xs[:, None, :])[:, 0].numpy()  # a batch of T one-step sequences
    model.reset()
    actual_stream = model.run(xs)
    actual_frame = model.run_frames(xs)
    return Outputs(expected_frame, expected_stream, actual_frame, actual_stream)


def _read_once(path: str) -> Any:
    """The file's :class:`~verifier.format.document.Document`, or ``path`` itself when it cannot be read."""
    from verifier.errors import ModelFormatError
    from verifier.format.document import read

    try:
        return read(path)
    except ModelFormatError:
        return path


def _drop_tree(source: Any) -> None:
    if not isinstance(source, str):
        source.drop_tree()


def _skipped(names: Sequence[str], reason: str) -> list[Check]:
    return [Check(name, SKIP, reason, {}) for name in names]


def _tolerance(
    options: Options, manifest: Manifest | None, entry: ModelEntry | None, dtype: str, source: Any
) -> tuple[float, float, str]:
    if options.atol is not None or options.rtol is not None:
        return options.atol or 0.0, options.rtol or 0.0, "command line"
    if manifest is not None and (
        (entry is not None and dtype in entry.tolerance) or dtype in manifest.tolerance
    ):
        atol, rtol = manifest.tolerance_for(entry, dtype)
        return atol, rtol, "manifest"
    try:
        from verifier.checks.tolerance import tolerance_for
        from verifier.format.document import read_document

        atol, rtol = tolerance_for(read_document(source)[0], dtype)
        return atol, rtol, "verifier.checks.tolerance (model depth and width)"
    except Exception:  # the tolerance model is advisory; the fixed default is always available
        atol, rtol = DEFAULT_TOLERANCE[dtype]
        return atol, rtol, "default"


def verify_file(
    path: str,
    options: Options = Options(),
    manifest: Manifest | None = None,
) -> FileResult:
    """Every check on one model file. Never raises for a bad file: problems are failing checks."""
    entry = manifest.entry_for(path) if manifest is not None else None
    dtype = options.dtype or (manifest.dtype if manifest is not None else "float32")
    # The file is read and parsed once (in C++): validate, load, the tolerance model and the JSON rebuild all
    # take this one document. A file that cannot be read is passed on as its path, so that each step
    # reports the reader's finding in its own words.
    source = _read_once(path)
    checks: list[Check] = [_validate_check(source)]
    _drop_tree(source)  # rebuilt from the C++ document if the tolerance model or the JSON rebuild need it
    model, load_check = _load(source, dtype)
    checks.append(load_check)
    later = ["numeric-frame", "numeric-stream", "plugin-state", "parameters", "widths", "latency", "memory"]
    if model is None:
        return FileResult(
            path, tuple(checks + _skipped(later, "the file does not load")), entry and entry.name
        )

    spec = options.against or (entry.factory if entry is not None else None)
    torch_module = None
    atol, rtol, origin = _tolerance(options, manifest, entry, dtype, source)
    if spec:
        source = path  # a torch module is the reference: nothing reads the document again
    # The reference side runs user code (a factory, a checkpoint, a torch module of any shape): whatever it
    # raises is a failing check naming it, never a traceback; the checks that need no reference still run.
    try:
        torch_module = resolve_against(spec)() if spec else None
        xs = random_inputs(options.steps, model.in_size, options.seed)
        outputs = _outputs(model, source, torch_module, xs)
        numeric = [
            replace(check, figures={**check.figures, "tolerance_origin": origin})
            for check in (
                check_agreement(
                    "numeric-frame",
                    outputs.expected_frame,
                    outputs.actual_frame,
                    atol=atol,
                    rtol=rtol,
                    dtype=dtype,
                ),
                check_agreement(
                    "numeric-stream",
                    outputs.expected_stream,
                    outputs.actual_stream,
                    atol=atol,
                    rtol=rtol,
                    dtype=dtype,
                ),
            )
        ]
    except Exception as exc:
        source = spec or "the JSON's torch rebuild"
        checks += [
            Check(
                "numeric-frame",
                FAIL,
                f"no reference output from {source}: {type(exc).__name__}: {exc}",
                {"against": spec},
            ),
            *_skipped(later[1:3], "no reference output"),
        ]
        torch_module = None
    else:
        checks += numeric
        checks.append(
            check_plugin_state(
                outputs,
                atol=atol,
                rtol=rtol,
                plugin_call=entry.plugin_call if entry is not None else None,
                torch_call=entry.torch_call if entry is not None else None,
            )
        )

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
        with _timing_turn():
            frame, stream = measure_latency(model, steps=steps, warmup=warmup, seed=options.seed)
        checks.append(check_latency(frame, stream, entry.latency_budget_p99_ns if entry else None))
    else:
        checks.append(Check("latency", SKIP, "timing disabled (--no-timing)", {}))

    copies = (
        options.rss_copies
        if options.rss_copies is not None
        else (manifest.rss_copies if manifest else 0) or 0
    )
    rss = measure_rss_in_fresh_process(path, dtype, copies) if copies else None
    checks.append(check_memory(model.bytes_held, rss, dtype=dtype, param_count=model.param_count))
    return FileResult(path, tuple(checks), entry.name if entry else None)


# --------------------------------------------------------------------------------------------- the run

# Set in each --jobs worker by _start_worker (process-wide by nature: it is the worker's own lock handle).
_TIMING_LOCK: Any = None


def _start_worker(timing_lock: Any, counter: Any, jobs: int) -> None:
    """A ``--jobs`` worker: its own core when there are as many cores as workers, and one lock shared by all
    workers so that at most one of them times at once.

    Latency is what one core does with a model; a second worker timing (or running torch) on the same core
    would be measured with it. Pinning keeps the other workers' validation and torch work off the timing
    core; the lock keeps two timed loops from competing for the shared cache and memory bandwidth.
    """
    global _TIMING_LOCK
    _TIMING_LOCK = timing_lock
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if cores and jobs <= len(cores):
        os.sched_setaffinity(0, {cores[slot % len(cores)]})


def _timing_turn() -> Any:
    """The context in which this process may time: the workers' shared lock, or nothing when serial."""
    return _TIMING_LOCK if _TIMING_LOCK is not None else nullcontext()


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


def verify_files(
    paths: Sequence[str],
    options: Options = Options(),
    manifest: Manifest | None = None,
    *,
    jobs: int = 1,
    progress: Callable[[int, int, FileResult], None] | None = None,
    tool: dict[str, Any] | None = None,
    machine: dict[str, Any] | None = None,
) -> RunResult:
    """Every file through :func:`verify_file` (``jobs`` processes), results in the order of ``paths``."""
    results: dict[int, FileResult] = {}
    if jobs > 1 and len(paths) > 1:
        # spawn, not fork: a forked child inherits torch's thread pools mid-state and can deadlock in them.
        context = get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=context,
            initializer=_start_worker,
            initargs=(context.Lock(), context.Value("i", 0), jobs),
        ) as pool:
            futures = {pool.submit(verify_file, p, options, manifest): i for i, p in enumerate(paths)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress:
                    progress(len(results), len(paths), results[futures[future]])
    else:
        for i, path in enumerate(paths):
            results[i] = verify_file(path, options, manifest)
            if progress:
                progress(len(results), len(paths), results[i])
    files = tuple(results[i] for i in range(len(paths)))
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
        "manifest": None if manifest is None else os.fspath(manifest.path),
        "jobs": jobs,
        "baseline": None,
    }
    return RunResult(files, suite, tool or {}, machine or {}, settings)
