"""pytest plugin: the checks of ``verify`` as test items, so model verification runs where the tests run.

Registered through the ``pytest11`` entry point. It does nothing unless a manifest is named, by
``pytest --verify-manifest path/manifest.json`` or the way ``verify`` finds one in the root directory
(``verifier.json``, or ``[tool.verifier] manifest = "…"`` in ``pyproject.toml``). Then it collects, under
the manifest, one item per model file and check (``manifest.json::EmotionRecognizer::numeric-stream``) plus
the checks over all models (``manifest.json::memory-total``), with the verdicts of the CLI: a failing check
fails its item with the check's summary, a skipped one is skipped, a warning passes and is listed in the
summary. Each model is verified once, when its first item runs. ``--junitxml`` records every item with its
key figures as properties. ``-p no:verifier`` switches the plugin off.

The ``verify_model`` fixture runs every check on any file for custom assertions::

    def test_stream_error_is_tiny(verify_model):
        result = verify_model("exports/model.json", against="mypkg.models:build")
        assert result.check("numeric-stream").figures["max_abs_error"] < 1e-6

Nothing heavy is imported when pytest starts: torch and the engine load when the first model is verified.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from verifier.checks.limits import MAX_RSS_COPIES, MAX_SEED, MAX_STEPS, bounded_count

if TYPE_CHECKING:
    from verifier.checks.results import Check, FileResult
    from verifier.checks.run.manifest import Manifest, ModelEntry

_STATE = pytest.StashKey["_VerifyState"]()


class _VerifyState:
    """The manifest, the options, and the results of the models verified so far (one run per model)."""

    def __init__(self, manifest: Manifest | None, options: dict[str, Any]) -> None:
        self.manifest = manifest
        self.options = options
        self.results: dict[str, FileResult] = {}
        self.total: Check | None = None
        self.warnings: list[tuple[str, Check]] = []

    @property
    def active(self) -> Manifest:
        """The manifest (items exist only when there is one)."""
        if self.manifest is None:
            raise RuntimeError("rtneural-verifier: no manifest")
        return self.manifest

    def result(self, entry: ModelEntry) -> FileResult:
        from verifier.checks.run.options import Options
        from verifier.checks.run.verify import verify_file

        key = os.fspath(entry.file)
        if key not in self.results:
            self.results[key] = verify_file(key, Options(**self.options), self.manifest)
        return self.results[key]


# The bounds of verify's own options (verifier.checks.limits): a count no run can act on is a usage error.
_STEPS = bounded_count(1, MAX_STEPS)
_SEED = bounded_count(0, MAX_SEED)
_RSS_COPIES = bounded_count(0, MAX_RSS_COPIES)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("verify", "rtneural-verifier: exported RTNeural models as test items")
    group.addoption(
        "--verify-manifest",
        metavar="FILE",
        help="collect one item per model file and check of this manifest "
        "(default: verifier.json, or [tool.verifier] manifest in pyproject.toml, in the root directory)",
    )
    group.addoption(
        "--verify-dtype", choices=("float32", "float64"), help="engine type (default: the manifest's)"
    )
    group.addoption("--verify-steps", type=_STEPS, default=256, help="time steps compared (default 256)")
    group.addoption("--verify-seed", type=_SEED, default=0, help="seed of the random inputs (default 0)")
    group.addoption("--verify-no-timing", action="store_true", help="skip the latency measurement")
    group.addoption(
        "--verify-rss-copies",
        type=_RSS_COPIES,
        metavar="N",
        help="copies loaded for the RSS cross-check (default: the manifest's; 0 = off)",
    )


def _manifest_path(config: pytest.Config) -> Path | None:
    from verifier.checks.run.manifest import discover_manifest

    named = config.getoption("verify_manifest")
    if named:
        return Path(named)
    return discover_manifest(config.rootpath)


def pytest_configure(config: pytest.Config) -> None:
    from verifier.checks.run.manifest import ManifestError, load_manifest

    try:
        path = _manifest_path(config)
        manifest = None if path is None else load_manifest(path)
    except ManifestError as exc:
        raise pytest.UsageError(f"rtneural-verifier: manifest {exc}") from None
    # verifier.checks.run.options.Options' fields; built when a model is verified, not when pytest starts.
    options = {
        "dtype": config.getoption("verify_dtype"),
        "steps": config.getoption("verify_steps"),
        "seed": config.getoption("verify_seed"),
        "timing": not config.getoption("verify_no_timing"),
        "rss_copies": config.getoption("verify_rss_copies"),
    }
    config.stash[_STATE] = _VerifyState(manifest, options)
    if manifest is not None:
        config.addinivalue_line("markers", "verify: an rtneural-verifier check of an exported model")


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so they apply to these items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or state.manifest is None:
        return
    manifest_file = ManifestFile.from_parent(session, path=state.manifest.path.resolve())
    for node in manifest_file.collect():
        items.extend(node.collect() if isinstance(node, ModelNode) else [node])


class ManifestFile(pytest.File):
    """The manifest as a collector: one node per model, then the checks over all models."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        from verifier.checks.catalogue import RUN_CHECKS

        state = self.config.stash[_STATE]
        for entry in state.active.models:
            yield ModelNode.from_parent(self, name=entry.name, entry=entry)
        if state.active.memory_budget_bytes:
            for name in RUN_CHECKS:
                yield RunCheckItem.from_parent(self, name=name)


