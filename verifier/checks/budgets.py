"""Budget checks: parameter counts, layer widths, latency and memory, each returning a ``Check``.

The measuring functions (``measure_latency``, ``measure_rss_per_copy``) return plain numbers; the ``check_*``
functions only judge numbers they are given, so every verdict (and every "by how much") is testable with
injected figures, without timing anything.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check
from verifier.format.findings import Limits

# ---------------------------------------------------------------------------------------------- parameters


def torch_parameter_count(module: Any) -> int:
    """Every number PyTorch trains: ``sum(p.numel())`` (an LSTM counts both of its biases)."""
    return int(sum(p.numel() for p in module.parameters()))


def folded_lstm_biases(layers: Sequence[Any]) -> int:
    """Numbers PyTorch has but keras-json does not: an LSTM's two biases are summed into one ``4H`` vector.

    ``layers`` are the engine's ``LayerInfo`` entries. GRU keeps both bias rows in the JSON: only LSTM folds.
    """
    return sum(4 * layer.out_size for layer in layers if layer.type == "lstm")


def _signed(n: int) -> str:
    return f"{n:+,}"


def _percent(delta: float, base: float) -> str:
    return f"{100.0 * delta / base:+.1f}%" if base else "n/a"


def check_parameters(
    *,
    json_count: int,
    folded: int,
    declared: int | None = None,
    declared_json: int | None = None,
    torch_count: int | None = None,
) -> Check:
    """Declared (manifest) vs the torch module vs the weights the JSON carries.

    The JSON carries ``folded`` fewer numbers than PyTorch (summed LSTM biases), so the three are compared as
    PyTorch counts: ``json_count + folded`` must equal the torch module's count and the declared one.
    """
    json_as_torch = json_count + folded
    figures: dict[str, Any] = {
        "json": json_count,
        "folded_lstm_bias": folded,
        "json_as_torch": json_as_torch,
        "torch": torch_count,
        "declared": declared,
        "declared_json": declared_json,
    }
    problems = []
    truth = torch_count if torch_count is not None else json_as_torch
    if torch_count is not None and torch_count != json_as_torch:
        problems.append(
            f"the JSON carries {json_count:,} (+{folded:,} folded LSTM bias = {json_as_torch:,}) "
            f"but the torch module has {torch_count:,} ({_signed(json_as_torch - torch_count)})"
        )
    if declared is not None and declared != truth:
        figures["declared_error"] = declared - truth
        problems.append(
            f"declared {declared:,} but the model has {truth:,} "
            f"(declared is off by {_signed(declared - truth)}, {_percent(declared - truth, truth)})"
        )
    if declared_json is not None and declared_json != json_count:
        problems.append(
            f"declared {declared_json:,} numbers in the JSON but it carries {json_count:,} "
            f"({_signed(declared_json - json_count)})"
        )
    if problems:
        return Check("parameters", FAIL, "; ".join(problems), figures)
    held = f"{truth:,} parameters"
    if folded:
        held += f" ({json_count:,} in the JSON: {folded:,} LSTM bias numbers are summed pairwise on export)"
    if declared is None and torch_count is None:
        return Check("parameters", PASS, f"{held}; nothing declared to compare with", figures)
    return Check("parameters", PASS, f"{held}, as declared", figures)


# -------------------------------------------------------------------------------------------------- widths


def torch_widths(module: Any) -> list[int]:
    """Output widths of the torch module's weighted layers in forward order (``export_order`` if any)."""
    from torch import nn

    order = getattr(module, "export_order", None)
    layers = [module.get_submodule(name) for name in order] if order else list(module.modules())
    widths = []
    for layer in layers:
        if isinstance(layer, nn.Linear):
            widths.append(layer.out_features)
        elif isinstance(layer, (nn.LSTM, nn.GRU)):
            widths.extend([layer.hidden_size] * layer.num_layers)
        elif isinstance(layer, nn.Conv1d):
            widths.append(layer.out_channels)
    return widths


def json_widths(layers: Sequence[Any]) -> list[int]:
    """Output widths of the engine's weighted layers (activation entries change no width)."""
    return [layer.out_size for layer in layers if layer.type != "activation"]


