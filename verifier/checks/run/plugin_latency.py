"""The plugin's own latency figures (``verify --plugin-latency FILE``), written by the C++ golden checker's
``rtv::write_latency_json`` (``rtneural_verifier/latency.hpp``) in the plugin's tests: the model as the plugin
builds it (its ``ModelT``, its flags), which is what the budget is really about.

The file comes from another job's artifact: it is read by the guarded reader (regular file, bounded size and
depth), checked against ``schemas/plugin-latency.schema.json`` and then for sense (p50 <= p99 <= max), and
every refusal is an :class:`~verifier.format.reader.guarded.InputError` naming the file, the JSON pointer
and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from verifier.checks.budgets import HONEST_PATTERNS, PluginLatency
from verifier.errors import VerifierError
from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError, read_json

SCHEMA = "plugin-latency"
PATTERNS = ("frame", "stream", "silence", "silence_ftz")


def read_plugin_latency(path: str | os.PathLike[str]) -> PluginLatency:
    """The figures of one plugin-latency file; ``InputError`` for anything else."""
    from verifier.format.schema.validator import error_message, predicate, validator

    name = os.fspath(path)
    data = read_json(name, MAX_SETTINGS_BYTES)
    conforms = predicate(SCHEMA)
    if conforms is None or not conforms(data):
        from jsonschema.exceptions import best_match

        error = best_match(validator(SCHEMA).iter_errors(data))
        patterns = data.get("patterns") if isinstance(data, dict) else None
        under_patterns = error is not None and list(error.absolute_path)[:1] == ["patterns"]
        if (
            under_patterns
            and isinstance(patterns, dict)
            and all(patterns.get(p) is None for p in HONEST_PATTERNS)
        ):
            raise InputError(
                name, "/patterns", "no pattern without flush-to-zero (frame, stream, silence) was measured"
            )
        if error is not None:
            pointer = "".join(f"/{part}" for part in error.absolute_path)
            raise InputError(
                name, pointer, f"not a plugin-latency file ({SCHEMA}.schema.json): {error_message(error)}"
            )
    figures: dict[str, dict[str, float]] = {}
    for pattern in PATTERNS:
        figure = data["patterns"][pattern]
        if figure is None:
            continue
        if not figure["p50_ns"] <= figure["p99_ns"] <= figure["max_ns"]:
            raise InputError(
                name,
                f"/patterns/{pattern}",
                f"p50 {figure['p50_ns']:g} ns, p99 {figure['p99_ns']:g} ns, max {figure['max_ns']:g} ns: "
                "percentiles must be in order (p50 <= p99 <= max)",
            )
        figures[pattern] = {key: float(value) for key, value in figure.items()}
    return PluginLatency(name, data["model"], data["build"], data["dtype"], figures)


def model_names(path: str, entry_name: str | None) -> set[str]:
    """The names a plugin-latency file may give a model file by: its manifest name, its file name with or
    without ``.json``."""
    base = os.path.basename(path)
    return {n for n in (entry_name, base, os.path.splitext(base)[0]) if n}


def match_plugin_latency(
    figures: Sequence[PluginLatency], files: Iterable[tuple[str, str | None]]
) -> dict[str, PluginLatency]:
    """Each checked file (path, manifest name) with the plugin figures naming it. ``InputError`` when two
    files name the same model, or one names no file of the run: its figures would silently go unjudged."""
    by_model: dict[str, PluginLatency] = {}
    for given in figures:
        if given.model in by_model:
            raise InputError(
                given.path,
                "/model",
                f"model {given.model!r} is also named by {by_model[given.model].path}; one file per model",
            )
        by_model[given.model] = given
    matched: dict[str, PluginLatency] = {}
    used: set[str] = set()
    for path, entry_name in files:
        for name in sorted(model_names(path, entry_name)):
            if name in by_model:
                matched[path] = by_model[name]
                used.add(name)
                break
    for name, given in by_model.items():
        if name not in used:
            raise InputError(
                given.path,
                "/model",
                f"model {name!r} is none of the files this run checks (by manifest name or file name)",
            )
    return matched


class PluginLatencyError(VerifierError, ValueError):
    """A plugin-latency file that cannot be judged, its message led by whoever named it (the option, a
    ``[tool.verifier]`` key, a manifest pointer): a usage error for the command line and the pytest plugin."""


def files_named(paths: Sequence[str], place: str | None, files: Iterable[str], manifest: Any) -> list:
    """Each plugin-latency file of a run with the place that named it (``(path, place)``): ``paths`` from the
    command line or the ``[tool.verifier]`` table (``place``) replace the manifest's entries of the checked
    ``files`` (config.PRECEDENCE). Every caller (command line, pytest plugin, ``verifier.verify``) goes
    through here, so a manifest's ``plugin_latency`` is never judged by one and ignored by another."""
    if paths:
        return [(path, f"{place}:" if place else "--plugin-latency") for path in paths]
    if manifest is None:
        return []
    checked = [entry for f in files if (entry := manifest.entry_for(f)) is not None]
    return [
        (str(entry.plugin_latency), f"manifest {manifest.path}: /models/{i}/plugin_latency:")
        for i, entry in enumerate(manifest.models)
        if entry.plugin_latency is not None and entry in checked
    ]


def read_named(
    named: Sequence[tuple[str, str]], files: Iterable[str], manifest: Any
) -> tuple[PluginLatency, ...]:
    """The figures of ``files_named``'s files, each matched to one checked file; ``PluginLatencyError`` led by
    the place that named the bad file."""
    places = dict(named)
    files = list(files)
    try:
        given = [read_plugin_latency(path) for path, _ in named]
        names = [(f, entry.name if (entry := manifest and manifest.entry_for(f)) else None) for f in files]
        match_plugin_latency(given, names)
    except InputError as exc:
        raise PluginLatencyError(f"{places.get(exc.source, '--plugin-latency')} {exc}") from None
    return tuple(given)
