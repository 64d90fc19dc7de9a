"""A file's ``verify`` result served again when nothing that could change it has changed.

The pre-commit hook checks every model on every commit; most commits change none of them. A result is
stored under a key digesting everything its verdict depends on (:meth:`ResultCache.key`): the export's
bytes, the reference (a checkpoint's bytes; a factory's package, every Python file of the project, or the
installed distribution it comes from; and, as user code may import anything, every installed
distribution), the manifest's entry and its run-wide settings, every option, and the versions of the tool
(its sources), the engine build, torch, numpy and Python. Whatever cannot be keyed
soundly (a factory from an editable install, an export that is not a regular file, a project too big to
hash) is not cached: a stale pass is the one thing worse than a slow run.

The folder (``.verifier_cache/`` at the project root, :func:`verifier.checks.run.project.project_root`) is
hostile ground like every file the verifier reads: an entry is a regular file of bounded size, its JSON is
validated against the report schema's ``file``, it carries its key and a digest of its contents; anything
else (truncated, symbolic link, edited, someone else's key) is a miss, never an error. Entries are written
whole or not at all (a temporary file renamed into place). Served results say so (``cached`` in the
report, with the time of the run that measured their latency and memory figures).

Keying needs no torch: the versions come from the installed distributions' metadata, and a factory's module
is found on the import path without being imported, so a run whose files are all served never imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import stat
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from importlib.machinery import PathFinder
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.checks.results import FAIL, INTERNAL_ERROR, PASS, FileResult

if TYPE_CHECKING:  # the CLI imports this module for its folder's name: it stays as light as the CLI's help
    from verifier.checks.run.manifest import Manifest
    from verifier.checks.run.options import Options

__all__ = ["CACHE_FOLDER", "ResultCache"]

CACHE_FOLDER = ".verifier_cache"
# Raised whenever the key's parts or the entry's layout change: an older entry is then simply not found.
ENTRY_VERSION = 1
# A file's result is tens of kilobytes (its error series included); anything far bigger is not ours.
MAX_ENTRY_BYTES = 8 << 20
# Hashing a project bigger than this would cost more than the run it saves: such a project is not cached.
MAX_SOURCE_FILES = 20_000
MAX_SOURCE_BYTES = 256 << 20
# Folders no import of the project's own code reads from: tools' folders, virtual environments, caches.
_NOT_PROJECT_SOURCE = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})
# Environment variables that change what is computed: the engine's kernels (native/kernels.cpp), and the
# thread counts that change the order torch and BLAS sum in (a verdict near its tolerance may move).
_ENGINE_VARIABLES = ("RTV_DISPATCH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_GITIGNORE = "# Created by rtneural-verifier: a cache, never committed.\n*\n"
# https://bford.info/cachedir/: backup tools skip a folder holding this tag.
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by rtneural-verifier.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_FILE_SCHEMA = {"$ref": "https://rtneural-verifier.dev/schemas/report.schema.json#/$defs/file"}


class _Unkeyable(Exception):
    """Something a verdict depends on cannot be keyed soundly: the file is checked, not served."""


class _TooBig(_Unkeyable):
    """The sources to hash are beyond the bounds (:data:`MAX_SOURCE_FILES`, :data:`MAX_SOURCE_BYTES`)."""


# --------------------------------------------------------------------------------------------- digests


def _digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (keys sorted, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True, default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    # Any other type has no canonical text we could trust to change when its value does.
    raise _Unkeyable(f"cannot key a {type(value).__name__}")


def _file_digest(path: str | os.PathLike[str], budget: list[int] | None = None) -> str:
    """SHA-256 of a regular file's bytes; ``budget`` (bytes left) is spent by its size."""
    try:
        # O_NONBLOCK: a FIFO named as a file must not hang the run before fstat says what it is.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _Unkeyable(f"{path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise _Unkeyable(f"{path}: not a regular file")
        if budget is not None:
            budget[0] -= info.st_size
            if budget[0] < 0:
                raise _TooBig(f"more than {MAX_SOURCE_BYTES} bytes of sources to hash")
        digest = hashlib.sha256()
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
        return digest.hexdigest()


