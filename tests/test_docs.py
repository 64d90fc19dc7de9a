"""The docs cannot drift from the code: every module path, file and count they state is checked here, every
Python example runs and every documented command line parses (the light ones run, on copies of small
fixtures).

A Python block that deliberately cannot run says so in the line right before its fence, ``<!-- not run:
REASON -->``; a command that is too heavy for the test suite is listed in ``HEAVY`` with its reason.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "ARCHITECTURE.md", *(ROOT / "docs").rglob("*.md")])
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>[^>]*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})```(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)```\s*$", re.M | re.S)

# A dotted name ending in one of these is a file name (`verifier.json`, a manifest), not a module path.
FILE_SUFFIXES = {"json", "py", "toml", "md", "yml", "yaml", "csv", "txt", "cpp", "h", "hpp"}
DOTTED = re.compile(r"(?<![\w./-])verifier(?:\.[A-Za-z_]\w*)+")
# A path of this repository: it starts at one of its top-level folders (".../site-packages/verifier/..." does
# not: the lookbehind refuses a path that continues another).
REPO_PATH = re.compile(
    r"(?<![\w./-])(?:verifier|native|schemas|tools|docs|fixtures|tests|constraints)/[\w./*-]*"
)
# A file named alone in backticks (`loader.cpp`): some file of the repository has that name.
BARE_FILE = re.compile(r"`([\w-]+\.(?:py|h|cpp|hpp|cmake))`")
LINK = re.compile(r"\]\((?![a-z]+:|#)([^)#\s]+)")

# Paths the docs name that are not files of this checkout, each with why.
NOT_IN_REPO = {
    "fixtures/production/models": "written by `verify-production --write` (24 MB, never committed)",
    "fixtures/production/models/*.json": "written by `verify-production --write` (24 MB, never committed)",
    "tests/CMakeLists.txt": "the plugin's own test folder, in docs/golden.md's worked example",
}
NOT_IN_REPO_FILES = {
    "model_golden_test.cpp": "the plugin's own test, in docs/golden.md's worked example",
}


def _docs_text() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in DOCS if path.exists()}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- (a) module paths ------------------------------------------------------------------------------------


def _dotted_paths() -> list[str]:
    found: set[str] = set()
    for text in _docs_text().values():
        for name in DOTTED.findall(text):
            if name.rsplit(".", 1)[1] not in FILE_SUFFIXES:
                found.add(name)
    return sorted(found)


def _resolve(dotted: str) -> Any:
    """The module, or the module attribute, a dotted path names (ImportError/AttributeError otherwise)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not dotted.startswith(exc.name):
                raise  # a module that exists failed to import a dependency: that is not a stale name
            continue
        for attr in parts[cut:]:
            value = getattr(value, attr)
        return value
    raise ImportError(dotted)


@pytest.mark.parametrize("dotted", _dotted_paths())
def test_every_module_path_the_docs_name_imports(dotted: str) -> None:
    _resolve(dotted)


def test_a_stale_module_path_is_caught() -> None:
    with pytest.raises((ImportError, AttributeError)):
        _resolve("verifier.tolerance.tolerance_for")
    with pytest.raises(AttributeError):
        _resolve("verifier.pytorch.run.no_such_function")


# --- (b) file paths --------------------------------------------------------------------------------------


def _repo_paths() -> list[str]:
    found: set[str] = set()
    for doc, text in _docs_text().items():
        for path in REPO_PATH.findall(text):
            found.add(path.rstrip("."))
        for target in LINK.findall(text):
            found.add(_rel((doc.parent / target).resolve()))
    return sorted(found)


def _tracked_names() -> set[str]:
    """Names of the checkout's files (hidden folders, build trees and caches left out)."""
    return {
        path.name
        for path in ROOT.rglob("*")
        if not any(
            part.startswith(".") or part in ("build", "__pycache__") for part in path.relative_to(ROOT).parts
        )
    }


@pytest.mark.parametrize("path", _repo_paths())
def test_every_repository_path_the_docs_name_exists(path: str) -> None:
    if path in NOT_IN_REPO:
        pytest.skip(NOT_IN_REPO[path])
    matches = list(ROOT.glob(path.rstrip("/"))) if "*" in path else [ROOT / path]
    assert matches, f"{path}: no file matches"
    assert all(match.exists() for match in matches), f"{path}: no such file or folder in the repository"


def test_every_file_named_alone_exists_somewhere() -> None:
    names = _tracked_names()
    named = {name for text in _docs_text().values() for name in BARE_FILE.findall(text)}
    missing = sorted(name for name in named - names if name not in NOT_IN_REPO_FILES)
    assert len(named) >= 10
    assert not missing, f"files the docs name that are nowhere in the repository: {missing}"


