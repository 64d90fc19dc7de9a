"""The torch module a file's outputs are compared with: resolving ``--against`` / a manifest factory, running
it where it cannot end the run, and describing the reference a report names.

Everything that runs user code -- importing the factory's module, calling it, the module's ``forward()``,
its ``parameters()`` -- happens in a :class:`ReferenceServer`. The CLI, the hooks and the pytest plugin
keep that server in a child process (:class:`IsolatedReferences`, :class:`~verifier.checks.run.isolation.
UserCodeProcess`): the run receives outputs, counts and widths, never the module, and a factory that ends,
crashes or hangs its process is a failing finding naming it. ``verifier.verify(..., module=...)`` runs the
same server in the caller's process (:class:`LocalReferences`), for a module a notebook already holds.

Three kinds of trouble, three answers: a factory that cannot be imported, or is not callable, is a
:class:`ReferenceError` (the run's configuration: ``verify`` exits 2); a factory or ``forward()`` that
raises, or a process that ends or passes its time limit, is a failing finding for the file (exit 1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from verifier.checks.run.isolation import Died, UserCodeProcess
from verifier.checks.run.project import project_root
from verifier.errors import ConfigurationError
from verifier.quoting import exception_text

if TYPE_CHECKING:
    from verifier.checks.results import Check
    from verifier.checks.run.manifest import Manifest
    from verifier.checks.run.options import Options

# The reference of ``verifier.verify(paths, module=...)``: the module the caller handed over, in its process.
IN_PROCESS = "<the module given to verifier.verify()>"

# What the child is doing, as the finding about a process that ended puts it.
IMPORTING = "while importing its module"
BUILDING = "before returning a module"
RUNNING = "while its module's forward() ran"
COUNTING = "while its module's parameters were counted"
DIAGNOSING = "while its module's layers ran for the diagnosis"
REDUCING = "while its module's layers ran for the reduction"


class ReferenceError(ConfigurationError):
    """``--against`` (or a manifest factory) does not name a usable torch module."""


def resolve_against(spec: str, where: str | None = None) -> Callable[[], Any]:
    """A zero-argument callable returning the torch module ``spec`` names (``module:factory`` or a file).

    Imports the factory's module (user code: call it where that may run). ``where`` names the setting in
    the error (default ``--against SPEC``)."""
    where = where or f"--against {spec}"
    if ":" in spec and not Path(spec).exists():
        module_name, _, attr = spec.partition(":")
        try:
            module = import_module(module_name)
        except Exception as exc:  # whatever its import raises, the setting names no importable module
            raise ReferenceError(where, f"cannot import {module_name!r}: {exception_text(exc)}") from None
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise ReferenceError(where, f"{module_name!r} has no callable {attr!r}")
        return factory
    path = Path(spec)
    if not path.is_file():
        raise ReferenceError(where, "neither module:factory nor an existing checkpoint file")

    def load_checkpoint() -> Any:
        import torch

        # A whole pickled module (torch.save(module, path)); unpickling runs code: only files the user names.
        return torch.load(path, map_location="cpu", weights_only=False)

    return load_checkpoint


def reference_name(spec: str) -> str:
    """The reference as a finding names it."""
    if spec == IN_PROCESS:
        return "the module given to verifier.verify()"
    return f"factory {spec}" if ":" in spec and not Path(spec).exists() else f"checkpoint {spec}"


# ------------------------------------------------------------------------------ what crosses the boundary


@dataclass(frozen=True)
class ReferenceRun:
    """What the run needs of the reference module: its outputs on the file's inputs, per frame and as one
    stream (``[T, out]``, float64), every container whose forward() is not its declared chain
    (``verifier.pytorch.run.ChainMismatch``), its parameter count and its weighted layers' widths."""

    frames: np.ndarray
    stream: np.ndarray
    mismatches: tuple[Any, ...]
    parameters: int
    widths: tuple[int, ...]


@dataclass(frozen=True)
class ReferenceFailure:
    """No reference output: ``summary`` says why, naming the factory; ``configuration`` when the setting
    itself is unusable (the factory cannot be imported or called), which is the run's usage error."""

    summary: str
    configuration: bool = False


@dataclass(frozen=True)
class NothingToReduce:
    """``verify reduce`` found nothing to reduce: the file passes, or its failure is the model's own
    sensitivity (``message`` says which)."""

    message: str