class ModelNode(pytest.Collector):
    def __init__(self, *, entry: ModelEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry

    def collect(self) -> list[pytest.Item]:
        from verifier.checks.catalogue import FILE_CHECKS

        return [CheckItem.from_parent(self, name=name, entry=self.entry) for name in FILE_CHECKS]


class CheckFailed(Exception):
    """A check whose status is ``fail``: the item fails with the check's own words, no traceback."""

    def __init__(self, path: str, check: Check) -> None:
        super().__init__(check.summary)
        self.path = path
        self.check = check


def _judge(item: pytest.Item, path: str, check: Check | None) -> None:
    from verifier.checks.results import FAIL, SKIP, WARN

    if check is None:
        raise CheckFailed(path, _missing(item.name))
    _record(item, check)
    if check.status == SKIP:
        pytest.skip(check.summary)
    if check.status == WARN:
        item.config.stash[_STATE].warnings.append((item.nodeid, check))
    if check.status == FAIL:
        raise CheckFailed(path, check)


def _missing(name: str) -> Check:
    from verifier.checks.results import FAIL, Check

    return Check(name, FAIL, f"the check {name!r} did not run", {})


def _record(item: pytest.Item, check: Check) -> None:
    """The check's status and scalar figures as item properties (``--junitxml`` writes them)."""
    item.user_properties.append(("status", check.status))
    for key, value in check.figures.items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            item.user_properties.append((key, value))


class _VerifyItem(pytest.Item):
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            from verifier.report.locations import check_locations

            failure = excinfo.value
            shown = self.config.rootpath / failure.path
            try:
                path = os.fspath(shown.relative_to(self.config.rootpath))
            except ValueError:
                path = failure.path
            lines = [f"{failure.check.name}: {failure.check.summary}"]
            located = check_locations(path, failure.check)
            return "\n".join(lines + [loc.compiler_form() for loc in located if loc.line is not None])
        return str(super().repr_failure(excinfo))


class CheckItem(_VerifyItem):
    """One check of one model file."""

    def __init__(self, *, entry: ModelEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.add_marker("verify")

    def runtest(self) -> None:
        result = self.config.stash[_STATE].result(self.entry)
        _judge(self, result.path, result.check(self.name))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.entry.file, None, f"{self.entry.name}::{self.name} ({self.entry.file.name})"


class RunCheckItem(_VerifyItem):
    """A check over all the manifest's models (every model is verified first)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("verify")

    def runtest(self) -> None:
        from verifier.checks.run.verify import memory_total

        state = self.config.stash[_STATE]
        manifest = state.active
        files = tuple(state.result(entry) for entry in manifest.models)
        state.total = memory_total(files, manifest)
        _judge(self, os.fspath(manifest.path), state.total)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"all models::{self.name}"


@pytest.fixture
def verify_model(pytestconfig: pytest.Config) -> Callable[..., FileResult]:
    """``verify_model(path, **options)``: every ``verify`` check on ``path``, as a ``FileResult``.

    ``options`` are those of ``verifier.checks.run.options.Options`` (``against``, ``atol``, ``rtol``,
    ``dtype``,
    ``steps``, ``timing``...); the manifest is the session's (``--verify-manifest``) unless ``manifest=``
    names another file or ``manifest=None`` asks for none.
    """
    from verifier.checks.run.manifest import load_manifest
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_file

    state = pytestconfig.stash.get(_STATE, None)
    unset = object()

    def run(path: str | os.PathLike[str], *, manifest: Any = unset, **options: Any) -> FileResult:
        chosen = (state.manifest if state else None) if manifest is unset else manifest
        if isinstance(chosen, (str, os.PathLike)):
            chosen = load_manifest(chosen)
        return verify_file(os.fspath(path), Options(**options), chosen)

    return run


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.results:
        return
    from verifier.report.budgets_table import budget_lines

    terminalreporter.write_sep("-", "rtneural-verifier: budgets")
    for line in budget_lines(list(state.results.values()), state.total):
        terminalreporter.write_line(line)
    for nodeid, check in state.warnings:
        terminalreporter.write_line(f"warning {nodeid}: {check.summary}")