# --- (a, b) in the code's own comments and docstrings -----------------------------------------------------

SOURCES = sorted(
    [
        *(ROOT / "verifier").rglob("*.py"),
        *(ROOT / "tools").glob("*.py"),
        *(ROOT / "native").rglob("*.h"),
        *(ROOT / "native").rglob("*.cpp"),
        *(ROOT / "verifier" / "cpp").rglob("*.hpp"),
    ]
)
# Paths a comment names that are not files of this checkout, each with why.
SOURCE_PATHS_ELSEWHERE = {
    "verifier/schemas/": "the schemas' folder in an installed package",
}


def _stale_names_in(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    stale = []
    for dotted in sorted(set(DOTTED.findall(text))):
        if dotted.rsplit(".", 1)[1] in FILE_SUFFIXES:
            continue
        try:
            _resolve(dotted)
        except (ImportError, AttributeError):
            stale.append(dotted)
    for named in sorted({p.rstrip(".") for p in REPO_PATH.findall(text)}):
        matches = list(ROOT.glob(named.rstrip("/"))) if "*" in named else [ROOT / named]
        if named not in SOURCE_PATHS_ELSEWHERE and not all(m.exists() for m in matches or [ROOT / named]):
            stale.append(named)
    return stale


def test_the_codes_comments_name_modules_and_files_that_exist() -> None:
    stale = {_rel(path): names for path in SOURCES if (names := _stale_names_in(path))}
    assert len(SOURCES) > 50
    assert not stale


# --- (c) Python blocks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    info: str
    body: str
    not_run: str | None  # the reason given in the marker before the fence

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _blocks() -> list[Block]:
    blocks = []
    for doc, text in _docs_text().items():
        for match in FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            marker = NOT_RUN.search(before)
            line = text.count("\n", 0, match.start()) + 1
            body = "\n".join(row[len(match["indent"]) :] for row in match["body"].splitlines())
            blocks.append(Block(_rel(doc), line, match["info"].strip(), body, marker and marker["reason"]))
    return blocks


PYTHON_BLOCKS = [block for block in _blocks() if block.info == "python"]


@pytest.mark.parametrize("block", [b for b in PYTHON_BLOCKS if b.not_run is None], ids=lambda b: b.id)
def test_every_python_example_runs_in_a_fresh_folder(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(block.body, block.id, "exec"), {"__name__": "__doc_example__"})


def test_python_examples_not_run_are_few_and_say_why() -> None:
    skipped = [b for b in PYTHON_BLOCKS if b.not_run is not None]
    assert len(PYTHON_BLOCKS) - len(skipped) >= 1
    assert len(skipped) <= 2, [b.id for b in skipped]
    assert all(len(b.not_run or "") > 10 for b in skipped), [b.id for b in skipped]


# --- (d) command lines -----------------------------------------------------------------------------------


class _Parsed(BaseException):
    """Raised by argparse once it has parsed a command line: stops the command before it does anything."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


# Commands of the docs not run by this test (each still parsed when it is ours), with why.
HEAVY = {
    "verify-production --write fixtures/production/models": "writes the 24 MB production exports",
    "verify --manifest fixtures/production/manifest.json fixtures/production/models/*.json": (
        "the main job: minutes, on the production exports (tests/test_run.py runs it)"
    ),
    "verify --manifest fixtures/production/manifest.json --save-golden golden "
    "fixtures/production/models/*.json": (
        "bundles of the production exports (tests/test_golden.py writes bundles of small models)"
    ),
    "verify reduce melody.json --against verifier.production:melody_transformer -o repro": (
        "needs a broken export of the 2.5 MB MelodyTransformer (tests/test_reduce.py reduces small ones)"
    ),
    "verify --manifest fixtures/production/manifest.json --plugin-latency latency/EmotionRecognizer.json": (
        "the main job with the plugin test's latency file (tests/test_golden_cpp_latency.py runs it)"
    ),
    "python tools/measure.py tolerance --models 2000": "a measurement campaign: minutes",
    "python tools/measure.py tolerance --models 150 --steps 2000": "a measurement campaign: minutes",
    "python tools/measure.py detection --examples 200": "a measurement campaign: minutes",
    "python tools/measure_diagnosis.py": "exports and checks seven models with torch (about 15 s)",
}
# Commands that are not this project's (packaging, other tools), recognised by their first word.
NOT_OURS = {"python3", "pip", ".", "tox", "pytest", "cmake", "ctest", "git", "export", "/usr/bin/time", "du"}


def _command_lines() -> list[tuple[str, str]]:
    """(where, command) for every command of a ``sh`` block, and every ``$ `` line of an unlabelled block."""
    found = []
    for block in _blocks():
        if block.info not in ("sh", "bash", "console", ""):
            continue
        for row in block.body.splitlines():
            text = row.strip()
            if block.info != "sh":
                if not text.startswith("$ "):
                    continue
                text = text[2:]
            text = re.sub(r"\s+#.*$", "", text)
            if text and not text.startswith("#"):
                found.extend((block.id, part.strip()) for part in text.split("&&"))
    return found


COMMANDS = _command_lines()


def _tool(path: str) -> Any:
    """A script of tools/ imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_doc_tool_{Path(path).stem}", ROOT / path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _entry_point(argv: list[str]) -> tuple[Callable[[list[str]], int], list[str]] | None:
    """The function a documented command runs and its arguments; None for a command that is not ours."""
    if argv[0] == "verify":
        from verifier.cli import main

        return main, argv[1:]
    if argv[0] == "verify-production":
        from verifier.production import main as production

        return production, argv[1:]
    if argv[:2] == ["python", "-m"] and argv[2].startswith("verifier"):
        return importlib.import_module(argv[2] + ".__main__").main, argv[3:]
    if argv[0] == "python" and argv[1].startswith("tools/"):
        return _tool(argv[1]).main, argv[2:]
    assert argv[0] in NOT_OURS, f"{argv[0]}: a command the docs name that this test does not know"
    return None


def _parses(command: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the command's argument parser accepts it (the command is stopped right after parsing)."""
    entry = _entry_point(shlex.split(command))
    assert entry is not None
    function, argv = entry
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        raise _Parsed(original(self, args, namespace))

    with monkeypatch.context() as patch, contextlib.redirect_stderr(io.StringIO()):
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
        try:
            function(argv)
        except _Parsed:
            return True
        except SystemExit:
            return False
    return False  # a usage error the command turned into its exit status


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w}:{c[:40]}" for w, c in COMMANDS])
def test_every_documented_command_parses(where: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if shlex.split(command)[0] in NOT_OURS:
        pytest.skip(f"not this project's command: {command}")
    assert _parses(command, monkeypatch), f"{where}: `{command}` is refused by its argument parser"


@pytest.mark.parametrize(
    "command",
    ["verify --no-such-option x.json", "verify inspect --format yaml x.json", "python tools/measure.py fit"],
)
def test_a_command_its_parser_refuses_is_caught(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _parses(command, monkeypatch)


def _materialise(argv: list[str], folder: Path) -> None:
    """A small valid model at every model path (or glob) the command reads."""
    writers = {"-o", "--output", "--save-golden", "--embed-golden"}
    for before, arg in zip(["", *argv[:-1]], argv, strict=True):
        if arg.endswith(".json") and before not in writers and not arg.startswith("-"):
            target = folder / arg.replace("*", "model")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / "fixtures" / "good" / "mlp.json", target)


LIGHT = [(w, c) for w, c in COMMANDS if c not in HEAVY and shlex.split(c)[0] not in NOT_OURS]


@pytest.mark.parametrize(("where", "command"), LIGHT, ids=[f"{w}:{c[:40]}" for w, c in LIGHT])
def test_every_light_documented_command_runs_on_small_fixtures(
    where: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    argv = shlex.split(command)
    entry = _entry_point(argv)
    if entry is None:
        pytest.skip(f"not this project's command: {command}")
    function, args = entry
    monkeypatch.chdir(tmp_path)
    _materialise(args, tmp_path)
    code = function(args)
    out, err = capsys.readouterr()
    assert code == 0, f"{where}: `{command}` exited {code}: {err}"
    assert out or list(tmp_path.rglob("*")), f"{where}: `{command}` did nothing visible"


def test_every_heavy_command_is_still_documented() -> None:
    documented = {command for _, command in COMMANDS}
    assert not set(HEAVY) - documented, "HEAVY lists commands the docs no longer show"


# --- (e) counts ------------------------------------------------------------------------------------------


def _bad_fixtures() -> int:
    return sum(1 for path in (ROOT / "fixtures" / "bad").glob("*.json") if path.name != "expected.json")


def _mistakes() -> int:
    from verifier.testing.mistakes import MISTAKES

    return len(MISTAKES)


def _schemas() -> int:
    return len(list((ROOT / "schemas").glob("*.schema.json")))


def _rules() -> int:
    from verifier.format.rules import RULES

    return len(RULES)


def _production_models() -> int:
    import json

    return len(json.loads((ROOT / "fixtures" / "production" / "manifest.json").read_text())["models"])


NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
# (what is counted, a pattern whose group "n" is the count stated, the count in the repository)
COUNTS: list[tuple[str, str, Callable[[], int]]] = [
    ("bad fixtures", r"`fixtures/bad/` holds (?P<n>\w+) ", _bad_fixtures),
    ("export mistakes", r"\b(?P<n>\w+) known export mistakes", _mistakes),
    ("JSON Schemas", r"\b(?P<n>\w+) JSON Schemas", _schemas),
    ("rules", r"\b(?P<n>\w+) rules of the catalogue", _rules),
    ("production models", r"\b(?P<n>\w+) production models", _production_models),
]


def _stated(pattern: str) -> Iterator[tuple[str, int]]:
    for doc, text in _docs_text().items():
        for match in re.finditer(pattern, text):
            word = match["n"].replace(",", "")
            if word.isdigit() or word in NUMBERS:
                yield _rel(doc), int(word) if word.isdigit() else NUMBERS[word]


@pytest.mark.parametrize(("what", "pattern", "count"), COUNTS, ids=[c[0] for c in COUNTS])
def test_every_count_the_docs_state_is_the_repositorys(
    what: str, pattern: str, count: Callable[[], int]
) -> None:
    stated = list(_stated(pattern))
    if not stated:
        pytest.skip(f"no doc states the number of {what}")
    actual = count()
    wrong = [(doc, n) for doc, n in stated if n != actual]
    assert not wrong, f"{what}: the repository has {actual}; the docs say {wrong}"


def test_the_readme_rule_table_is_the_catalogue_output() -> None:
    from verifier.format.rules import markdown_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table().strip() in readme, (
        "README's rule table: paste `python -m verifier.format.catalogue`"
    )


def test_the_docs_checks_are_not_vacuous() -> None:
    """Floors, so that a broken extraction (a regex that stops matching) cannot pass by checking nothing."""
    assert len(_dotted_paths()) >= 20
    assert len(_repo_paths()) >= 40
    assert len(PYTHON_BLOCKS) >= 2
    assert len(COMMANDS) >= 10
    assert len(LIGHT) >= 4


def test_the_command_runner_is_not_fooled_by_a_failing_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from verifier.cli import main

    _materialise(["inspect", "missing/*.json"], tmp_path)
    assert main(["inspect", "missing/model.json"]) == 0
    assert main(["inspect", "not-there.json"]) != 0


def test_the_files_that_know_pybind11_are_the_ones_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = re.search(r"pybind11 stays in the bindings:(?P<names>[^.]*(?:\.(?:h|cpp)[^.]*)*)\.", readme)
    assert sentence, "README no longer says which files know pybind11"
    named = set(BARE_FILE.findall(sentence["names"]))
    including = {
        path.name
        for path in (ROOT / "native").rglob("*")
        if path.suffix in (".h", ".cpp") and "#include <pybind11" in path.read_text(encoding="utf-8")
    }
    assert named == including


# --- (f) the invariants ARCHITECTURE.md states that an import graph can see ------------------------------


def test_the_reference_imports_nothing_of_the_engine() -> None:
    from test_architecture import import_graph

    graph = import_graph()
    crossing = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("verifier.pytorch")
        for target in targets
        if target.startswith("verifier.engine")
    }
    assert not crossing


def test_the_checks_never_print() -> None:
    import ast

    printing = []
    for path in sorted((ROOT / "verifier" / "checks").rglob("*.py")):
        if path.name == "rss_probe.py":  # a child process: its stdout is its answer to the parent
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "print",
                "sys.stdout.write",
                "sys.stderr.write",
            ):
                printing.append(f"{_rel(path)}:{node.lineno}")
    assert not printing


def test_the_diagnosis_figures_are_what_the_tool_measures_now(tmp_path: Path) -> None:
    """docs/diagnose.md's table of the seven mistakes is `python tools/measure_diagnosis.py`'s output: a
    change to a check, the diagnosis or the tolerance that moves a figure shows here, not months later."""
    rows = _tool("tools/measure_diagnosis.py").measure(tmp_path)
    doc = (ROOT / "docs" / "diagnose.md").read_text(encoding="utf-8")
    stale = [row for row in rows if row not in doc.splitlines()]
    assert len(rows) == 8
    assert not stale, f"docs/diagnose.md: rerun `python tools/measure_diagnosis.py`; now measured: {stale}"
