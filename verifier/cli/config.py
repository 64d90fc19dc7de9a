"""``[tool.verifier]`` in ``pyproject.toml``: the options of ``verify`` written once for a project.

Every option of ``verify`` but ``--help``, ``--version``, ``--timing`` (the command line's way to undo a
table's ``no-timing``) and the two writers that replace the checks (``--save-golden``, ``--embed-golden``)
can be set there, spelt like the option without its dashes::

    [tool.verifier]
    manifest = "exports/verifier.json"
    steps = 64
    no-timing = true
    atol = 1e-6

Precedence, highest first: the command line, then ``[tool.verifier]``, then the manifest, then the built-in
defaults. An option given on the command line also overrides the table's options that contradict it
(``--no-manifest`` a table's ``manifest``, ``-q`` a table's ``verbose``). Relative paths in the table are
taken from the folder of the ``pyproject.toml``; a repeated option (``plugin-latency``) takes a path or an
array of paths, and the command line's values replace the table's. A table value goes through the command
line's own parser (the same types and bounds); an unknown key, a value of the wrong TOML type or out of
bounds is a usage error naming the file and the key, as ruff and pytest treat their tables.

The ``pyproject.toml`` is the nearest one upward from the current directory (the project root).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.checks.run.project import project_root
from verifier.cli.arguments import UsageError
from verifier.quoting import MAX_FIELD, quoted, shown

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published for older Pythons (a dependency there, see pyproject.toml)
    import tomli as tomllib

# The key of each settable option and the TOML type its value must have. Flags take booleans; counts take
# integers (a float such as 64.0 is refused, as --steps 64.0 is); tolerances take any number.
KEY_TYPES: dict[str, tuple[type, ...]] = {
    "manifest": (str,),
    "no-manifest": (bool,),
    "against": (str,),
    "atol": (int, float),
    "rtol": (int, float),
    "dtype": (str,),
    "steps": (int,),
    "seed": (int,),
    "timing-steps": (int,),
    "no-timing": (bool,),
    "long-streams": (bool,),
    "rss-copies": (int,),
    "reference-timeout": (int,),
    "format": (str,),
    "output": (str,),
    "baseline": (str,),
    "jobs": (int,),
    "quiet": (bool,),
    "verbose": (bool,),
    "backend": (str,),
    "plugin-latency": (str, list),
    "cache": (bool,),
    "no-cache": (bool,),
}
_TYPE_NAMES = {
    (str,): "a string",
    (bool,): "true or false",
    (int,): "an integer",
    (int, float): "a number",
    (str, list): "a path or an array of paths",
}
# Paths in the table are the project's: taken from the pyproject's folder, not from wherever verify runs.
PATH_KEYS = frozenset({"manifest", "output", "baseline", "plugin-latency"})
# Options given once per value (action="append"): the command line's values replace the table's, never add
# to them, as any other option's do.
REPEATED = frozenset({"plugin_latency"})
# Options that undo one another: one given on the command line drops the table's values of the others.
EXCLUSIVE = (
    frozenset({"manifest", "no_manifest"}),
    frozenset({"quiet", "verbose"}),
    frozenset({"cache", "no_cache"}),
)
PRECEDENCE = "command line > [tool.verifier] in pyproject.toml > manifest > defaults"


@dataclass(frozen=True)
class Config:
    """The validated ``[tool.verifier]`` options (argparse destinations to values) and their file."""

    source: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def place(self, dest: str) -> str | None:
        """Where the value of ``dest`` was set in the table, for messages (None if it was not)."""
        return f"{self.source}: [tool.verifier] {dest.replace('_', '-')}" if dest in self.values else None


def find_pyproject(start: Path) -> Path | None:
    """The ``pyproject.toml`` of the project root above ``start`` (verifier.checks.run.project), if any."""
    candidate = project_root(start) / "pyproject.toml"
    return candidate if os.path.lexists(candidate) else None


def read_table(pyproject: Path) -> dict[str, Any] | None:
    """The ``[tool.verifier]`` table of ``pyproject`` (``None`` without one); an unusable file is a usage
    error."""
    from verifier.format.reader.guarded import MAX_SETTINGS_BYTES, InputError, read_text

    try:
        document = tomllib.loads(read_text(pyproject, MAX_SETTINGS_BYTES))
    except InputError as exc:  # a FIFO, a device, too large, not UTF-8: the guarded reader's words
        raise UsageError(
            f"{exc.source}: {exc.pointer or '/'}: cannot read [tool.verifier]: {exc.message}"
        ) from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, a 5,001-digit integer, nesting
        detail = "nested too deep" if isinstance(exc, RecursionError) else shown(str(exc), MAX_FIELD)
        raise UsageError(f"{pyproject}: /: cannot read [tool.verifier]: not valid TOML: {detail}") from None
    tool = document.get("tool")
    table = tool.get("verifier") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"{pyproject}: tool.verifier must be a table ([tool.verifier])")
    return table


def load_config(parser: argparse.ArgumentParser, start: Path) -> Config:
    """The ``[tool.verifier]`` options of the project holding ``start``, each checked by ``parser``."""
    pyproject = find_pyproject(start.absolute())
    table = None if pyproject is None else read_table(pyproject)
    if pyproject is None or table is None:
        return Config()
    values: dict[str, Any] = {}
    for key, value in table.items():
        values[key.replace("-", "_")] = _checked(parser, pyproject, key, value)
    if values.get("no_manifest") and "manifest" in values:
        raise UsageError(f"{pyproject}: [tool.verifier] has both manifest and no-manifest = true; keep one")
    if values.get("cache") and values.get("no_cache"):
        raise UsageError(f"{pyproject}: [tool.verifier] has both cache = true and no-cache = true; keep one")
    return Config(pyproject, values)


def _checked(parser: argparse.ArgumentParser, pyproject: Path, key: str, value: Any) -> Any:
    """``value`` as the command line's parser reads it for ``--key``."""
    where = f"{pyproject}: [tool.verifier] {shown(key)}"  # a key, a value, may be megabytes long
    if key not in KEY_TYPES:
        spelt = key.replace("_", "-")
        if spelt in KEY_TYPES:  # keys are spelt like the options, as ruff's and pytest's are
            raise UsageError(f"{where}: unknown key; did you mean {spelt}?")
        raise UsageError(f"{where}: unknown key (known: {', '.join(sorted(KEY_TYPES))})")
    types = KEY_TYPES[key]
    # bool is an int in Python: `steps = true` must not pass as 1.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise UsageError(f"{where}: expected {_TYPE_NAMES[types]}, got {_toml_type(value)}")
    if types == (bool,):
        argv = [f"--{key}"] if value else []
    elif isinstance(value, list):  # a repeated option: each element as one --key
        if not value or not all(isinstance(item, str) for item in value):
            raise UsageError(f"{where}: expected {_TYPE_NAMES[types]}, got {_toml_type(value)}")
        argv = [f"--{key}={pyproject.parent / item}" for item in value]
    else:
        text = str(pyproject.parent / str(value)) if key in PATH_KEYS else str(value)
        argv = [f"--{key}={text}"]
    try:
        parsed = parser.parse_args(argv)
    except UsageError as exc:  # the parser's own message ("must be 1 or more, got 0"), placed in the file
        raise UsageError(f"{where}: {shown(_without_option(str(exc), key), MAX_FIELD)}") from None
    return getattr(parsed, key.replace("-", "_"))


