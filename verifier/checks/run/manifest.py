"""The manifest: what a set of exported models is declared to be, and the budgets they must meet.

A manifest (``schemas/manifest.schema.json``) is found three ways, in order: ``--manifest FILE``;
``[tool.verifier] manifest = "path"`` in ``pyproject.toml``; a ``verifier.json`` in the current directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import VerifierError
from verifier.quoting import MAX_FIELD, shown, shown_pointer

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published for older Pythons (a dependency there, see pyproject.toml)
    import tomli as tomllib

MANIFEST_SCHEMA_ID = "https://rtneural-verifier.dev/schemas/manifest.schema.json"


class ManifestError(VerifierError):
    """A manifest that cannot be used: unreadable, invalid JSON, or not valid against the schema."""

    def __init__(self, source: str, pointer: str, message: str) -> None:
        self.source = source
        # jsonschema's messages quote the offending value whole: bounded like every message of the file's.
        self.pointer = shown_pointer(pointer)
        self.message = shown(message, MAX_FIELD)
        super().__init__(f"{source}: {self.pointer or '/'}: {self.message}")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: Path  # resolved against the manifest's directory
    factory: str | None = None
    in_size: int | None = None
    out_size: int | None = None
    widths: tuple[int, ...] | None = None
    parameters: int | None = None
    json_parameters: int | None = None
    latency_budget_p99_ns: float | None = None
    torch_call: str | None = None
    plugin_call: str = "stream"
    tolerance: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # For a state_dict file loaded with RTNeural's torch_helpers: {"root", "layers"} (the schema's form).
    torch_helpers: Mapping[str, Any] | None = None
    # The plugin's own latency figures for this model (verify --plugin-latency), resolved like ``file``.
    plugin_latency: Path | None = None


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: tuple[ModelEntry, ...]
    dtype: str = "float32"
    tolerance: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    latency_steps: int | None = None
    latency_warmup: int | None = None
    memory_budget_bytes: int | None = None
    memory_budget_text: str = ""
    rss_copies: int | None = None

    def entry_for(self, path: str | os.PathLike) -> ModelEntry | None:
        """The entry whose file is ``path`` (same file on disk, else the same file name)."""
        target = Path(path)
        for entry in self.models:
            try:
                if entry.file.exists() and target.exists() and entry.file.samefile(target):
                    return entry
            except OSError:
                continue
        matches = [e for e in self.models if e.file.name == target.name]
        return matches[0] if len(matches) == 1 else None

    def tolerance_for(self, entry: ModelEntry | None, dtype: str) -> tuple[float, float] | None:
        """The tolerance the manifest declares for ``entry`` in ``dtype`` (its own, else the manifest's);
        None when it declares none (the tolerance model's figure applies)."""
        if entry is not None and dtype in entry.tolerance:
            return entry.tolerance[dtype]
        return self.tolerance.get(dtype)


def _tolerances(data: Mapping[str, Any] | None, source: str, pointer: str) -> dict[str, tuple[float, float]]:
    from verifier.checks.limits import is_tolerance

    found: dict[str, tuple[float, float]] = {}
    for dtype, given in (data or {}).items():
        for key in ("atol", "rtol"):
            # A dict given by a caller may hold inf (a file cannot: its reader refuses 1e400); an infinite
            # atol passes any output, so it is refused as --atol refuses it.
            if not is_tolerance(given.get(key, 0.0)):
                raise ManifestError(source, f"{pointer}/{dtype}/{key}", "must be a finite number >= 0")
        found[dtype] = (float(given["atol"]), float(given.get("rtol", 0.0)))
    return found


def _pointer(path: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def parse_manifest(data: Any, path: str | os.PathLike) -> Manifest:
    """Validate ``data`` (the parsed JSON) against the manifest schema and build a ``Manifest``."""
    from verifier.format.schema.validator import predicate

    source = str(path)
    conforms = predicate(MANIFEST_SCHEMA_ID)
    if conforms is None or not conforms(data):
        from jsonschema.exceptions import best_match

        from verifier.format.schema.validator import error_message, validator

        error = best_match(validator(MANIFEST_SCHEMA_ID).iter_errors(data))
        if error is not None:
            raise ManifestError(source, shown_pointer(_pointer(error.absolute_path)), error_message(error))
    base = Path(path).resolve().parent
    latency = data.get("latency", {})
    memory = data.get("memory", {})
    default_budget = latency.get("budget_p99_ns")
    models = tuple(
        ModelEntry(
            name=m["name"],
            file=_model_file(base, m["file"], source, i),
            factory=m.get("factory"),
            in_size=_whole(m.get("in_size")),
            out_size=_whole(m.get("out_size")),
            widths=tuple(map(int, m["widths"])) if "widths" in m else None,
            parameters=_whole(m.get("parameters")),
            json_parameters=_whole(m.get("json_parameters")),
            latency_budget_p99_ns=m.get("latency_budget_p99_ns", default_budget),
            torch_call=m.get("torch_call"),
            plugin_call=m.get("plugin_call", "stream"),
            tolerance=_tolerances(m.get("tolerance"), source, f"/models/{i}/tolerance"),
            torch_helpers=m.get("torch_helpers"),
            plugin_latency=(
                _model_file(base, m["plugin_latency"], source, i, "plugin_latency")
                if "plugin_latency" in m
                else None
            ),
        )
        for i, m in enumerate(data["models"])
    )
    _refuse_files_outside(models, Path(path), source)
    return Manifest(
        path=Path(path),
        models=models,
        dtype=data.get("dtype", "float32"),
        tolerance=_tolerances(data.get("tolerance"), source, "/tolerance"),
        latency_steps=_whole(latency.get("steps")),
        latency_warmup=_whole(latency.get("warmup")),
        memory_budget_bytes=_whole(memory.get("budget_bytes")),
        memory_budget_text=memory.get("budget_text", ""),
        rss_copies=_whole(memory.get("rss_copies")),
    )


def _refuse_files_outside(models: Sequence[ModelEntry], path: Path, source: str) -> None:
    """A model file outside the project holding the manifest (``../..``, an absolute path, a link leading
    out) is refused: the manifest decides which files the gate checks, and it is the project's to change."""
    from verifier.checks.run.project import escapes, project_root

    root = project_root(path.absolute().parent)
    for i, entry in enumerate(models):
        for key, named in (("file", entry.file), ("plugin_latency", entry.plugin_latency)):
            if named is not None and escapes(named, root):
                raise ManifestError(
                    source,
                    f"/models/{i}/{key}",
                    f"{named} is outside the project root {root} (the folder holding pyproject.toml, else "
                    "the git root, above the manifest): a manifest names files of its own project only",
                )


def _whole(value: int | float | None) -> int | None:
    # JSON Schema's "integer" admits 3.0; the counts are used as ints (a step count, a range, a C++ size).
    return None if value is None else int(value)


def _model_file(base: Path, name: str, source: str, index: int, key: str = "file") -> Path:
    try:
        return (base / name).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL in the name, a symlink loop
        raise ManifestError(source, f"/models/{index}/{key}", f"not a usable path: {exc}") from None


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate a manifest file; every problem is a ``ManifestError`` naming the file and place."""
    from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError, read_json

    try:
        data = read_json(path, MAX_SETTINGS_BYTES)
    except InputError as exc:
        raise ManifestError(exc.source, exc.pointer, exc.message) from None
    return parse_manifest(data, path)


def discover_manifest(directory: str | os.PathLike = ".") -> Path | None:
    """The manifest named in the ``[tool.verifier]`` of ``directory``'s pyproject, else ``verifier.json``
    there (the order ``verify`` follows, verifier.cli.config)."""
    from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError, read_text

    here = Path(directory)
    pyproject = here / "pyproject.toml"
    if os.path.lexists(pyproject):  # a FIFO or a directory of that name is refused by the reader, not skipped
        try:
            config = tomllib.loads(read_text(pyproject, MAX_SETTINGS_BYTES))
        except InputError as exc:
            raise ManifestError(
                exc.source, exc.pointer, f"cannot read [tool.verifier]: {exc.message}"
            ) from None
        except (ValueError, RecursionError) as exc:  # TOMLDecodeError, an integer of 5,000 digits, nesting
            message = f"not valid TOML: {type(exc).__name__}: {exc}"
            raise ManifestError(str(pyproject), "", f"cannot read [tool.verifier]: {message}") from None
        tool = config.get("tool")
        table = tool.get("verifier") if isinstance(tool, dict) else None
        named = table.get("manifest") if isinstance(table, dict) else None
        if named is not None:
            if not isinstance(named, str) or not named or "\0" in named:
                raise ManifestError(str(pyproject), "/tool/verifier/manifest", "must be a path string")
            return here / named
    candidate = here / "verifier.json"
    # a FIFO or a directory of that name is refused by the manifest reader, not skipped
    return candidate if os.path.lexists(candidate) else None
