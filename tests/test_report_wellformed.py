"""Every format renders every report the schema accepts, and stays well-formed whatever the report's strings
and numbers hold: names with ``$`` (matplotlib's mathtext), ``%``, ``::``, ``]]>``, pipes, control
characters, lone surrogates; NaN, infinite and huge numbers.

The property starts from a real report (two ``verify`` runs of small models: a failing numeric check with
its diverging layer, a validation error and warning, latency, memory against a budget, a baseline) and
mutates its strings, numbers and free-form figures; ``verify render`` then writes each format, which must be
UTF-8, parse (JUnit with xml.etree, HTML with html.parser, JSON and SARIF with json), and keep its own
structure (one GitHub workflow command per line, Markdown tables with their columns, no injected tag).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from verifier.checks.results import FAIL, Check, FileResult, RunResult
from verifier.cli import main
from verifier.cli import run as cli_run
from verifier.format.schema.validator import validator
from verifier.pytorch.export import export
from verifier.report.formats import FORMATS, format_report
from verifier.report.strict import strict
from verifier.testing.mistakes import corrupt

FAST = ["--rss-copies", "0", "--steps", "12"]
# A square dense kernel (RTN-W003) and an unknown activation (RTN-E106).
MIXED = (
    '{"in_shape": [null, 2],\n"layers": [\n'
    '{"type": "dense", "activation": "tanh", "shape": [null, 2], "weights": [[[1, 2], [3, 4]], [0, 0]]},\n'
    '{"type": "dense", "activation": "tanhh", "shape": [null, 1], "weights": [[[1], [2]], [0]]}]}\n'
)


def _quiet_run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Iterator[Path]:
    """The models, and a working directory where the first run names its files relatively."""
    here = tmp_path_factory.mktemp("wellformed")
    torch.manual_seed(0)
    chain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Linear(4, 2))
    (here / "bad.json").write_text(json.dumps(corrupt(export(chain), "transposed_kernel", 1), indent=1))
    torch.save(chain, here / "chain.pt")
    (here / "mixed.json").write_text(MIXED)
    torch.manual_seed(4)
    export(nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.GRU(6, 4, batch_first=True)), here / "rnn.json")
    export(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), here / "mlp.json")
    manifest = {
        "memory": {"budget_bytes": 1024, "budget_text": "1 KiB"},
        "models": [{"name": "Recurrent", "file": "rnn.json"}, {"name": "Feedforward", "file": "mlp.json"}],
    }
    (here / "verifier.json").write_text(json.dumps(manifest))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield here


@pytest.fixture(scope="module")
def real_report(folder) -> dict[str, Any]:
    """One report of every kind of check: failing numbers with a diverging layer, findings, latency,
    memory over its budget and a baseline (two runs joined into one, as the JSON format writes it)."""
    numeric = [*FAST, "--no-timing", "--no-manifest", "--against", "chain.pt", "--format", "json"]
    assert _quiet_run(["bad.json", "mixed.json", *numeric, "-o", "a.json"])[0] == 1
    budgets = [*FAST, "--timing-steps", "50", "--manifest", "verifier.json", "--format", "json"]
    _quiet_run([str(folder / "rnn.json"), str(folder / "mlp.json"), *budgets, "-o", "base.json"])
    _, out, _ = _quiet_run(
        [str(folder / "rnn.json"), str(folder / "mlp.json"), *budgets, "--baseline", "base.json"]
    )
    first = RunResult.from_dict(json.loads((folder / "a.json").read_text()))
    second = RunResult.from_dict(json.loads(out))
    joined = RunResult(first.files + second.files, second.suite, second.tool, second.machine, second.settings)
    data = json.loads(format_report(joined, "json"))
    assert not list(validator("report").iter_errors(data))
    names = {c["name"] for f in data["files"] for c in f["checks"]}
    assert {"baseline", "latency", "numeric-stream", "validate"} <= names
    return data


# ------------------------------------------------------------------------------------------- strategies

NASTY = (
    "$\\frac{x}$ $$",
    "$",
    "%",
    "%0A",
    "::",
    "::error::injected",
    "]]>",
    "<script>alert(1)</script>",
    "|",
    "`",
    "\\",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\r\n",
    "\n::warning::x",
    "\ufffe",
    "\uffff",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u2028",
    "&amp;",
    "'\"",
    ",",
    "*_~[]()",
    "<details>",
)
nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_categories=()), max_size=6)),
    min_size=1,
    max_size=4,
).map("".join)
nasty_number = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, 0.0, -0.0, 2**64, 10**40, -1]),
    st.floats(),
)
json_value = st.recursive(
    st.none() | st.booleans() | nasty_number | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=6,
)

# Values whose schema is an enum or a pattern: another string is not a report.
_FIXED_KEYS = {"status", "dtype", "kind", "report_version", "$schema"}


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _fixed(path: tuple) -> bool:
    return bool(path) and (
        path[-1] in _FIXED_KEYS
        or path[-2:] == ("tool", "name")
        or (path[-1] == "name" and len(path) >= 3 and path[-3] in ("checks", "suite"))
        or path[:2] == ("settings", "backend")
    )


def _set(data: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def mutated(draw: Any, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with some strings, numbers, figures and figure keys replaced (valid against the schema).
    ``draw`` is ``st.data().draw``: a strategy taking ``base`` as argument would put its repr (32 kB) in
    every example's description."""
    data = copy.deepcopy(base)
    leaves = [(p, v) for p, v in _leaves(data) if not _fixed(p)]
    strings = [p for p, v in leaves if isinstance(v, str)]
    numbers = [p for p, v in leaves if isinstance(v, int | float) and not isinstance(v, bool)]
    figures = [p for p, _ in leaves if "figures" in p]
    for path in _some(draw, strings, 8):
        _set(data, path, draw(nasty_text))
    for path in _some(draw, numbers, 8):
        _set(data, path, draw(nasty_number))
    for path in _some(draw, figures, 3):
        # an earlier replacement may have removed the container of this one
        with contextlib.suppress(KeyError, IndexError, TypeError):
            _set(data, path, draw(json_value))
    for _ in range(draw(st.integers(0, 2))):  # renamed keys (model names in by_model...), one at a time
        keyed = [v for p, v in _walk_mappings(data) if v and ("figures" in p or p[-1:] == ("tool",))]
        if keyed:
            (target,) = _some(draw, keyed, 1, 1)
            (key,) = _some(draw, list(target), 1, 1)
            target[draw(nasty_text)] = target.pop(key)
    # Valid as JSON can hold it: an infinite p99_ns passes "type: number" in Python, but no JSON report can
    # hold it (the JSON format writes it as null, which that field refuses), so it is no report to render.
    assume(not list(validator("report").iter_errors(strict(data))))
    return data


