"""The compiled schema predicate answers as jsonschema does, on every shipped schema and instance we can make.

validate, the manifest and the report reader accept an instance on the predicate's word alone and ask
jsonschema only when it says no: a predicate that accepted what jsonschema rejects would let a bad file
through without its finding. So each case here asks both and wants the same answer.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import corpus
import pytest
import rule_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.format.reader.arrays import schema_view
from verifier.format.schema.predicate import compile_predicate
from verifier.format.schema.validator import predicate, schema_ids, validator
from verifier.format.validate import _structural_predicate, _structural_validator

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = sorted(
    p
    for folder in ("good", "bad", "production", "legacy")
    for p in (ROOT / "fixtures" / folder).glob("*.json")
    if p.name not in ("expected.json",)
)
EXAMPLES = max(settings.default.max_examples, 200)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70_000),
    st.sampled_from([0.0, 1.0, -1.0, 1.5, 2.0**40, 1e-300, math.nan, math.inf, -0.0]),
    st.sampled_from(["", "tanh", "relu", "float32", "float64", "pass", "fail", "dense", "x" * 70]),
    st.text(max_size=4),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "type", "models", "name"]), inner)
    ),
    max_leaves=12,
)


def _both(schema_id: str, instance) -> tuple[bool, bool]:
    compiled = predicate(schema_id)
    assert compiled is not None, f"{schema_id} is not compiled: every run would import jsonschema"
    return compiled(instance), validator(schema_id).is_valid(instance)


def _both_structural(doc) -> tuple[bool, bool]:
    view = schema_view(doc)
    compiled = _structural_predicate()
    assert compiled is not None
    return compiled(view), _structural_validator().is_valid(view)


@pytest.mark.parametrize("schema_id", schema_ids())
def test_every_shipped_schema_is_compiled(schema_id):
    assert predicate(schema_id) is not None


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_gets_jsonschemas_answer(path):
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        pytest.skip("not JSON Python reads: the reader refuses it before any schema is asked")
    model, wanted = _both("rtneural-model", doc)
    assert model == wanted
    structural, wanted = _both_structural(doc)
    assert structural == wanted


def test_every_corpus_model_gets_jsonschemas_answer():
    for name in corpus.case_names():  # keras-json models, and torch state dicts the schema rejects
        model = corpus.case(name)["model"]
        for relative in model if isinstance(model, list) else [model]:
            first, second = _both("rtneural-model", corpus.read_json(relative))
            assert first == second, relative
    for name in corpus.case_names("negative_cases"):
        doc = corpus.negative_document(corpus.case(name, "negative_cases"))
        if isinstance(doc, (str, bytes)):
            try:
                doc = json.loads(doc)
            except ValueError:
                continue
        first, second = _both("rtneural-model", doc)
        assert first == second, name


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=rule_book.documents())
def test_a_mutated_model_file_gets_jsonschemas_answer(doc):
    first, second = _both("rtneural-model", doc)
    assert first == second
    first, second = _both_structural(doc)
    assert first == second


def _manifest() -> dict:
    return json.loads((ROOT / "fixtures" / "production" / "manifest.json").read_text(encoding="utf-8"))


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_manifest_gets_jsonschemas_answer(data):
    doc = copy.deepcopy(_manifest())
    for _ in range(data.draw(st.integers(1, 3))):
        rule_book.mutate(data.draw, doc)
    first, second = _both("manifest", doc)
    assert first == second


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(schema_id=st.sampled_from(schema_ids()), instance=JSON_VALUES)
def test_any_json_value_gets_jsonschemas_answer_from_every_schema(schema_id, instance):
    first, second = _both(schema_id, instance)
    assert first == second


@pytest.mark.parametrize(
    ("schema", "instance", "conforms"),
    [
        ({"type": "integer"}, 3.0, True),  # an integral float is an integer
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"enum": [1, "a"]}, True, False),  # True is not 1
        ({"enum": [True]}, 1, False),
        ({"const": [1, 2]}, [1.0, 2], True),
        ({"const": [1]}, [True], False),
        ({"const": {"a": 0}}, {"a": False}, False),
        ({"minimum": 0}, math.nan, True),  # a NaN is below nothing
        ({"exclusiveMinimum": 0}, 0, False),
        ({"maximum": 1}, "2", True),  # bounds concern numbers only
        ({"minItems": 1}, {}, True),
        ({"required": ["a"]}, [], True),
        ({"prefixItems": [{"type": "string"}], "items": False}, ["a", "b"], False),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, ["a", 2], True),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
        ({"pattern": "^a"}, "ba", False),
        ({"pattern": "a"}, "ba", True),  # search, not match
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, False),  # both match: not one
        ({"not": {"minItems": 3, "maxItems": 3}}, [1, 2, 3], False),
        ({"if": {"const": 1}, "then": {"type": "string"}}, 1, False),
        ({"if": {"const": 1}, "else": {"type": "string"}}, 2, False),
        (False, None, False),
        ({"$defs": {"n": {"type": "null"}}, "$ref": "#/$defs/n"}, None, True),
    ],
)
def test_jsonschemas_quirks_are_kept(schema, instance, conforms):
    from jsonschema import Draft202012Validator

    compiled = compile_predicate(schema, {})
    assert compiled is not None
    assert Draft202012Validator(schema).is_valid(instance) is conforms
    assert compiled(instance) is conforms


def test_a_recursive_schema_is_compiled():
    tree = {"$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "$ref": "#/$defs/node"}
    compiled = compile_predicate(tree, {})
    assert compiled is not None
    assert compiled([[], [[]]]) is True
    assert compiled([[], [1]]) is False


@pytest.mark.parametrize(
    "schema",
    [
        {"format": "email"},
        {"patternProperties": {"^a": {}}},
        {"unevaluatedProperties": False},
        {"$ref": "https://elsewhere.example/schema.json"},
        {"$anchor": "x"},
        {"properties": {"a": {"$id": "https://x.example/a", "type": "string"}}},
        {"type": "float"},
        {"pattern": "(unclosed"},
    ],
)
def test_a_schema_outside_the_compiled_subset_is_left_to_jsonschema(schema):
    assert compile_predicate(schema, {}) is None


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """A JSON report of a real run: two models, one of them failing, with latency figures."""
    from verifier.cli import main

    out = tmp_path_factory.mktemp("report") / "report.json"
    files = [
        str(ROOT / "fixtures" / "good" / "mlp.json"),
        str(ROOT / "fixtures" / "bad" / "dense_bias_short.json"),
    ]
    main(["--no-manifest", "--steps", "8", "--format", "json", "-o", str(out), *files])
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_real_report_conforms(report):
    assert _both("report", report) == (True, True)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_mutated_report_gets_jsonschemas_answer(report, data):
    doc = copy.deepcopy(report)
    for _ in range(data.draw(st.integers(1, 3))):
        rule_book.mutate(data.draw, doc)
    first, second = _both("report", doc)
    assert first == second