def _without_option(message: str, key: str) -> str:
    return message.removeprefix(f"argument --{key}: ")


def _toml_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    name = names.get(type(value), "a table" if isinstance(value, dict) else "a date or time")
    return f"{name} ({quoted(value)})"


def parse_with_config(
    parser: argparse.ArgumentParser, argv: Sequence[str], start: Path
) -> argparse.Namespace:
    """``argv`` parsed over the ``[tool.verifier]`` options of the project holding ``start``
    (:data:`PRECEDENCE`: the command line's options win, the table's win over the defaults).

    The command line is parsed first, so ``--help``, ``--version`` and its usage errors do not depend on the
    pyproject being readable."""
    args, _ = parse_with_config_source(parser, argv, start)
    return args


def parse_with_config_source(
    parser: argparse.ArgumentParser, argv: Sequence[str], start: Path
) -> tuple[argparse.Namespace, Config]:
    """:func:`parse_with_config`, with the table whose values the namespace holds (their places named in
    messages about files they name: :meth:`Config.place`)."""
    given = _given_on_command_line(parser, argv)
    config = load_config(parser, start)
    values = dict(config.values)
    for group in (*EXCLUSIVE, *(frozenset({dest}) for dest in REPEATED)):
        if group & given:
            for dest in group:
                values.pop(dest, None)
    return parser.parse_args(argv, namespace=argparse.Namespace(**values)), Config(config.source, values)


_UNSET = object()


def _given_on_command_line(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The settable options ``argv`` gives: argparse only fills the attributes a namespace lacks, so those
    still holding the marker were not given."""
    dests = [key.replace("-", "_") for key in KEY_TYPES]
    # A repeated option copies the list it finds and appends to it: its marker is a list of its own.
    markers = {dest: [] if dest in REPEATED else _UNSET for dest in dests}
    probe = parser.parse_args(argv, namespace=argparse.Namespace(**markers))
    return {dest for dest in dests if getattr(probe, dest) is not markers[dest]}
