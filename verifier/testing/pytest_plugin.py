"""pytest plugin: the checks of ``verify`` as test items, so model verification runs where the tests run.

Registered through the ``pytest11`` entry point. It does nothing unless a manifest is named, by
``pytest --verify-manifest path/manifest.json`` or the way ``verify`` finds one in the root directory
(``verifier.json``, or ``[tool.verifier] manifest = "…"`` in ``pyproject.toml``). Then it collects, under
the manifest, one item per model file and check (``manifest.json::EmotionRecognizer::numeric-stream``) plus
the checks over all models (``manifest.json::memory-total``), with the verdicts of the CLI: a failing check
fails its item with the check's summary, a skipped one is skipped, a warning passes and is listed in the
summary. Each model is verified once, when its first item runs, under pytest-xdist too (its workers share the
results through the session's folder, ``verifier.testing.shared_results``), and the terminal summary shows
the budgets table either way. ``--junitxml`` records every item with its key figures as properties; with
pytest-html (``--html``) the items carry the plots of ``verify --format html``. ``-p no:verifier`` switches
the plugin off.

Factories and their modules run in a child process (``verifier.checks.run.reference``): one that ends,
crashes or hangs it fails its model's numeric item naming it, and a factory that cannot be imported fails
every item of its model with that configuration error, in one line.

The ``verify_model`` fixture runs every check on any file for custom assertions::

    def test_stream_error_is_tiny(verify_model):
        result = verify_model("exports/model.json", against="mypkg.models:build")
        assert result.check("numeric-stream").figures["max_abs_error"] < 1e-6

Nothing heavy is imported when pytest starts: torch and the engine load when the first model is verified.
"""

from __future__ import annotations

import base64
import importlib
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from verifier.checks.limits import MAX_RSS_COPIES, MAX_SEED, MAX_STEPS, bounded_count

if TYPE_CHECKING:
    from verifier.checks.results import Check, FileResult
    from verifier.checks.run.manifest import Manifest, ModelEntry
    from verifier.checks.run.reference import IsolatedReferences
    from verifier.errors import ConfigurationError
    from verifier.testing.shared_results import SharedResults

_STATE = pytest.StashKey["_VerifyState"]()
# The key of xdist's workerinput naming the session's folder of shared results (made by the controller).
_SHARED_FOLDER = "rtneural_verifier_shared_results"
# The attribute of an item's report carrying its check's verdict (name, status, summary) to the process that
# prints the summary: under xdist the controller, which runs no item, gets the reports from the workers.
_VERDICT = "rtneural_verifier_verdict"