def check_widths(
    *,
    in_size: int,
    out_size: int,
    widths: Sequence[int],
    declared_in: int | None = None,
    declared_out: int | None = None,
    declared_widths: Sequence[int] | None = None,
    torch: Sequence[int] | None = None,
) -> Check:
    figures = {
        "in_size": in_size,
        "out_size": out_size,
        "widths": list(widths),
        "declared_in": declared_in,
        "declared_out": declared_out,
        "declared_widths": None if declared_widths is None else list(declared_widths),
        "torch_widths": None if torch is None else list(torch),
    }
    problems = []
    if declared_in is not None and declared_in != in_size:
        problems.append(f"input width {in_size}, declared {declared_in}")
    if declared_out is not None and declared_out != out_size:
        problems.append(f"output width {out_size}, declared {declared_out}")
    if declared_widths is not None and list(declared_widths) != list(widths):
        problems.append(f"layer widths {list(widths)}, declared {list(declared_widths)}")
    if torch is not None and list(torch) != list(widths):
        problems.append(f"layer widths {list(widths)}, the torch module has {list(torch)}")
    text = f"{in_size} -> {' -> '.join(str(w) for w in widths)}"
    if problems:
        return Check("widths", FAIL, f"{text}: " + "; ".join(problems), figures)
    return Check("widths", PASS, text, figures)


# ------------------------------------------------------------------------------------------------- latency


@dataclass(frozen=True)
class LatencyStats:
    """Per-step latency measured inside the engine, in nanoseconds.

    ``spread_ns`` is ``p99 - p50``: how far the slow tail sits above a typical step (the jitter a real-time
    callback has to absorb). ``signal_steps`` is set for the silence pattern (random input for that many
    untimed steps, then the timed steps on exact zeros); ``flush_to_zero`` says whether FTZ+DAZ were set.
    """

    reset_each: bool
    steps: int
    warmup: int
    p50_ns: float
    p99_ns: float
    mean_ns: float
    min_ns: float
    max_ns: float
    spread_ns: float
    signal_steps: int | None = None
    flush_to_zero: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def latency_stats(
    samples_ns: Sequence[int] | np.ndarray,
    *,
    reset_each: bool,
    warmup: int,
    signal_steps: int | None = None,
    flush_to_zero: bool = False,
) -> LatencyStats:
    samples = np.asarray(samples_ns, dtype=np.float64)
    if samples.size == 0:
        raise ValueError("no latency samples")
    p50, p99 = np.percentile(samples, [50, 99])
    return LatencyStats(
        reset_each=reset_each,
        steps=int(samples.size),
        warmup=warmup,
        p50_ns=float(p50),
        p99_ns=float(p99),
        mean_ns=float(samples.mean()),
        min_ns=float(samples.min()),
        max_ns=float(samples.max()),
        spread_ns=float(p99 - p50),
        signal_steps=signal_steps,
        flush_to_zero=flush_to_zero,
    )


def measure_latency(
    model: Any, *, steps: int, warmup: int, seed: int = 0
) -> tuple[LatencyStats, LatencyStats]:
    """(per frame with reset, streaming) latency of ``model`` via ``Model.time_forward``."""
    frame = model.time_forward(steps, warmup, True, seed)
    stream = model.time_forward(steps, warmup, False, seed)
    return (
        latency_stats(frame, reset_each=True, warmup=warmup),
        latency_stats(stream, reset_each=False, warmup=warmup),
    )


@dataclass(frozen=True)
class PatternLatency:
    """One runtime's latency on every call pattern of the check.

    ``silence`` is signal then silence: ``warmup`` untimed steps of random input, then the timed steps on
    exact zeros with the state carried, so that hidden states decaying towards zero (subnormal numbers, slow
    on x86) are what is timed; ``silence_ftz`` the same under flush-to-zero (None where the CPU has none).
    """

    frame: LatencyStats
    stream: LatencyStats
    silence: LatencyStats | None = None
    silence_ftz: LatencyStats | None = None

    def patterns(self) -> dict[str, LatencyStats]:
        found = {"frame": self.frame, "stream": self.stream, "silence": self.silence}
        found["silence_ftz"] = self.silence_ftz
        return {name: stats for name, stats in found.items() if stats is not None}

    def to_dict(self) -> dict[str, Any]:
        return {name: stats.to_dict() for name, stats in self.patterns().items()}