def _skipped_folder(folder: Path, name: str) -> bool:
    return name.startswith(".") or name in _NOT_PROJECT_SOURCE or (folder / name / "pyvenv.cfg").exists()


def _tree_digest(top: Path, keep: Callable[[str], bool]) -> str:
    """SHA-256 over the relative path and bytes of every file ``keep`` accepts under ``top``."""
    chosen: list[Path] = []
    # Links to folders are followed, as import follows them; a link loop ends at the bounds.
    for folders_seen, (folder, folders, names) in enumerate(os.walk(top, followlinks=True)):
        here = Path(folder)
        folders[:] = sorted(name for name in folders if not _skipped_folder(here, name))
        chosen += [here / name for name in sorted(names) if keep(name)]
        if len(chosen) > MAX_SOURCE_FILES or folders_seen > MAX_SOURCE_FILES:
            raise _TooBig(f"{top}: more than {MAX_SOURCE_FILES} files or folders to hash")
    budget = [MAX_SOURCE_BYTES]
    digest = hashlib.sha256()
    for path in chosen:
        try:
            content = _file_digest(path, budget)
        except _TooBig:
            raise
        except _Unkeyable:
            content = "unreadable"  # what import would see too; the digest changes once it is readable
        digest.update(f"{path.relative_to(top).as_posix()}\0{content}\n".encode())
    return digest.hexdigest()


def _python_source(name: str) -> bool:
    return name.endswith(".py")


def _any_file(name: str) -> bool:
    return not name.endswith((".pyc", ".pyo"))


# --------------------------------------------------------------------------------------------- key parts


def _version(distribution: str) -> str | None:
    from importlib import metadata  # imported on use: it costs a verify --help as much as the rest

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _module_file(name: str) -> Path | None:
    """The file a top-level module would be imported from (found, not imported)."""
    try:
        spec = find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _tool_sources() -> str:
    """The verifier's own files (its code, rule book and schemas): a development tree changes them without
    changing the version."""
    import verifier
    from verifier.format.schema.validator import schema_dirs

    package = Path(verifier.__file__).parent
    parts = [_tree_digest(package, _any_file)]
    parts += [_tree_digest(folder, lambda name: name.endswith(".json")) for folder in schema_dirs()]
    return _digest(parts)


def _environment(backend: str) -> dict[str, Any]:
    """What every file's verdict depends on besides the file: the tool, the engine build, torch, numpy,
    Python and the machine (latency and memory are figures of this machine)."""
    import verifier

    engines = ["_verifier_engine"] + (["_verifier_rtneural"] if backend != "engine" else [])
    builds = {}
    for name in engines:
        where = _module_file(name)
        if where is None:
            raise _Unkeyable(f"{name} is not installed")
        builds[name] = _file_digest(where)
    return {
        "tool": verifier.__version__,
        "tool_sources": _tool_sources(),
        "builds": builds,
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "python": [sys.version, sys.implementation.name, sys.platform],
        "machine": [platform.node(), platform.machine(), platform.processor(), os.cpu_count()],
        "variables": {name: os.environ.get(name) for name in _ENGINE_VARIABLES},
    }