class _VerifyState:
    """The manifest, the options, and the results of the models verified so far (one run per model)."""

    def __init__(self, manifest: Manifest | None, options: dict[str, Any]) -> None:
        self.manifest = manifest
        self.options = options
        self.results: dict[str, FileResult | ConfigurationError] = {}
        # Under xdist: the results of every process of the session (None in a session of one process).
        self.shared: SharedResults | None = None
        self._references: IsolatedReferences | None = None

    @property
    def references(self) -> IsolatedReferences:
        """One child process running this process's reference modules (torch imported there once)."""
        if self._references is None:
            from verifier.checks.run.options import Options
            from verifier.checks.run.reference import isolated_references

            self._references = isolated_references(Options(**self.options), self.manifest)
        return self._references

    def close(self) -> None:
        if self._references is not None:
            self._references.close()

    @property
    def active(self) -> Manifest:
        """The manifest (items exist only when there is one)."""
        if self.manifest is None:
            raise RuntimeError("rtneural-verifier: no manifest")
        return self.manifest

    def result(self, entry: ModelEntry) -> FileResult:
        from verifier.checks.run.options import Options
        from verifier.checks.run.verify import verify_file
        from verifier.errors import ConfigurationError

        key = os.fspath(entry.file)
        if key not in self.results:
            options = Options(**self.options)

            def run() -> FileResult:
                return verify_file(key, options, self.manifest, references=self.references)

            try:
                self.results[key] = run() if self.shared is None else self.shared.get(key, run)
            except ConfigurationError as exc:  # every item of the model fails with it, not with a figure
                self.results[key] = exc
        found = self.results[key]
        if isinstance(found, Exception):
            raise ConfigurationFailed(str(found))
        return found

    def verified(self) -> list[FileResult]:
        """The results of the models verified in this session by any of its processes, in manifest order."""
        found = []
        for entry in self.active.models:
            key = os.fspath(entry.file)
            result = self.results.get(key) or (self.shared.stored(key) if self.shared else None)
            if result is not None and not isinstance(result, Exception):  # an unusable factory has none
                found.append(result)
        return found


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
    group.addoption(
        "--verify-reference-timeout",
        type=float,
        metavar="SECONDS",
        help="most seconds a model's factory and forward() may take in their child process (default 300)",
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
    timeout = config.getoption("verify_reference_timeout")
    if timeout is not None:
        if not 0 < timeout < float("inf"):
            raise pytest.UsageError(f"--verify-reference-timeout: must be a positive number, got {timeout}")
        options["reference_timeout"] = timeout
    if manifest is not None:
        from verifier.checks.run.plugin_latency import PluginLatencyError, files_named, read_named

        models = [os.fspath(entry.file) for entry in manifest.models]
        try:
            options["plugin_latency"] = read_named(files_named([], None, models, manifest), models, manifest)
        except PluginLatencyError as exc:
            raise pytest.UsageError(f"rtneural-verifier: {exc}") from None
    state = _VerifyState(manifest, options)
    config.stash[_STATE] = state
    if manifest is None:
        return
    config.addinivalue_line("markers", "verify: an rtneural-verifier check of an exported model")
    worker = getattr(config, "workerinput", None)
    if worker is None:
        config.pluginmanager.register(_Summary(state), "rtneural-verifier-summary")
    elif worker.get(_SHARED_FOLDER):
        from verifier.testing.shared_results import SharedResults

        state.shared = SharedResults(Path(worker[_SHARED_FOLDER]))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: called on the controller, once per worker
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash.get(_STATE, None)
    if state is None or state.manifest is None:
        return
    if state.shared is None:
        from verifier.testing.shared_results import SharedResults

        state.shared = SharedResults.create()
    node.workerinput[_SHARED_FOLDER] = os.fspath(state.shared.folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    state.close()
    if state.shared is not None and not hasattr(config, "workerinput"):
        state.shared.remove()


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


class ConfigurationFailed(Exception):
    """A model whose factory cannot be imported or called: each of its items fails with this one line."""


def _judge(item: _VerifyItem, path: str, check: Check | None) -> None:
    from verifier.checks.results import FAIL, SKIP

    if check is None:
        check = _missing(item.name)
    item.verdict = check
    _record(item, check)
    if check.status == SKIP:
        pytest.skip(check.summary)
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
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verdict: Check | None = None  # the check this item judged, once it has run
        self.add_marker("verify")

    def plots(self) -> list[tuple[str, str]]:
        """(title, SVG) of the HTML report's plots this item shows (``--html`` with pytest-html)."""
        return []

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConfigurationFailed):
            return f"configuration error: {excinfo.value}"
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

    def runtest(self) -> None:
        result = self.config.stash[_STATE].result(self.entry)
        _judge(self, result.path, result.check(self.name))

    def plots(self) -> list[tuple[str, str]]:
        from verifier.report.html import model_plots

        charts = [chart for chart, item in _CHART_ITEMS.items() if self.name in item]
        if not charts:
            return []
        result = self.config.stash[_STATE].result(self.entry)
        return [(f"{self.entry.name}: {caption}", svg) for _, caption, svg in model_plots(result, charts)]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.entry.file, None, f"{self.entry.name}::{self.name} ({self.entry.file.name})"


class RunCheckItem(_VerifyItem):
    """A check over all the manifest's models (every model is verified first)."""

    def runtest(self) -> None:
        from verifier.checks.run.verify import memory_total

        state = self.config.stash[_STATE]
        manifest = state.active
        files = tuple(state.result(entry) for entry in manifest.models)
        _judge(self, os.fspath(manifest.path), memory_total(files, manifest))

    def plots(self) -> list[tuple[str, str]]:
        from verifier.checks.results import RunResult
        from verifier.report.html import memory_plot

        if self.verdict is None:
            return []
        state = self.config.stash[_STATE]
        files = tuple(state.result(entry) for entry in state.active.models)
        return [("memory held vs budget", memory_plot(RunResult(files, suite=(self.verdict,))))]

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
        # the session's child process when the manifest is the session's (its project); else one of its own
        shared = state.references if state is not None and chosen is state.manifest else None
        return verify_file(os.fspath(path), Options(**options), chosen, references=shared)

    return run


# The items showing each plot of a model in ``verify --format html`` (verifier.report.html.CHARTS): the error
# plots draw both call patterns, so both numeric items carry them.
_CHART_ITEMS = {
    "error-steps": ("numeric-frame", "numeric-stream"),
    "error-histogram": ("numeric-frame", "numeric-stream"),
    "latency": ("latency",),
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, _VerifyItem) and report.when == "call" and item.verdict is not None:
        check = item.verdict
        setattr(report, _VERDICT, {"name": check.name, "status": check.status, "summary": check.summary})
        if item.config.getoption("htmlpath", None):
            # pytest-html's attribute, read in the process writing the page (xdist sends it with the report)
            report.extras = [*getattr(report, "extras", []), *_html_extras(item)]  # type: ignore[attr-defined]
    return report


def _html_extras(item: _VerifyItem) -> list[Any]:
    """The item's plots as pytest-html extras (none when pytest-html is not installed, nor for a skipped
    check, which has nothing to draw)."""
    from verifier.checks.results import SKIP

    if item.verdict is None or item.verdict.status == SKIP:
        return []
    try:
        extras = importlib.import_module("pytest_html.extras")  # optional, and untyped
    except ImportError:
        return []
    from verifier.report.html import HtmlReportError

    try:
        plots = item.plots()
    except HtmlReportError as exc:  # matplotlib is missing: say how to get the plots
        return [extras.text(str(exc), name="plots")]
    except Exception as exc:  # an attachment must not turn the item's report into an internal error
        return [extras.text(f"the plots could not be drawn: {type(exc).__name__}: {exc}", name="plots")]
    return [extras.svg(base64.b64encode(svg.encode()).decode("ascii"), name=title) for title, svg in plots]


class _Summary:
    """The budgets table and the warnings at the end of the run, in the process that prints them.

    The verdicts come from the items' reports and the results from the session's processes
    (``_VerifyState.verified``), so a run under pytest-xdist, whose controller runs no item, prints what a
    run in one process prints.
    """

    def __init__(self, state: _VerifyState) -> None:
        self.state = state
        self.total: Check | None = None
        # By node id: under ``--dist each`` every worker reports every item.
        self.warnings: dict[str, Check] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from verifier.checks.catalogue import RUN_CHECKS
        from verifier.checks.results import WARN, Check

        verdict = getattr(report, _VERDICT, None)
        if verdict is None:
            return
        check = Check.from_dict(verdict)
        if check.name in RUN_CHECKS:
            self.total = check
        if check.status == WARN:
            self.warnings[report.nodeid] = check

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from verifier.report.budgets_table import budget_lines

        results = self.state.verified()
        if not results:
            return
        terminalreporter.write_sep("-", "rtneural-verifier: budgets")
        for line in budget_lines(results, self.total):
            terminalreporter.write_line(line)
        for nodeid, check in self.warnings.items():
            terminalreporter.write_line(f"warning {nodeid}: {check.summary}")