def measure_silence(
    model: Any, *, steps: int, warmup: int, seed: int = 0, flush_to_zero: bool = False
) -> LatencyStats:
    """Latency on silence after ``warmup`` steps of signal (see :class:`PatternLatency`)."""
    samples = model.time_forward(steps, warmup, False, seed, signal_steps=warmup, flush_to_zero=flush_to_zero)
    return latency_stats(
        samples, reset_each=False, warmup=warmup, signal_steps=warmup, flush_to_zero=flush_to_zero
    )


def measure_patterns(
    model: Any,
    *,
    steps: int,
    warmup: int,
    seed: int = 0,
    flush_to_zero_available: bool = True,
    silence: bool = True,
) -> PatternLatency:
    """Every pattern of the latency check on ``model`` (either backend), one after the other; ``silence``
    False times the random-input patterns only (an RTNeural module built before the silence pattern)."""
    frame, stream = measure_latency(model, steps=steps, warmup=warmup, seed=seed)
    if not silence:
        return PatternLatency(frame, stream)
    quiet = measure_silence(model, steps=steps, warmup=warmup, seed=seed)
    ftz = None
    if flush_to_zero_available:
        ftz = measure_silence(model, steps=steps, warmup=warmup, seed=seed, flush_to_zero=True)
    return PatternLatency(frame, stream, quiet, ftz)


@dataclass(frozen=True)
class PluginLatency:
    """The plugin's own build timed by the C++ golden checker (latency.hpp), read from its file."""

    path: str
    model: str
    build: str
    dtype: str
    figures: dict[str, dict[str, float]]  # pattern -> {"p50_ns", "p99_ns", ...}; measured patterns only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _us(ns: float) -> str:
    if ns < 1e3:
        return f"{ns:.0f} ns"
    return f"{ns / 1000:.1f} µs" if ns < 1e6 else f"{ns / 1e6:.2f} ms"


#: The patterns a plugin without flush-to-zero sees; the verdict is on the worst p99 among them. Flush-to-zero
#: is the plugin's choice (JUCE's ScopedNoDenormals), not a property of the model: its figure is shown only.
HONEST_PATTERNS = ("frame", "stream", "silence")
PATTERN_TEXT = {
    "frame": "per frame with reset",
    "stream": "streaming",
    "silence": "on silence after signal",
    "silence_ftz": "on silence with flush-to-zero",
}


def _pair(figure: Mapping[str, Any]) -> str:
    return f"{_us(figure['p50_ns'])}/{_us(figure['p99_ns'])}"