def _distribution(top: str, places: set[Path]) -> dict[str, Any]:
    """The installed distribution(s) holding the top-level module ``top`` found at ``places``: their versions
    and the digest of their RECORD (which lists every installed file's hash: a reinstall under the same
    version changes it). A place no such distribution installed (a copy earlier on the import path than
    the installed one) cannot be keyed by it."""
    from importlib import metadata

    try:
        names = metadata.packages_distributions().get(top) or []
    except (OSError, ValueError) as exc:
        raise _Unkeyable(f"{top}: its distribution cannot be read: {exc}") from None
    if not names:
        raise _Unkeyable(f"{top}: neither in the project nor in an installed distribution")
    found = {}
    installed: list[tuple[Any, Any]] = []
    for name in sorted(set(names)):
        try:
            dist = metadata.distribution(name)
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
            record = dist.read_text("RECORD")
        except (metadata.PackageNotFoundError, OSError, ValueError) as exc:
            raise _Unkeyable(f"{top}: distribution {name} cannot be read: {exc}") from None
        if isinstance(direct, dict) and (direct.get("dir_info") or {}).get("editable"):
            # An editable install's code changes without its version or RECORD changing.
            raise _Unkeyable(f"{top}: an editable install of {name}")
        found[name] = [dist.version, None if record is None else hashlib.sha256(record.encode()).hexdigest()]
        installed += [
            (dist, file) for file in dist.files or () if file.parts and _names_top(file.parts[0], top)
        ]
    for place in places:
        where = place.resolve()
        if not any(_installed_at(dist, file, where) for dist, file in installed):
            raise _Unkeyable(f"{top}: {place} is not where a distribution installed it")
    return found


def _names_top(first: str, top: str) -> bool:
    """Whether a distribution's file whose path starts with ``first`` is (in) the top-level module ``top``."""
    return first == top or first.split(".")[0] == top


def _installed_at(dist: Any, file: Any, where: Path) -> bool:
    located = Path(dist.locate_file(file)).resolve()
    return located == where or located.is_relative_to(where)


def _installed() -> str:
    """Every distribution installed on the import path (its metadata folder: name, version, and when it
    was installed) and every ``.pth`` file: user code (a factory, a pickled module's classes) may import
    any of them, and which it does is known only by running it. Read from the folders' listings, not from
    the metadata files (parsing those costs more than the rest of a served run)."""
    found = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                for item in listing:
                    if item.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                        found.append([entry, item.name, item.stat().st_mtime_ns])
        except OSError:  # a zip file or a missing folder on the path: nothing installed in it
            continue
    return _digest(sorted(found))


def _locations(top: str, root: Path) -> set[Path]:
    """Where ``top`` would be imported from: with the import path as it is, and with the project root first
    (as the reference's runner imports factories); the key holds both when they differ."""
    places: set[Path] = set()
    for search in (sys.path, [os.fspath(root), *sys.path]):
        try:
            spec = PathFinder.find_spec(top, search)
        except (ImportError, ValueError, OSError):
            spec = None
        if spec is None:
            continue
        if spec.submodule_search_locations:
            places.update(Path(folder) for folder in spec.submodule_search_locations)
        elif spec.origin:
            places.add(Path(spec.origin))
    return places


def _in_project(place: Path, root: Path) -> bool:
    """Whether ``place`` is the project's own code (under the root, outside its tool and venv folders)."""
    top = root.resolve()
    try:
        relative = place.resolve().relative_to(top)
    except ValueError:
        return False
    folder = top
    for part in relative.parts[:-1]:
        if _skipped_folder(folder, part):
            return False
        folder = folder / part
    return True


# --------------------------------------------------------------------------------------------- the cache