class ReferenceServer:
    """Runs the reference module: in the child process of an isolated run, or in the caller's process.

    Every method takes ``stage`` first (told what it is about to do, so that a process that ends is named
    with it) and never raises for user code. The module of the last :meth:`run` is kept for
    :meth:`diagnose`. ``given`` is the module, or a factory of it, that :data:`IN_PROCESS` names.
    """

    def __init__(self, given: Any = None) -> None:
        # torch now: a child imports it while the run validates and loads its files
        import torch  # noqa: F401

        self._given = given
        self._module: Any = None

    def resolve(self, stage: Callable[[str], None], spec: str, where: str) -> ReferenceFailure | None:
        """Whether ``spec`` names an importable callable (the factory is not called)."""
        if spec == IN_PROCESS:
            return None
        stage(IMPORTING)
        try:
            resolve_against(spec, where)
        except ReferenceError as exc:
            return ReferenceFailure(exc.message, configuration=True)
        return None

    def _build(self, stage: Callable[[str], None], spec: str, where: str) -> Any:
        """The module ``spec`` names (its factory called, its checkpoint loaded), or a ReferenceFailure."""
        from torch import nn

        stage(IMPORTING)
        try:
            factory = (lambda: self._given) if spec == IN_PROCESS else resolve_against(spec, where)
        except ReferenceError as exc:
            return ReferenceFailure(exc.message, configuration=True)
        stage(BUILDING)
        try:
            module = factory()
            if spec == IN_PROCESS and not isinstance(module, nn.Module) and callable(module):
                module = module()  # verify(module=factory) as well as verify(module=instance)
        except Exception as exc:
            name = reference_name(spec)
            return ReferenceFailure(f"{name} raised {exception_text(exc)} while building the module")
        if not isinstance(module, nn.Module):
            gave = "holds" if reference_name(spec).startswith("checkpoint") else "returned"
            return ReferenceFailure(
                f"{reference_name(spec)} {gave} a {type(module).__name__}, not a torch module "
                "(a factory returns the module; a checkpoint is torch.save(module))"
            )
        return module

    def run(
        self, stage: Callable[[str], None], spec: str, where: str, xs: np.ndarray
    ) -> ReferenceRun | ReferenceFailure:
        """The module ``spec`` names, built and run on ``xs`` ``[T, in]``."""
        self._module = None
        module = self._build(stage, spec, where)
        if isinstance(module, ReferenceFailure):
            return module
        stage(RUNNING)
        try:
            ran = _run_module(module, xs)
        except Exception as exc:
            return ReferenceFailure(f"{reference_name(spec)}: its module raised {exception_text(exc)}")
        stage(COUNTING)
        try:
            from verifier.checks.budgets import torch_parameter_count, torch_widths

            parameters, widths = torch_parameter_count(module), tuple(torch_widths(module))
        except Exception as exc:
            return ReferenceFailure(
                f"{reference_name(spec)}: its module raised {exception_text(exc)} while its parameters "
                "and widths were read"
            )
        self._module = module
        return ReferenceRun(ran.frames, ran.stream, ran.mismatches, parameters, widths)

    def outputs(
        self, stage: Callable[[str], None], spec: str, where: str, cases: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]] | ReferenceFailure:
        """(frames, stream) of the module ``spec`` names on each of ``cases`` (each ``[T, in]``, from zero
        state), the module built once: the expected outputs of golden data."""
        module = self._build(stage, spec, where)
        if isinstance(module, ReferenceFailure):
            return module
        stage(RUNNING)
        try:
            return [(ran.frames, ran.stream) for ran in (_run_module(module, xs) for xs in cases)]
        except Exception as exc:
            return ReferenceFailure(f"{reference_name(spec)}: its module raised {exception_text(exc)}")

    def reduce(
        self, stage: Callable[[str], None], spec: str, where: str, path: str, settings: dict[str, Any]
    ) -> Any:
        """``verify reduce``: the smallest failing sub-model of ``path`` against the module ``spec`` names
        (a ``Reduction``), :class:`NothingToReduce`, or a ReferenceFailure: a configuration one (the
        command's usage error) for a VerifierError about the file itself or a module that does not take the
        file's inputs."""
        from verifier.checks.diagnose.reduce import ReduceError, reduce
        from verifier.errors import VerifierError

        module = self._build(stage, spec, where)
        if isinstance(module, ReferenceFailure):  # named with its setting: the command's usage error says it
            return ReferenceFailure(f"{where}: {module.summary}", True) if module.configuration else module
        stage(REDUCING)
        try:
            return reduce(path, module, **settings)
        except ReduceError as exc:
            return NothingToReduce(str(exc))
        except VerifierError as exc:
            return ReferenceFailure(str(exc), configuration=True)
        except (
            Exception
        ) as exc:  # the module does not take the file's inputs (another width): the wrong --against
            return ReferenceFailure(f"{where}: cannot run it on {path}'s inputs: {exception_text(exc)}", True)

    def diagnose(
        self,
        stage: Callable[[str], None],
        path: str,
        dtype: str,
        checks: Sequence[Check],
        xs: np.ndarray,
        tolerances: Sequence[tuple[float, float]],
    ) -> list[Check]:
        """``checks`` (the numeric ones of ``path``) with the first diverging layer against the module of the
        last :meth:`run`."""
        from verifier.engine.model import load

        stage(DIAGNOSING)
        return diagnosed(checks, load(Path(path), dtype), Path(path), self._module, xs, tolerances)


