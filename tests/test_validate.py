"""verifier.format.validate: every bad export is named, located and explained."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import corpus
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import verifier
from verifier.errors import ModelFormatError
from verifier.format.rules import RULES, markdown_table
from verifier.format.schema.validator import schema, schema_ids, validator
from verifier.format.validate import Finding, Limits, validate

REPO = Path(__file__).resolve().parents[1]
BAD = REPO / "fixtures" / "bad"
GOOD = REPO / "fixtures" / "good"
EXPECTED: dict[str, dict[str, Any]] = json.loads((BAD / "expected.json").read_text())
GOOD_FILES = sorted(p.name for p in GOOD.glob("*.json"))
KERAS_CASES = [c["name"] for c in corpus.manifest()["cases"] if c["format"] == "keras-json"] or [
    "corpus-missing"
]


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def refused_by_loader(source: Any) -> ModelFormatError | None:
    try:
        verifier.load(source)
    except ModelFormatError as error:
        return error
    return None


def manifest_rejects(entry: dict[str, Any]) -> bool:
    return entry["expected_verifier_behaviour"].startswith("reject")


def resolves(doc: Any, pointer: str) -> bool:
    """Whether ``pointer`` names a place in ``doc``, or a missing key of an object that is there."""
    node = doc
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                return last
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


# --- the bad fixtures ------------------------------------------------------------------------------------


def test_bad_fixture_folder_holds_at_least_40_files_all_listed_in_expected_json():
    on_disk = {p.name for p in BAD.glob("*.json")} - {"expected.json"}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_fixture_gets_exactly_its_expected_rules(name):
    findings = validate(BAD / name)
    assert all(isinstance(f, Finding) for f in findings)
    assert {f.rule for f in findings} == set(EXPECTED[name]["rules"]), "\n".join(map(str, findings))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_fixture_findings_are_complete_and_point_into_the_file(name):
    findings = validate(BAD / name)
    for f in findings:
        assert f.severity == RULES[f.rule].severity
        assert f.rtneural in ("loads fine", "silently wrong", "exception", "crash")
        assert f.message.strip()
        assert f.pointer == "" or f.pointer.startswith("/")
    try:
        doc = json.loads((BAD / name).read_bytes())
    except (ValueError, RecursionError):  # unreadable fixtures point at the whole document
        assert all(f.pointer in ("", *(g.pointer for g in findings)) for f in findings)
        return
    for f in findings:
        assert resolves(doc, f.pointer), f


def test_errors_come_before_warnings_and_information():
    doc = json.loads((GOOD / "conv1d.json").read_text())
    del doc["layers"][0]["weights"][1]  # info: bias-free dense
    doc["layers"][2]["activation"] = "relu"  # warning: ignored on batchnorm
    doc["layers"][7]["weights"][1] = [0.0, 0.0]  # error: bias of 2 for 1 output
    ranks = [("error", "warning", "info").index(f.severity) for f in validate(doc)]
    assert ranks == [0, 1, 2]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_refuses_a_bad_fixture_iff_validate_reports_an_error(name):
    has_error = bool(errors(validate(BAD / name)))
    assert has_error == EXPECTED[name]["refuse"]
    assert (refused_by_loader(BAD / name) is not None) == has_error


@pytest.mark.parametrize("name", GOOD_FILES)
def test_good_fixture_validates_clean_and_loads(name):
    assert validate(GOOD / name) == []
    assert refused_by_loader(GOOD / name) is None


def test_legacy_export_is_one_finding_naming_the_format_and_the_fix():
    findings = validate(BAD / "legacy_lstm.json")
    assert len(findings) == 1
    (only,) = findings
    assert only.rule == "RTN-E007"
    assert "legacy" in only.message
    assert "verifier.export" in only.message
    assert only.pointer == ""


def test_every_manifest_probe_has_an_equivalent_fixture():
    probes = {entry["name"] for entry in corpus.manifest()["negative_cases"]}
    covered = {entry["equivalent_of"] for entry in EXPECTED.values()}
    assert probes <= covered


# --- the corpus ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", corpus.case_names("negative_cases"))
def test_corpus_probe_gets_an_error_iff_the_manifest_says_reject(name):
    entry = corpus.case(name, "negative_cases")
    findings = validate(corpus.negative_document(entry))
    assert bool(errors(findings)) == manifest_rejects(entry), "\n".join(map(str, findings))


def test_bad_lstm_is_located_at_its_kernel_with_the_hidden_sizes():
    findings = validate(
        corpus.negative_document(corpus.case("bad_lstm_hidden_size_mismatch", "negative_cases"))
    )
    assert [(f.rule, f.pointer, f.expected, f.found) for f in findings] == [
        ("RTN-E202", "/layers/0/weights/0", "[1][64]", "[1][80]")
    ]


@pytest.mark.parametrize("name", KERAS_CASES)
def test_corpus_keras_model_validates_without_errors(name):
    findings = validate(corpus.read_json(corpus.case(name)["model"]))
    assert errors(findings) == []


@pytest.mark.parametrize("name", KERAS_CASES)
def test_corpus_keras_model_is_valid_under_the_full_schema(name):
    validator("rtneural-model").validate(corpus.read_json(corpus.case(name)["model"]))


# --- inputs that are not files, and limits ---------------------------------------------------------------


def test_a_missing_file_is_a_finding_not_an_exception(tmp_path):
    findings = validate(tmp_path / "nope.json")
    assert [f.rule for f in findings] == ["RTN-E001"]


def test_text_bytes_and_dict_sources_give_the_same_findings():
    raw = (BAD / "dense_bias_short.json").read_bytes()
    from_path = validate(BAD / "dense_bias_short.json")
    assert validate(raw) == from_path
    assert validate(raw.decode()) == from_path
    assert validate(json.loads(raw)) == from_path


def test_validate_does_not_modify_a_dict_it_is_given():
    doc = json.loads((BAD / "conv1d_missing_groups.json").read_text())
    before = copy.deepcopy(doc)
    validate(doc)
    assert doc == before


def test_a_file_over_the_byte_limit_is_refused_without_reading_it():
    findings = validate(GOOD / "mlp.json", limits=Limits(max_file_bytes=100))
    assert [f.rule for f in findings] == ["RTN-E301"]


def test_declared_width_and_parameter_limits_are_configurable():
    assert [f.rule for f in validate(GOOD / "lstm.json", limits=Limits(max_layer_width=2))] == ["RTN-E303"]
    assert [f.rule for f in validate(GOOD / "lstm.json", limits=Limits(max_total_parameters=20))] == [
        "RTN-E304"
    ]


def test_depth_limit_is_configurable():
    findings = validate(GOOD / "conv2d.json", limits=Limits(max_depth=6))
    assert [f.rule for f in findings] == ["RTN-E302"]
    assert findings[0].pointer.startswith("/layers/0/weights/0")


# --- the rule catalogue and the schemas -----------------------------------------------------------------


def test_every_expected_rule_id_is_in_the_catalogue():
    used = {r for entry in EXPECTED.values() for r in entry["rules"]}
    assert used <= set(RULES)


def test_rule_ids_encode_their_severity():
    for rule in RULES.values():
        assert rule.id[4] == {"error": "E", "warning": "W", "info": "I"}[rule.severity]


def test_rule_catalogue_prints_as_a_markdown_table_with_one_row_per_rule(tmp_path):
    # Run outside the checkout, whose source tree (first on sys.path with -m) has no compiled engine.
    run = subprocess.run(
        [sys.executable, "-m", "verifier.format.catalogue"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert run.stderr == ""
    out = run.stdout
    assert out.strip() == markdown_table()
    rows = [line for line in out.splitlines() if line.startswith("| RTN-")]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == list(RULES)


def test_every_shipped_schema_is_valid_draft_2020_12_with_id_title_and_description():
    assert "https://rtneural-verifier.dev/schemas/rtneural-model.schema.json" in schema_ids()
    for schema_id in schema_ids():
        document = schema(schema_id)
        Draft202012Validator.check_schema(document)
        assert document["$id"] == schema_id
        assert document["title"]
        assert document["description"]


def test_schema_is_found_by_name_file_name_or_id():
    by_id = schema("https://rtneural-verifier.dev/schemas/rtneural-model.schema.json")
    assert schema("rtneural-model") is by_id
    assert schema("rtneural-model.schema.json") is by_id
    with pytest.raises(KeyError, match="no schema"):
        schema("no-such-schema")


def test_full_schema_rejects_a_string_weight_that_the_structural_pass_leaves_to_the_numeric_pass():
    doc = json.loads((BAD / "weight_is_string.json").read_text())
    assert not validator("rtneural-model").is_valid(doc)


@pytest.mark.parametrize("name", GOOD_FILES)
def test_good_fixture_is_valid_under_the_full_schema(name):
    validator("rtneural-model").validate(json.loads((GOOD / name).read_text()))


# --- property: validate never raises -------------------------------------------------------------------
# (load agrees with validate on mutated files: tests/test_rule_book.py)

TYPES = st.sampled_from(
    [
        "dense",
        "time-distributed-dense",
        "lstm",
        "gru",
        "conv1d",
        "conv2d",
        "prelu",
        "batchnorm",
        "batchnorm2d",
        "activation",
        "dropout",
    ]
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)
LAYER_LIKE = st.fixed_dictionaries(
    {"type": TYPES, "shape": JSON_VALUES, "weights": JSON_VALUES},
    optional={
        "activation": JSON_VALUES,
        "kernel_size": JSON_VALUES,
        "dilation": JSON_VALUES,
        "groups": JSON_VALUES,
        "epsilon": JSON_VALUES,
    },
)


@given(data=st.binary(max_size=300))
def test_validate_never_raises_on_arbitrary_bytes(data):
    findings = validate(data)
    assert all(f.rule in RULES for f in findings)
    assert errors(findings)  # random bytes are never a model


@given(in_shape=JSON_VALUES, layers=st.lists(LAYER_LIKE | JSON_VALUES, max_size=3))
def test_validate_never_raises_on_arbitrary_json_in_model_keys(in_shape, layers):
    findings = validate({"in_shape": in_shape, "layers": layers})
    assert all(f.rule in RULES for f in findings)
    assert all(resolves({"in_shape": in_shape, "layers": layers}, f.pointer) for f in findings)


def test_a_fifo_is_a_finding_and_validate_returns(tmp_path):
    import os
    import threading

    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    found: list = []
    worker = threading.Thread(target=lambda: found.append(validate(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert found, "validate blocked on a FIFO"
    assert [f.rule for f in found[0]] == ["RTN-E001"]


def test_a_lone_surrogate_key_is_one_printable_finding():
    findings = validate(b'{"in_shape": [null, 1], "\\ud800": 1, "layers": []}')
    assert [(f.rule, f.pointer) for f in findings] == [("RTN-E003", "")]
    str(findings[0].message).encode("utf-8")  # the message itself can be printed


def test_verify_validate_reports_a_duplicated_lone_surrogate_key_as_a_finding_at_its_layer(tmp_path, capsys):
    from verifier.cli import main

    path = tmp_path / "surrogate.json"
    path.write_bytes(
        b'{"in_shape": [null, 1], "layers": [{"type": "activation", "activation": "tanh", '
        b'"shape": [null, 1], "weights": [], "\\ud800": 1, "\\ud800": 2}]}'
    )
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:1:36: error: RTN-E006 /layers/0: duplicate key '\\ud800' with different values" in out


def test_a_4301_digit_integer_is_one_finding_with_its_pointer():
    findings = validate(b'{"in_shape": [null, ' + b"7" * 4301 + b'], "layers": []}')
    assert [(f.rule, f.pointer) for f in findings] == [("RTN-E005", "/in_shape/1")]