def _patterns_text(figures: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(f"{_pair(figures[p])} {PATTERN_TEXT[p]}" for p in PATTERN_TEXT if p in figures)


def _worst(figures: Mapping[str, Mapping[str, Any]]) -> tuple[str, float]:
    honest = [(p, float(figures[p]["p99_ns"])) for p in HONEST_PATTERNS if p in figures]
    return max(honest, key=lambda pair: pair[1])


def check_latency(
    frame: LatencyStats | None,
    stream: LatencyStats | None,
    budget_p99_ns: float | None,
    *,
    silence: LatencyStats | None = None,
    silence_ftz: LatencyStats | None = None,
    runtime: str = "the engine",
    rtneural: PatternLatency | None = None,
    plugin: PluginLatency | None = None,
) -> Check:
    """Every call pattern's p99 against the per-inference budget (the plugin may use any of them).

    ``runtime`` names what was measured (the engine, or RTNeural under ``--backend rtneural``).
    ``rtneural`` (RTNeural's dynamic model beside the engine) is shown, never judged. ``plugin`` (the
    plugin's own build, timed by the C++ golden checker) is judged instead of ``runtime`` when given: it is
    what the plugin ships. The verdict is on the worst p99 over the patterns without flush-to-zero
    (:data:`HONEST_PATTERNS`), and the summary says which figure it was. ``frame`` and ``stream`` are None
    when nothing was timed here (``--no-timing``): the plugin's figures are then judged alone.
    """
    found = {"frame": frame, "stream": stream, "silence": silence, "silence_ftz": silence_ftz}
    measured = {name: stats.to_dict() for name, stats in found.items() if stats is not None}
    if not measured and plugin is None:
        raise ValueError("check_latency needs the runtime's figures or the plugin's")
    figures: dict[str, Any] = {"budget_p99_ns": budget_p99_ns, **measured}
    text = f"p50/p99 {_patterns_text(measured)}" if measured else f"{runtime} not timed (--no-timing)"
    if rtneural is not None:
        figures["rtneural"] = rtneural.to_dict()
        text += f"; RTNeural's dynamic model (shown, not judged): {_patterns_text(figures['rtneural'])}"
    judged, source = measured, runtime
    if plugin is not None:
        figures["plugin"] = plugin.to_dict()
        text += f"; the plugin's build ({plugin.build or 'unnamed'}): {_patterns_text(plugin.figures)}"
        if any(p in plugin.figures for p in HONEST_PATTERNS):
            judged, source = plugin.figures, "the plugin's build"
    pattern, worst = _worst(judged)
    figures["verdict_on"] = {"source": source, "pattern": pattern, "p99_ns": worst}
    if budget_p99_ns is None:
        return Check("latency", PASS, f"{text}; no budget declared", figures)
    figures["headroom_ns"] = budget_p99_ns - worst
    judged_text = f"{source}'s p99 {PATTERN_TEXT[pattern]}, {_us(worst)} (the worst without flush-to-zero)"
    if worst > budget_p99_ns:
        over = worst - budget_p99_ns
        return Check(
            "latency",
            FAIL,
            f"{text}: {judged_text} exceeds the {_us(budget_p99_ns)} budget by {_us(over)} "
            f"({_percent(over, budget_p99_ns)})",
            figures,
        )
    return Check(
        "latency",
        PASS,
        f"{text}; {judged_text} is within the {_us(budget_p99_ns)} budget "
        f"({100 * worst / budget_p99_ns:.2g}% of it)",
        figures,
    )


# -------------------------------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class RssMeasurement:
    """Process RSS growth over ``copies`` loaded copies of one model (all alive at the second reading)."""

    copies: int
    rss_before: int
    rss_after: int

    @property
    def per_copy(self) -> float:
        return (self.rss_after - self.rss_before) / self.copies

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_copy": self.per_copy}


def measure_rss_per_copy(load: Callable[[], Any], copies: int = 50) -> RssMeasurement:
    """Load ``copies`` models with ``load()`` in this process and read its RSS before and after (psutil).

    One copy is loaded and dropped first so that one-time costs (code pages, allocator arenas, the parsed
    document) are paid before the first reading. Memory this process freed earlier is reused without
    growing RSS (glibc raises its mmap threshold after large frees), so a long-lived process under-reads:
    use :func:`measure_rss_in_fresh_process`.
    """
    import psutil

    process = psutil.Process()
    load()
    gc.collect()
    before = process.memory_info().rss
    held = [load() for _ in range(copies)]
    gc.collect()
    after = process.memory_info().rss
    del held
    return RssMeasurement(copies, before, after)


def _rss_of_copies(path: str, dtype: str, copies: int, backend: str) -> RssMeasurement:
    from verifier.engine.backends import load_backend
    from verifier.format.reader.document import read

    document = read(Path(path))  # a Path: a file name is never read as JSON text
    return measure_rss_per_copy(lambda: load_backend(document, backend, dtype), copies)


# The RSS cross-check measures growth over enough copies that a page (4 KiB) is a negligible part of it: 4 MiB
# is 1,024 pages, so page rounding moves a per-copy figure by at most 0.1 %. On the production models the
# ratio to the engine's count moved by at most 0.2 % against fifty copies each (MelodyTransformer: 1.0019x
# over 50 copies, 0.9978x over 2; EmotionRecognizer 1.0038x / 1.0041x over 3), in a fifth of the time; the
# small models still get all the copies asked for (50 copies of a 56 KB model grow RSS by 2.8 MB, as before).
RSS_TARGET_BYTES = 4 * 2**20
# A per-copy figure is an average: never fewer than two copies unless fewer were asked for.
RSS_MIN_COPIES = 2


def _child_path() -> str:
    """The folders of the engine module and of psutil (for the probe's fallback where /proc is absent),
    found without importing psutil here."""
    from importlib.util import find_spec

    import _verifier_engine

    # The engine's folder first: another site-packages on the path may hold an older build of it.
    folders = [os.path.dirname(_verifier_engine.__file__)]
    psutil = find_spec("psutil")
    if psutil is not None and psutil.origin:
        folders.append(os.path.dirname(os.path.dirname(psutil.origin)))
    return os.pathsep.join(dict.fromkeys(folders))


def _rss_process(
    paths: Sequence[str], dtype: str, most: int, target_bytes: int | None, limits: Limits
) -> list[RssMeasurement | RuntimeError]:
    import subprocess

    sizes = (limits.max_layer_width, limits.max_total_parameters, limits.max_state_values, limits.max_depth)
    least = min(most, RSS_MIN_COPIES)
    # No site packages (-S): the probe starts in tens of milliseconds and sees only the engine, psutil and
    # this package. It runs in the folder holding this package, so `-m` finds this copy of it (Python < 3.11
    # puts the working folder first on the path); the files are therefore named by absolute paths.
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    command = [sys.executable, "-S", "-m", "verifier.checks.rss_probe", dtype, str(most), str(least)]
    command += [str(target_bytes or 0), *(str(size) for size in sizes), *map(os.path.abspath, paths)]
    environment = {**os.environ, "PYTHONPATH": _child_path(), "PYTHONNOUSERSITE": "1"}
    environment.pop("PYTHONSTARTUP", None)
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=package_root, env=environment
    )
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) != len(paths):
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        failure = RuntimeError(f"the RSS cross-check process failed (exit {done.returncode}): {last}")
        return [failure] * len(paths)
    answers: list[RssMeasurement | RuntimeError] = []
    for path, line in zip(paths, lines, strict=True):
        word, _, rest = line.partition(" ")
        if word == "ok":
            copies, before, after = (int(number) for number in rest.split())
            answers.append(RssMeasurement(copies, before, after))
        else:
            answers.append(RuntimeError(f"the RSS cross-check process failed on {path}: {rest}"))
    return answers