def _run_module(module: Any, xs: np.ndarray) -> Any:
    import torch

    from verifier.pytorch.run import run_module

    return run_module(module, xs, torch.float64)


def diagnosed(
    checks: Sequence[Check],
    model: Any,
    source: Any,
    module: Any,
    xs: np.ndarray,
    tolerances: Sequence[tuple[float, float]],
) -> list[Check]:
    """Each numeric check with its first diverging layer, against its own tolerance (a stream's is wider)."""
    from verifier.checks.diagnose.diverge import annotate

    return [
        annotate([check], model, source, module, xs, atol=tol[0], rtol=tol[1])[0]
        for check, tol in zip(checks, tolerances, strict=True)
    ]


def _ignore(_: str) -> None:
    """The stage of a server in this process: nothing to tell."""


# ---------------------------------------------------------------------------------- the two ways to run it


class References(Protocol):
    """Where a run's reference modules run (:class:`IsolatedReferences` or :class:`LocalReferences`)."""

    def start(self) -> None: ...

    def resolve(self, spec: str, where: str) -> ReferenceFailure | None: ...

    def run(self, spec: str, where: str, xs: np.ndarray) -> ReferenceRun | ReferenceFailure: ...

    def outputs(
        self, spec: str, where: str, cases: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]] | ReferenceFailure: ...

    def diagnose(
        self,
        path: str,
        dtype: str,
        checks: Sequence[Check],
        xs: np.ndarray,
        tolerances: Sequence[tuple[float, float]],
    ) -> list[Check]: ...

    def close(self) -> None: ...


class LocalReferences:
    """The server in this process (trusted code: a notebook's own module). Nothing isolates it."""

    def __init__(self, given: Any = None) -> None:
        self.server = ReferenceServer(given)

    def start(self) -> None:
        """Nothing to start: the server is this process."""

    def resolve(self, spec: str, where: str) -> ReferenceFailure | None:
        return self.server.resolve(_ignore, spec, where)

    def run(self, spec: str, where: str, xs: np.ndarray) -> ReferenceRun | ReferenceFailure:
        return self.server.run(_ignore, spec, where, xs)

    def outputs(
        self, spec: str, where: str, cases: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]] | ReferenceFailure:
        return self.server.outputs(_ignore, spec, where, cases)

    def diagnose(
        self,
        path: str,
        dtype: str,
        checks: Sequence[Check],
        xs: np.ndarray,
        tolerances: Sequence[tuple[float, float]],
    ) -> list[Check]:
        return self.server.diagnose(_ignore, path, dtype, checks, xs, tolerances)

    def close(self) -> None:
        """Nothing to end: the module lives in this process."""

    def __enter__(self) -> LocalReferences:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class IsolatedReferences:
    """The server in one child process, started at first use and kept for the run (torch imported once).

    ``root`` goes first on the child's ``sys.path`` (then this process's path), so the project's own
    package is found without PYTHONPATH. ``limit`` is each request's time limit in seconds. A factory whose
    import ended the process is not imported again: its files get the same finding at once.
    """

    def __init__(self, root: Path, limit: float) -> None:
        self.process = UserCodeProcess(
            "verifier.checks.run.reference:ReferenceServer", [os.fspath(root), *sys.path], limit
        )
        self._unimportable: dict[str, ReferenceFailure] = {}

    def start(self) -> None:
        """Starts the child ahead of its first request (it imports torch meanwhile)."""
        self.process.start()

    def resolve(self, spec: str, where: str) -> ReferenceFailure | None:
        answer = self.process.call("resolve", spec, where)
        if isinstance(answer, Died):
            self._unimportable[spec] = ReferenceFailure(f"{reference_name(spec)} {answer.describe()}")
            return self._unimportable[spec]
        return answer

    def run(self, spec: str, where: str, xs: np.ndarray) -> ReferenceRun | ReferenceFailure:
        if spec in self._unimportable:
            return self._unimportable[spec]
        answer = self.process.call("run", spec, where, xs)
        if isinstance(answer, Died):
            return ReferenceFailure(f"{reference_name(spec)} {answer.describe()}")
        return answer

    def outputs(
        self, spec: str, where: str, cases: Sequence[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]] | ReferenceFailure:
        if spec in self._unimportable:
            return self._unimportable[spec]
        answer = self.process.call("outputs", spec, where, list(cases))
        if isinstance(answer, Died):
            return ReferenceFailure(f"{reference_name(spec)} {answer.describe()}")
        return answer

    def reduce(self, spec: str, where: str, path: str, settings: dict[str, Any]) -> Any:
        """:meth:`ReferenceServer.reduce` in the child; a child that ends is a ReferenceFailure."""
        answer = self.process.call("reduce", spec, where, path, settings)
        if isinstance(answer, Died):
            return ReferenceFailure(f"{reference_name(spec)} {answer.describe()}")
        return answer

    def diagnose(
        self,
        path: str,
        dtype: str,
        checks: Sequence[Check],
        xs: np.ndarray,
        tolerances: Sequence[tuple[float, float]],
    ) -> list[Check]:
        from dataclasses import replace

        answer = self.process.call("diagnose", path, dtype, list(checks), xs, list(tolerances))
        if isinstance(answer, Died):  # the verdict stands; only its diagnosis is lost, and says why
            reason = f"the reference module {answer.describe()}"
            return [
                replace(c, figures={**c.figures, "diverging_layer_error": reason}) if c.failed else c
                for c in checks
            ]
        return list(answer)

    def close(self) -> None:
        self.process.close()

    def __enter__(self) -> IsolatedReferences:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def isolated_references(options: Options, manifest: Manifest | None) -> IsolatedReferences:
    """The child process of a run: the project is the manifest's (else the current directory's)."""
    start = manifest.path.absolute().parent if manifest is not None else None
    return IsolatedReferences(project_root(start), options.reference_timeout)


