"""Messages of bounded size: a value of the file (a key, a layer type, an activation name, a string where a
number belongs) is quoted cut to a fixed length with its size stated, in Python (verifier.quoting) and in
C++ (native/quoting.h), and so is each segment of a JSON pointer. A 10 MB string in a model file makes a
report of kilobytes in every format, not of megabytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.checks.results import FileResult, RunResult
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_files
from verifier.checks.validation import validate_check
from verifier.cli import main
from verifier.engine.model import load
from verifier.errors import ModelFormatError
from verifier.format.validate import validate
from verifier.quoting import MAX_QUOTED, quoted, shown, shown_pointer
from verifier.report.formats import format_report
from verifier.testing.big_files import STRING_PLACES, long_string_text

GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "good" / "mlp.json"
TEN_MB = 10 * 1024 * 1024
VERIFY_FORMATS = ["text", "json", "markdown", "junit", "sarif", "github", "html"]
VALIDATE_FORMATS = ["text", "json", "markdown", "junit", "sarif", "github"]


def _good() -> dict:
    return json.loads(GOOD.read_text())


# --- the quoting functions ------------------------------------------------------------------------------


def test_a_long_string_is_quoted_cut_with_its_size():
    assert quoted("a" * TEN_MB) == "'" + "a" * MAX_QUOTED + "…' (10,485,760 characters)"
    assert quoted("swish") == "'swish'"
    assert shown("b" * 100) == "b" * MAX_QUOTED + "… (100 characters)"


def test_a_long_value_of_any_type_is_quoted_cut():
    assert len(quoted(list(range(10_000)))) < 2 * MAX_QUOTED + 30


def test_a_pointer_keeps_its_depth_and_cuts_each_long_segment_once():
    pointer = "/" + "k" * 1000 + "/layers/0/" + "v" * 50
    cut = shown_pointer(pointer)
    assert cut == "/" + "k" * 40 + "… (1,000 characters)/layers/0/" + "v" * 40 + "… (50 characters)"
    assert shown_pointer(cut) == cut
    assert shown_pointer("/layers/3/weights/0/2/1") == "/layers/3/weights/0/2/1"


# --- findings and refusals ------------------------------------------------------------------------------


def _text(document: str) -> bytes:
    return document.encode("utf-8")


def test_a_duplicate_key_of_megabytes_is_reported_in_a_short_finding_and_refusal():
    key = "k" * TEN_MB
    text = _text(json.dumps(_good())[:-1] + f', "{key}": 1, "{key}": 2' + "}")
    (finding,) = validate(text)
    assert finding.rule == "RTN-E006"
    assert len(str(finding)) < 1000
    assert "(10,485,760 characters)" in finding.message
    with pytest.raises(ModelFormatError) as refused:
        load(text)
    assert len(str(refused.value)) < 1000
    assert refused.value.pointer == shown_pointer("/" + key)


@pytest.mark.parametrize("character", ["é", "€", "\U0001f600"])
def test_a_long_key_of_multibyte_characters_is_cut_between_characters(character):
    key = character * 100
    text = _text(json.dumps(_good(), ensure_ascii=False)[:-1] + f', "{key}": 1, "{key}": 2' + "}")
    with pytest.raises(ModelFormatError) as refused:
        load(text)
    assert character * MAX_QUOTED + "…" in refused.value.message
    assert "(100 characters)" in refused.value.message


@pytest.mark.parametrize(
    ("place", "rule"),
    [(("layers", 0, "activation"), "RTN-E106"), (("layers", 0, "type"), "RTN-E105")],
    ids=["activation", "type"],
)
def test_a_name_of_megabytes_is_quoted_cut_by_validate_and_load(place, rule):
    doc = _good()
    doc[place[0]][place[1]][place[2]] = "x" * TEN_MB
    (finding,) = [f for f in validate(doc) if f.severity == "error"]
    assert finding.rule == rule
    assert len(str(finding)) < 1000
    with pytest.raises(ModelFormatError) as refused:
        load(doc)
    assert refused.value.rule == rule
    assert len(str(refused.value)) < 1000
    assert "10,485,760 characters" in str(refused.value)


def test_an_ignored_activation_of_megabytes_is_a_short_warning_from_validate_and_load():
    doc = json.loads((GOOD.parent / "lstm.json").read_text())
    doc["layers"][0]["activation"] = "y" * TEN_MB
    (warning,) = validate(doc)
    assert warning.rule == "RTN-W001"
    assert len(str(warning)) < 1000
    assert all(len(message) < 1000 for _, message in load(doc).warnings)


# --- whole reports --------------------------------------------------------------------------------------


HOSTILE = list(STRING_PLACES)


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {"good": folder / "good.json"}
    files["good"].write_text(json.dumps(_good()))
    for kind in HOSTILE:
        files[kind] = folder / f"{kind}.json"
        files[kind].write_text(long_string_text(kind, _good(), TEN_MB))
    return files


def _reports(result: RunResult, formats: list[str]) -> dict[str, int]:
    return {fmt: len(format_report(result, fmt).encode()) for fmt in formats}


def test_verify_validate_reports_files_of_10_mb_strings_in_kilobytes_in_every_format(hostile_files):
    for kind in HOSTILE:
        path = str(hostile_files[kind])
        result = RunResult((FileResult(path, (validate_check(path),)),), settings={"validate_only": True})
        for fmt, size in _reports(result, VALIDATE_FORMATS).items():
            assert size < 64 * 1024, (kind, fmt, size)


def test_verify_reports_files_of_10_mb_strings_in_no_more_than_a_good_files_report(hostile_files):
    def sizes(kind: str) -> dict[str, int]:
        result = verify_files([str(hostile_files[kind])], Options(timing=False, steps=16))
        return _reports(result, VERIFY_FORMATS)

    # A good model's report holds its plots and figures; a hostile file may add a few findings to that.
    good = sizes("good")
    for kind in HOSTILE:
        for fmt, size in sizes(kind).items():
            assert size < good[fmt] + 16 * 1024, (kind, fmt, size, good[fmt])


def test_the_command_line_prints_a_short_report_for_a_duplicated_10_mb_key(hostile_files, tmp_path, capsys):
    for argv in (["validate"], ["--no-manifest", "--no-timing", "--steps", "16"]):
        assert main([*argv, str(hostile_files["duplicate-key"])]) == 1
        out, err = capsys.readouterr()
        assert "(10,485,760 characters)" in out
        assert len(out) + len(err) < 8 * 1024


def test_a_reference_raising_a_message_of_megabytes_makes_a_short_failing_check(tmp_path, monkeypatch):
    (tmp_path / "loud_factory.py").write_text(
        "def build():\n    raise ValueError('z' * 10_000_000)\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = verify_files([str(GOOD)], Options(timing=False, steps=8, against="loud_factory:build"))
    (checked,) = result.files
    frame = checked.check("numeric-frame")
    assert frame is not None
    assert frame.status == "fail"
    assert "ValueError: zzzz" in frame.summary
    assert "(10,000,012 characters)" in frame.summary  # "ValueError: " and the message
    assert len(frame.summary) < 4000


@pytest.mark.parametrize("option", ["--manifest", "--baseline"])
def test_a_manifest_or_baseline_holding_megabytes_is_a_short_usage_error(tmp_path, capsys, option):
    value = "n" * 3_000_000  # megabytes, within the reader's cap of a manifest (4 MiB)
    if option == "--manifest":
        document = {"models": [{"name": "x", "file": "mlp.json", "in_size": value}]}
    else:
        document = {"report_version": value}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    good = Path(__file__).resolve().parents[1] / "fixtures" / "good" / "mlp.json"
    extra = [] if option == "--manifest" else ["--no-manifest"]
    assert main([option, str(path), *extra, "--no-timing", str(good)]) == 2
    err = capsys.readouterr().err
    assert len(err) < 400, err[:500]
    if option == "--manifest":
        assert quoted(value) in err


def test_a_number_of_hundreds_of_digits_is_quoted_cut_in_the_finding():
    doc = _good()
    doc["in_shape"][-1] = 10**300  # a double still holds it; only the limit on widths refuses it
    (first, *_) = [f for f in validate(doc) if f.severity == "error"]
    assert (first.rule, first.pointer) == ("RTN-E303", "/in_shape")
    assert first.found == shown(str(10**300))
    assert first.found.endswith("(301 characters)")