def measure_rss_of_files(
    paths: Sequence[str],
    dtype: str,
    most_copies: int = 50,
    *,
    target_bytes: int | None = RSS_TARGET_BYTES,
    limits: Limits | None = None,
) -> list[RssMeasurement | RuntimeError]:
    """The engine's RSS growth over copies of each model file of ``paths``, all measured in one fresh
    interpreter; per file its :class:`RssMeasurement`, or the ``RuntimeError`` saying why it could not be
    measured (one file's failure never costs the others).

    Each file gets as many copies as it takes for RSS to grow by ``target_bytes`` (at least
    ``RSS_MIN_COPIES``), at most ``most_copies``; ``target_bytes=None`` loads exactly ``most_copies``.
    A fresh process has no freed memory to recycle, so RSS growth is the copies' own footprint (the engine's
    objects only: no Python wrapper around them). Copies are loaded from one C++ document per file.
    """
    limits = limits or Limits()
    answers = _rss_process(paths, dtype, most_copies, target_bytes, limits)
    if len(paths) > 1 and all(isinstance(answer, RuntimeError) for answer in answers):
        # The process died (a crash in native code): one process per file, so only that file's check fails.
        answers = [_rss_process([path], dtype, most_copies, target_bytes, limits)[0] for path in paths]
    return answers


def measure_rss_in_fresh_process(
    path: str,
    dtype: str,
    copies: int = 50,
    backend: str = "engine",
    limits: Limits | None = None,
    *,
    target_bytes: int | None = None,
) -> RssMeasurement:
    """RSS growth over ``copies`` copies of the model file ``path`` loaded into ``backend``, in a fresh
    interpreter (with ``target_bytes``, at most ``copies``: see :func:`measure_rss_of_files`).

    Raises ``RuntimeError`` when the process fails.
    """
    if backend != "engine":  # RTNeural's adapter loads through the verifier: a spawned full interpreter
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(_rss_of_copies, path, dtype, copies, backend).result()
    (answer,) = measure_rss_of_files([path], dtype, copies, target_bytes=target_bytes, limits=limits)
    if isinstance(answer, RuntimeError):
        raise answer
    return answer