# --------------------------------------------------------------------------------------- naming it


def describe_reference(spec: str | None, origin: str) -> dict[str, Any]:
    """What the numeric checks of a file compare the engine with (the report's ``reference``).

    ``module`` and ``checkpoint`` check the export (the torch model's own forward() against the file);
    ``json-rebuild`` only checks the engine against the JSON's torch rebuild, which an export mistake
    cannot fail, and the report says so.
    """
    if spec is None:
        return {
            "kind": "json-rebuild",
            "summary": "against the JSON's own rebuild: this checks the engine, not the export "
            "(give --against or a manifest factory to check the export)",
        }
    if spec == IN_PROCESS:
        return {
            "kind": "module",
            "factory": None,
            "origin": "verifier.verify()",
            "summary": "against the module given to verifier.verify() (its own forward()), in that process",
        }
    if ":" in spec and not Path(spec).exists():
        return {
            "kind": "module",
            "factory": spec,
            "origin": origin,
            "summary": f"against module {spec} (its own forward()), from {origin}",
        }
    return {
        "kind": "checkpoint",
        "path": spec,
        "origin": origin,
        "summary": f"against checkpoint {spec} (its own forward()), from {origin}",
    }


def reference_spec(path: str, options: Options, manifest: Manifest | None) -> str | None:
    """The torch module a file is compared with (``--against``, else its manifest factory), if any."""
    entry = manifest.entry_for(path) if manifest is not None else None
    return options.against or (entry.factory if entry is not None else None)


def reference_setting(path: str, options: Options, manifest: Manifest | None) -> str:
    """Which setting names a file's reference, as a configuration error says it: ``--against SPEC``, or the
    manifest entry (file, JSON pointer, model name) and its factory."""
    if options.against:
        return f"--against {options.against}"
    entry = manifest.entry_for(path) if manifest is not None else None
    if manifest is None or entry is None:
        return "the reference"
    index = manifest.models.index(entry)
    pointer = f"/models/{index}/factory"
    return f"manifest {manifest.path}: {pointer} (model {entry.name!r}, factory {entry.factory})"


def check_references(
    paths: Sequence[str], options: Options, manifest: Manifest | None, references: References
) -> None:
    """Every reference the run will use is importable and callable, before any file is checked: the first
    that is not raises its :class:`ReferenceError` (the factory is not called here)."""
    seen: set[str] = set()
    for path in paths:
        spec = reference_spec(path, options, manifest)
        if spec is None or spec in seen:
            continue
        seen.add(spec)
        where = reference_setting(path, options, manifest)
        failure = references.resolve(spec, where)
        if failure is not None and failure.configuration:
            raise ReferenceError(where, failure.summary)