class ResultCache:
    """The results of earlier runs in ``root/.verifier_cache/`` (``root``: the project root)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.folder = self.root / CACHE_FOLDER
        self._environments: dict[str, dict[str, Any]] = {}
        self._memo: dict[tuple[str, ...], Any] = {}

    # ---- keys

    def key(self, path: str, options: Options, manifest: Manifest | None, *, jobs: int = 1) -> str | None:
        """The digest of everything ``path``'s verdict depends on under ``options`` and ``manifest``; None
        when something it depends on cannot be keyed (the file is then always checked)."""
        try:
            return _digest(self._key_parts(path, options, manifest, jobs))
        except Exception:  # _Unkeyable, an unreadable file, odd metadata: the file is checked, never lost
            return None

    def _key_parts(self, path: str, options: Options, manifest: Manifest | None, jobs: int) -> dict[str, Any]:
        from verifier.checks.run.reference import reference_spec

        environment = self._environments.get(options.backend)
        if environment is None:
            environment = self._environments[options.backend] = _environment(options.backend)
        entry = manifest.entry_for(path) if manifest is not None else None
        settings = None
        if manifest is not None:
            settings = {
                field.name: getattr(manifest, field.name)
                for field in dataclasses.fields(manifest)
                if field.name != "models"
            }
            settings["resolved_path"] = manifest.path.resolve()
        return {
            "entry_version": ENTRY_VERSION,
            "path": path,
            "resolved_path": Path(path).resolve(),
            "export": _file_digest(path),
            "reference": self._reference(reference_spec(path, options, manifest)),
            "manifest": settings,
            "manifest_entry": None if entry is None else dataclasses.asdict(entry),
            "options": dataclasses.asdict(options),
            "jobs": jobs,
            "environment": environment,
        }

    def _once(self, name: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, once per run for ``name``: every model of a manifest names a factory of the same
        package, and the project and the installed distributions are the same for all."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def _reference(self, spec: str | None) -> dict[str, Any] | None:
        from verifier.checks.run.reference import describe_reference

        if spec is None:
            return None
        kind = describe_reference(spec, "")["kind"]
        # User code may import any installed distribution; which ones is known only by running it.
        installed = self._once(("installed",), _installed)
        if kind == "checkpoint":
            # Unpickling a whole module imports its classes: their code is the project's (or installed).
            project = self._once(("project",), self._project_sources)
            return {"kind": kind, "bytes": _file_digest(spec), "project": project, "installed": installed}
        top = spec.partition(":")[0].split(".")[0]
        source = self._once(("module", top), lambda: self._module_source(top))
        return {"kind": kind, "spec": spec, "source": source, "installed": installed}

    def _module_source(self, top: str) -> dict[str, Any]:
        """What the code of the top-level module ``top`` is: the project's files, or a distribution's."""
        places = _locations(top, self.root)
        local = {place for place in places if _in_project(place, self.root)}
        source: dict[str, Any] = {"places": sorted(places)}
        if not places or places - local:
            source["distribution"] = _distribution(top, places - local)
        if local:
            # The factory's package, every file of it (weights shipped beside the code included), and every
            # Python file of the project: the package may import any of them.
            source["package"] = {
                os.fspath(place): _tree_digest(place, _any_file) if place.is_dir() else _file_digest(place)
                for place in local
            }
            source["project"] = self._once(("project",), self._project_sources)
        return source

    def _project_sources(self) -> str:
        return _tree_digest(self.root, _python_source)

    # ---- entries

    def _entry_path(self, path: str) -> Path:
        try:
            where = os.fspath(Path(path).resolve())
        except (OSError, RuntimeError):
            where = os.path.abspath(path)
        # One entry per file (the latest run's): the folder stays as big as the project's set of models.
        name = hashlib.sha256(f"{where}\0{path}".encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return self.folder / "entries" / f"{name}.json"

    def lookup(self, path: str, key: str | None) -> FileResult | None:
        """The stored result of ``path`` under ``key``, marked ``cached``; None for anything else."""
        if key is None:
            return None
        try:
            text = self._read_entry(self._entry_path(path))
            entry = json.loads(text)
            return self._validated(entry, path, key)
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return None

    def _read_entry(self, where: Path) -> bytes:
        for folder in (self.folder, where.parent):
            if not stat.S_ISDIR(os.lstat(folder).st_mode):  # a link to a folder elsewhere is not ours
                raise OSError(f"{folder}: not a folder")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(where, flags)
        with os.fdopen(descriptor, "rb") as stream:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
                raise OSError(f"{where}: not a regular file of at most {MAX_ENTRY_BYTES} bytes")
            data = stream.read(MAX_ENTRY_BYTES + 1)
        if len(data) > MAX_ENTRY_BYTES:
            raise OSError(f"{where}: grew while read")
        return data

    def _validated(self, entry: Any, path: str, key: str) -> FileResult | None:
        from verifier.format.schema.validator import compile_variant

        if not isinstance(entry, dict) or set(entry) != {
            "entry_version",
            "key",
            "measured_at",
            "result",
            "digest",
        }:
            return None
        body = {name: entry[name] for name in ("entry_version", "key", "measured_at", "result")}
        if entry["digest"] != _digest(body) or entry["key"] != key or entry["entry_version"] != ENTRY_VERSION:
            return None
        data, measured_at = entry["result"], entry["measured_at"]
        conforms = compile_variant(_FILE_SCHEMA)
        if conforms is None or not conforms(data) or not isinstance(measured_at, str) or "cached" in data:
            return None
        result = FileResult.from_dict(data)
        status = FAIL if result.failed else PASS
        if result.path != path or data["status"] != status or result.check(INTERNAL_ERROR) is not None:
            return None
        return replace(result, cached={"key": key, "measured_at": measured_at[:64]})

    def store(self, path: str, key: str | None, result: FileResult) -> None:
        """Keep ``result`` for ``path`` under ``key``. An internal error is not kept (the verifier broke:
        the next run tries again); a folder that cannot be written is no error (the next run checks)."""
        if key is None or result.cached is not None or result.check(INTERNAL_ERROR) is not None:
            return
        measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"entry_version": ENTRY_VERSION, "key": key, "measured_at": measured_at}
        # A result that cannot be written as JSON is not kept; nor is one the folder cannot take.
        with contextlib.suppress(OSError, ValueError, TypeError, RecursionError):
            body["result"] = json.loads(json.dumps(result.to_dict(), allow_nan=True, default=_json_number))
            text = json.dumps({**body, "digest": _digest(body)}, allow_nan=True)
            self._write_entry(self._entry_path(path), text.encode("utf-8"))

    def _write_entry(self, where: Path, data: bytes) -> None:
        if len(data) > MAX_ENTRY_BYTES:
            return
        self._make_folder()
        folder = where.parent
        if not folder.exists():
            folder.mkdir()
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return
        import tempfile

        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".entry-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
            os.replace(temporary, where)  # readers see the old entry or the new one, never half of one
        except BaseException:
            os.unlink(temporary)
            raise

    def _make_folder(self) -> None:
        if os.path.lexists(self.folder):
            if not stat.S_ISDIR(os.lstat(self.folder).st_mode):
                raise OSError(f"{self.folder}: not a folder")
            return
        self.folder.mkdir()
        (self.folder / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
        (self.folder / "CACHEDIR.TAG").write_text(_CACHEDIR_TAG, encoding="utf-8")

    # ---- a run

    def serve(
        self, paths: Sequence[str], options: Options, manifest: Manifest | None, *, jobs: int = 1
    ) -> tuple[dict[int, FileResult], dict[int, str | None]]:
        """The results served for ``paths`` (by index) and the keys of the others (to store theirs under)."""
        served: dict[int, FileResult] = {}
        keys: dict[int, str | None] = {}
        for index, path in enumerate(paths):
            keys[index] = self.key(path, options, manifest, jobs=jobs)
            result = self.lookup(path, keys[index])
            if result is not None:
                served[index] = result
        return served, {i: k for i, k in keys.items() if i not in served}

    def keep(
        self,
        results: Mapping[int, FileResult],
        keys: Mapping[int, str | None],
        options: Options,
        manifest: Manifest | None,
        *,
        jobs: int = 1,
    ) -> None:
        """Store each fresh result whose key has not changed while it was checked (a file edited meanwhile
        may have been checked in either version: it is not stored)."""
        self._memo.clear()  # hashed again: a source edited while the files were checked is seen
        for index, result in results.items():
            key = keys.get(index)
            if key is not None and self.key(result.path, options, manifest, jobs=jobs) == key:
                self.store(result.path, key, result)


def _json_number(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