# RSS also counts the Python wrapper objects, malloc headers and page granularity, so it is only expected to
# agree with the engine's own count roughly; a factor outside this band means one of the two is wrong.
RSS_AGREEMENT = (0.5, 2.0)
# Below this many bytes per copy a 4 KiB page rounding dominates and a ratio means nothing.
RSS_FLOOR = 16 * 1024


def check_memory(
    bytes_held: int,
    rss: RssMeasurement | None,
    *,
    dtype: str,
    param_count: int,
    holder: str = "the engine",
) -> Check:
    """The runtime's own count of the bytes it holds (``holder`` names it), cross-checked with RSS growth."""
    itemsize = {"float32": 4, "float64": 8}.get(dtype, 0)
    weights = param_count * itemsize
    figures: dict[str, Any] = {
        "bytes_held": bytes_held,
        "dtype": dtype,
        "weight_bytes": weights,
        "rss": None if rss is None else rss.to_dict(),
    }
    text = f"{bytes_held:,} bytes held by {holder} ({weights:,} of them weights at {dtype})"
    if bytes_held < weights:
        return Check("memory", FAIL, f"{text}: fewer than the weights themselves need", figures)
    if rss is None:
        return Check("memory", PASS, text, figures)
    ratio = rss.per_copy / bytes_held if bytes_held else float("inf")
    figures["rss_ratio"] = ratio
    text += f"; RSS grows {rss.per_copy:,.0f} bytes per copy over {rss.copies} copies ({ratio:.2f}x)"
    low, high = RSS_AGREEMENT
    if bytes_held >= RSS_FLOOR and not low <= ratio <= high:
        return Check("memory", WARN, f"{text}: outside the expected {low}x-{high}x band", figures)
    return Check("memory", PASS, text, figures)


def check_memory_total(
    bytes_held: Mapping[str, int],
    budget_bytes: int | None,
    *,
    budget_text: str = "",
    missing: Sequence[str] = (),
    rss_per_copy: Mapping[str, float] | None = None,
) -> Check:
    """The models' engine-held bytes together against the shared memory budget.

    ``rss_per_copy`` (the RSS cross-check of each model, when measured) is reported beside the engine's
    count: the verdict is on the engine's count, the RSS total says whether the process would see the same.
    """
    total = int(sum(bytes_held.values()))
    figures: dict[str, Any] = {
        "total_bytes": total,
        "budget_bytes": budget_bytes,
        "by_model": dict(bytes_held),
        "missing": list(missing),
    }
    rss_text = ""
    if rss_per_copy and set(rss_per_copy) == set(bytes_held):
        figures["rss_total_bytes"] = float(sum(rss_per_copy.values()))
        rss_text = f" (RSS cross-check: {figures['rss_total_bytes']:,.0f} bytes)"
    if missing:
        return Check(
            "memory-total",
            SKIP,
            f"not judged: {len(missing)} of the manifest's models were not checked ({', '.join(missing)})",
            figures,
        )
    if budget_bytes is None:
        return Check(
            "memory-total", PASS, f"{total:,} bytes for {len(bytes_held)} models; no budget declared", figures
        )
    label = f"the {budget_text} budget" if budget_text else "the budget"
    figures["over_bytes"] = total - budget_bytes
    if total > budget_bytes:
        over = total - budget_bytes
        return Check(
            "memory-total",
            FAIL,
            f"{total:,} bytes for {len(bytes_held)} models{rss_text} exceeds {label} "
            f"({budget_bytes:,} bytes) by {over:,} bytes ({_percent(over, budget_bytes)})",
            figures,
        )
    return Check(
        "memory-total",
        PASS,
        f"{total:,} bytes for {len(bytes_held)} models{rss_text}, within {label} ({budget_bytes:,} bytes; "
        f"{budget_bytes - total:,} to spare)",
        figures,
    )