def _some(draw: Any, items: list[Any], most: int, least: int = 0) -> list[Any]:
    """Distinct items, drawn by index: a strategy over the items themselves would hold them in its repr,
    which Hypothesis builds (with a warning, an error here) only when it reports a failure."""
    indices = st.lists(st.integers(0, len(items) - 1), min_size=least, max_size=most, unique=True)
    return [items[i] for i in draw(indices)] if items else []


def _walk_mappings(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _walk_mappings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_mappings(item, (*path, index))


# ---------------------------------------------------------------------------------------------- checks

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.plots = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.plots += tag == "figure" and "plot" in (dict(attrs).get("class") or "")


def _render(report_file: Path, fmt: str) -> str:
    """``verify render`` of a report file (finite numbers only: JSON has no NaN nor infinity, and the
    report reader refuses them)."""
    out = report_file.with_name(f"{report_file.stem}.rendered.{fmt}")
    code, _, err = _quiet_run(["render", str(report_file), "--format", fmt, "-o", str(out)])
    assert code in (0, 1), err
    # strict UTF-8: a lone surrogate written would not decode
    return out.read_bytes().decode("utf-8")


def _check_format(fmt: str, text: str, data: dict[str, Any]) -> None:
    if fmt in ("text", "github", "markdown"):
        assert not _CONTROL.search(text), fmt
    if fmt == "json":
        assert not list(validator("report").iter_errors(json.loads(text)))
    elif fmt == "sarif":
        json.loads(text)
    elif fmt == "junit":
        root = ET.fromstring(text.encode("utf-8"))
        assert len(root.findall("testsuite")) == len(data["files"]) + bool(data["suite"])
    elif fmt == "github":
        commands = [line for line in text.splitlines() if not line.startswith(("passed: ", "FAILED: "))]
        assert all(re.match(r"::(error|warning|notice) [^:]*::", line) for line in commands), commands
        assert len(text.splitlines()) == len(commands) + 1
    elif fmt == "markdown":
        header = None
        for line in text.splitlines():
            if not line.startswith("|"):
                header = None
                continue
            cells = len(_UNESCAPED_PIPE.findall(line))
            header = header if header is not None else cells
            assert cells == header, line
    elif fmt == "html":
        page = _Tags()
        page.feed(text)
        page.close()
        assert "script" not in page.tags
        assert "<script" not in text.lower()
        assert page.plots == 3 * len(data["files"]) + 1


def _write(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "mutated.json"
    path.write_text(json.dumps(data, allow_nan=False), encoding="utf-8")
    return path


def _format(data: dict[str, Any], fmt: str) -> str:
    """The report ``data`` formatted in process: every value a run can hold, NaN and infinities included
    (a run's figures can hold them; only the JSON file cannot), strictly UTF-8."""
    text = format_report(RunResult.from_dict(data), fmt)
    text.encode("utf-8")  # a lone surrogate left in would not encode
    return text


TEXT_FORMATS = tuple(f for f in FORMATS if f != "html")


# Its FlakyStrategyDefinition under the ci profile hid a real failure: an infinite p99_ns drawn into a field
# the JSON report writes as null (see mutated()).
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_format_renders_every_schema_valid_report_well_formed(real_report, folder, data):
    report = mutated(data.draw, real_report)
    for fmt in TEXT_FORMATS:
        _check_format(fmt, _format(report, fmt), report)


# Seconds per example (matplotlib), hence a fifth of the profile's examples. Its FlakyStrategyDefinition
# was each time a real failure whose replay did not repeat it: errors spanning the double range
# (verifier.report.html.on_axis), memory near the largest double, a character the plot font lacks (a
# warning matplotlib gives once per text it lays out).
@settings(
    max_examples=max(8, settings().max_examples // 5),
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    deadline=None,
)
@given(data=st.data())
def test_the_html_page_renders_every_schema_valid_report_well_formed(real_report, folder, data):
    report = mutated(data.draw, real_report)
    _check_format("html", _format(report, "html"), report)


# ------------------------------------------------------------------------------------------ plain cases


def test_the_real_report_renders_in_every_format(real_report, folder):
    for fmt in FORMATS:
        _check_format(fmt, _render(_write(folder, real_report), fmt), real_report)


def _one_file(path: str, *checks: Check, model: str | None = None) -> RunResult:
    return RunResult(
        (FileResult(path, checks, model),),
        tool={"name": "rtneural-verifier", "version": "0", "backend": "test"},
        machine={"cpu": "", "cores_logical": 1, "python": "3", "platform": ""},
        settings={"dtype": "float32", "steps": 1, "seed": 0},
    )


HOSTILE = "a\x01b\x1bc\ufffed\ud800e\x00f]]>g"


def test_junit_is_well_formed_for_names_and_summaries_xml_cannot_hold():
    run = _one_file(
        HOSTILE + ".json",
        Check("numeric-frame", FAIL, "summary " + HOSTILE, {"note": HOSTILE}),
        Check("plugin-state", "warn", HOSTILE, {}),
        Check("latency", "skip", HOSTILE, {}),
    )
    text = format_report(run, "junit")
    root = ET.fromstring(text.encode("utf-8"))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "a\\x01b\\x1bc\\ufffed\\ud800e\\x00f]]>g.json"
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "summary a\\x01b\\x1bc\\ufffed\\ud800e\\x00f]]>g"


def test_text_shows_control_characters_of_a_name_as_escapes_on_one_line():
    run = _one_file("evil\n\x1b[2Jname.json", Check("memory", FAIL, "over\rbudget", {}))
    lines = format_report(run, "text").splitlines()
    assert lines[0] == "evil\\n\\x1b[2Jname.json: FAIL"
    assert lines[1] == "  FAIL memory  over\\rbudget"


def test_markdown_keeps_its_table_whatever_a_name_or_summary_holds():
    run = _one_file(
        "a|b`c\nd.json", Check("memory", FAIL, "x | y\nz <b>*bold*</b> $x$ [l](u)", {}), model="M|N_"
    )
    text = format_report(run, "markdown")
    row = next(line for line in text.splitlines() if line.startswith("| ``"))
    assert row == "| ``a\\|b`c\\nd.json`` | M\\|N\\_ | ❌ **fail** | `memory` |"
    detail = next(line for line in text.splitlines() if line.startswith("| `memory`"))
    assert detail == (
        "| `memory` | ❌ **fail** | x \\| y\\\\nz &lt;b&gt;\\*bold\\*&lt;/b&gt; \\$x\\$ \\[l\\](u) |"
    )
    assert "<summary><code>a|b`c\\nd.json</code></summary>" in text


def test_github_commands_escape_separators_and_controls_of_data_and_properties():
    run = _one_file("x::y,z%.json", Check("memory", FAIL, "50%\r\n::error::forged\x1b", {}))
    line = format_report(run, "github").splitlines()[0]
    assert line == "::error file=x%3A%3Ay%2Cz%25.json,title=verify/memory::50%25%0D%0A::error::forged\\x1b"


def test_sarif_uris_are_percent_encoded_and_its_text_utf8():
    run = _one_file("dir/a b%#?.json", Check("memory", FAIL, "lone \udc80 surrogate", {}))
    text = format_report(run, "sarif")
    text.encode("utf-8")
    (result,) = json.loads(text)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "dir/a%20b%25%23%3F.json"
    assert result["message"]["text"] == "lone \\udc80 surrogate"


def _series_report(folder: Path, errors: list[Any]) -> dict[str, Any]:
    data = json.loads(format_report(_one_file("m.json"), "json"))
    data["files"][0]["checks"] = [
        {
            "name": "numeric-stream",
            "status": "fail",
            "summary": "FAIL",
            "figures": {
                "dtype": "float32",
                "atol": 1e-5,
                "rtol": 0.0,
                "max_abs_error": None,
                "n_failing": 1,
                "n_compared": 3,
                "series": {
                    "steps": [0, 1, 2],
                    "max_abs_error": errors,
                    "allowed": [1e-5, 1e-5, 1e-5],
                    "histogram": {"edges": [1e-6, math.inf], "counts": [3]},
                },
            },
        }
    ]
    return data


def test_html_draws_an_infinite_error_series_with_a_note_instead_of_failing(folder):
    page = _format(_series_report(folder, [1e-3, math.inf, math.nan]), "html")
    assert "2 step errors NaN or infinite, not drawn" in page


def test_html_draws_finite_errors_spanning_the_whole_double_range(folder):
    # Found by the HTML property: a log axis over 5e-323..1.7e308 made matplotlib's margins overflow (a
    # RuntimeWarning in np.exp, an error here), a failure its final replay did not repeat, so that it
    # surfaced as Hypothesis's FlakyStrategyDefinition instead of itself.
    page = _format(_series_report(folder, [5e-323, 1e-10, 1.7e308]), "html")
    assert "step errors NaN or infinite" not in page


def test_html_of_memory_held_near_the_largest_double_says_it_is_too_large_to_draw(folder):
    # Found by the HTML property too: an axis up to 1e308 overflowed matplotlib's tick steps (a warning).
    run = _one_file("m.json", Check("memory", FAIL, "over", {"bytes_held": 1e308}))
    page = format_report(run, "html")
    assert "memory figures too large to draw" in page


def test_html_draws_a_name_holding_characters_the_plot_font_lacks(folder):
    # Found by the HTML property under the ci profile: matplotlib warns once per text it lays out when its
    # font has no glyph for a character (an error here), and caches the layout, so that the replay did not
    # warn and the failure surfaced as FlakyStrategyDefinition. The SVG keeps text as text: the browser's
    # fonts draw it.
    name = "\u081a\u0800 samaritan.json"
    run = _one_file(name, Check("memory", FAIL, "over", {"bytes_held": 4096}))
    page = format_report(run, "html")
    assert "\u081a\u0800 samaritan" in page


def test_html_of_a_series_with_no_finite_error_says_so(folder):
    page = _format(_series_report(folder, [math.inf, None, -math.inf]), "html")
    assert "no step with a finite error to draw (3 NaN or infinite)" in page


def test_html_of_a_file_named_like_a_formula_renders_the_name_as_written(folder, tmp_path):
    name = "$\\frac{x}$ $$.json"
    (folder / name).write_text((folder / "bad.json").read_text())
    argv = [name, "--no-timing", "--no-manifest", "--against", "chain.pt", *FAST, "--format", "json"]
    assert _quiet_run([*argv, "-o", "formula.json"])[0] == 1
    page = _render(folder / "formula.json", "html")
    assert 'data-model="$\\frac{x}$ $$.json"' in page
    # the plot's label shows the dollars, not a formula
    assert "\\frac{x}" in page


def test_render_refuses_a_report_with_a_number_python_cannot_read(folder, capsys):
    text = format_report(_one_file("m.json"), "json").rstrip().removesuffix("}")
    path = folder / "digits.json"
    path.write_text(text + ', "x": ' + "9" * 5000 + "}")
    assert main(["render", str(path)]) == 2
    assert "digits.json: /x: the number" in capsys.readouterr().err


def test_render_refuses_a_report_nested_deeper_than_the_limit(folder, capsys):
    data = json.loads(format_report(_one_file("m.json", Check("memory", FAIL, "x", {})), "json"))
    data["files"][0]["checks"][0]["figures"]["deep"] = json.loads("[" * 500 + "]" * 500)
    path = folder / "deep.json"
    path.write_text(json.dumps(data))
    assert main(["render", str(path)]) == 2
    assert "deep.json: /files/0/checks/0/figures/deep/" in capsys.readouterr().err


def test_render_refuses_a_report_that_is_not_a_regular_file(folder, capsys):
    fifo = folder / "report.fifo"
    os.mkfifo(fifo)
    assert main(["render", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err
