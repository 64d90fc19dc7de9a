"""One rule book: ``load`` refuses every bad file with the rule id and JSON pointer of ``validate``'s first
error, under the same Limits; every id the native loader uses is a rule of the catalogue.

The agreement is checked on every bad fixture, every corpus probe, and mutated valid files (widths up to a
few hundred; the example count follows the Hypothesis profile: at least 300, 10,000 under ``thorough``).
``python tools/measure_rule_book.py 10000`` measures it over a fixed number of mutated files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import _verifier_engine as engine
import corpus
import pytest
import rule_book
from hypothesis import HealthCheck, given, settings

from verifier.engine.model import load
from verifier.errors import ModelFormatError
from verifier.format.findings import Limits
from verifier.format.rules import RULES
from verifier.format.validate import validate

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
BAD_FILES = sorted(p.name for p in BAD.glob("*.json") if p.name != "expected.json")
EXAMPLES = max(settings.default.max_examples, 300)


@pytest.mark.parametrize("name", BAD_FILES)
def test_load_refuses_a_bad_fixture_with_the_rule_and_pointer_of_validates_first_error(name):
    first, refusal = rule_book.verdicts(BAD / name)
    assert refusal == first


@pytest.mark.parametrize("name", corpus.case_names("negative_cases"))
def test_load_refuses_a_corpus_probe_with_the_rule_and_pointer_of_validates_first_error(name):
    first, refusal = rule_book.verdicts(corpus.negative_document(corpus.case(name, "negative_cases")))
    assert refusal == first


# Not derandomised even under the ci profile: each run draws other files (a failure prints its blob to
# reproduce it), so that CI runs keep widening the sample instead of repeating the same 300.
@settings(
    max_examples=EXAMPLES,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(doc=rule_book.documents(), limits=rule_book.limits())
def test_load_refuses_a_mutated_file_with_the_rule_and_pointer_of_validates_first_error(doc, limits):
    first, refusal = rule_book.verdicts(doc, limits)
    assert refusal == first
    # The same document as a file's text: the native reader, and validate on its skeleton.
    assert rule_book.verdicts(rule_book.as_text(doc), limits) == (first, refusal)


@settings(max_examples=EXAMPLES // 3, suppress_health_check=[HealthCheck.too_slow])
@given(doc=rule_book.valid_documents())
def test_a_generated_valid_document_validates_clean_and_loads(doc):
    assert [f for f in validate(doc) if f.severity == "error"] == []
    load(doc)


def test_every_rule_id_of_the_native_loader_is_in_the_catalogue_with_its_severity():
    severities = {"E": "error", "W": "warning", "I": "info"}
    for rule_id in engine.RULE_IDS:
        assert rule_id in RULES, rule_id
        assert RULES[rule_id].severity == severities[rule_id[4]]


def test_load_takes_the_limits_validate_takes(tmp_path):
    doc = json.loads((BAD.parent / "good" / "mlp.json").read_text())
    tight = Limits(max_layer_width=4)
    first, refusal = rule_book.verdicts(doc, tight)
    assert first is not None
    assert first[0] == "RTN-E303"
    assert refusal == first
    load(doc)  # the default limits admit it


# --- hostile declared sizes: refused before anything is allocated from them ----------------------------


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return path


def _conv1d(kernel_size: int, dilation: int, width: int = 1) -> dict:
    entry = {
        "type": "conv1d",
        "activation": "",
        "shape": [None, None, width],
        "kernel_size": [kernel_size],
        "dilation": [dilation],
        "weights": [[[[0.5] * width] * width] * kernel_size, [0.0] * width],
    }
    return {"in_shape": [None, None, width], "layers": [entry]}


def _conv2d(**sizes: int) -> dict:
    keys = {"kernel_size_time": 1, "kernel_size_feature": 1, "dilation": 1, "strides": 1, "num_filters_in": 1}
    keys |= {"num_features_in": 4, "num_filters_out": 1, **sizes}
    frame = keys["num_features_in"] * keys["num_filters_in"]
    entry = {"type": "conv2d", "shape": [None, 4, 1], "padding": "valid", "weights": [[[[[0.5]]]], [0.0]]}
    return {"in_shape": [None, frame], "layers": [{**entry, **keys}]}


@pytest.mark.parametrize(
    ("doc", "rule", "pointer"),
    [
        (_conv1d(2, 2**20), "RTN-E303", "/layers/0/dilation"),
        (
            _conv2d(kernel_size_time=65_536, kernel_size_feature=4, num_filters_out=4096),
            "RTN-E304",
            "/layers/0",
        ),
        (_conv2d(kernel_size_time=256, dilation=65_536), "RTN-E305", "/layers/0"),
        (_conv1d(256, 65_536), "RTN-E305", "/layers/0"),
        (
            {
                "in_shape": [None, None, 65_536],
                "layers": [{"type": "dense", "shape": [None, None, 65_536], "weights": [[[0.5]], [0.5]]}],
            },
            "RTN-E304",
            "/layers/0",
        ),
        (
            {
                "in_shape": [None, None, 4096],
                "layers": [{"type": "activation", "activation": "tanh", "shape": [None, 4096], "weights": []}]
                * 300,
            },
            "RTN-E305",
            "/layers/256",
        ),
    ],
    ids=[
        "conv1d-dilation-2^20",
        "conv2d-kernel-2^40",
        "conv2d-history-67M",
        "conv1d-history-16M",
        "dense-65536-squared",
        "300-wide-outputs",
    ],
)
def test_a_small_file_declaring_huge_sizes_is_refused_by_both_with_one_rule(tmp_path, doc, rule, pointer):
    path = _write(tmp_path, doc)
    assert path.stat().st_size < 300_000
    first, refusal = rule_book.verdicts(path)
    assert first == refusal == (rule, pointer)


def test_declared_sizes_allowed_by_the_limits_allocate_only_what_the_file_holds(tmp_path):
    # Limits raised far beyond the defaults: the loader reads the two rows the file has and refuses the
    # kernel's shape, instead of reserving 2^32 weights first (which raised MemoryError / bad_alloc).
    huge = Limits(max_total_parameters=10**13, max_state_values=10**6)
    doc = {
        "in_shape": [None, None, 65_536],
        "layers": [{"type": "dense", "shape": [None, None, 65_536], "weights": [[[0.5] * 65_536] * 2]}],
    }
    with pytest.raises(ModelFormatError) as caught:
        load(_write(tmp_path, doc), limits=huge)
    assert (caught.value.rule, caught.value.pointer) == ("RTN-E201", "/layers/0/weights/0")


def test_a_conv2d_with_same_padding_and_a_kernel_wider_than_the_frame_is_refused_by_both():
    first, refusal = rule_book.verdicts(BAD / "conv2d_same_kernel_wider_than_frame.json")
    assert first == refusal == ("RTN-E207", "/layers/3/kernel_size_feature")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("null_activation_on_lstm.json", "RTN-W006"),
        ("null_activation_on_gru.json", "RTN-W006"),
        ("duplicate_key_same_value.json", "RTN-W007"),
    ],
)
def test_what_rtneural_runs_fine_loads_with_a_warning(name, rule):
    assert [f.rule for f in validate(BAD / name)] == [rule]
    assert rule in load(BAD / name).warning_rules


# --- the classes issue 16's campaign found, each pinned on every layer type, as a dict and as text ---------

_W = [[0.5, -0.25], [0.125, 1.0]]
_ENTRIES = {
    "dense": {"activation": "", "weights": [_W, [0.0, 0.0]]},
    "conv1d": {"activation": "", "kernel_size": [1], "dilation": [1], "weights": [[_W], [0.0, 0.0]]},
    "lstm": {"activation": "tanh", "weights": [[[0.5] * 8] * 2, [[0.5] * 8] * 2, [0.0] * 8]},
    "gru": {"activation": "tanh", "weights": [[[0.5] * 6] * 2, [[0.5] * 6] * 2, [[0.0] * 6] * 2]},
    "prelu": {"weights": [[[0.25, 0.25]]]},
    "batchnorm": {"epsilon": 0.001, "weights": [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]},
    "activation": {"activation": "tanh", "weights": []},
}


def _model(kind: str, **changes: object) -> dict:
    entry = {"type": kind, "shape": [None, None, 2], **copy.deepcopy(_ENTRIES[kind]), **changes}
    return {"in_shape": [None, None, 2], "layers": [entry]}


def _both_ways(doc: dict) -> set:
    """The verdicts of validate and load on ``doc`` as a dict and as the JSON text of a file."""
    return set(rule_book.verdicts(doc)) | set(rule_book.verdicts(rule_book.as_text(doc)))


def test_every_layer_type_of_these_tests_is_valid():
    for kind in _ENTRIES:
        assert _both_ways(_model(kind)) == {None}, kind


@pytest.mark.parametrize("width", [65_537, 100_000, 2**20 - 1, 2**20])
@pytest.mark.parametrize("kind", sorted(_ENTRIES))
def test_a_width_beyond_the_limit_but_within_2_to_the_20_is_refused_by_both_at_the_shape(kind, width):
    assert _both_ways(_model(kind, shape=[None, None, width])) == {("RTN-E303", "/layers/0/shape")}
    doc = _model(kind)
    doc["in_shape"] = [None, None, width]
    assert _both_ways(doc) == {("RTN-E303", "/in_shape")}


@pytest.mark.parametrize("width", [65_537, 2**20])
@pytest.mark.parametrize("key", ["kernel_size", "dilation"])
def test_a_convolution_size_beyond_the_limit_is_refused_by_both_at_its_key(key, width):
    assert _both_ways(_model("conv1d", **{key: [width]})) == {("RTN-E303", f"/layers/0/{key}")}


@pytest.mark.parametrize("value", [[0, 3], [3, 0], [0], [1, 0, 3], [-1, 3], [0, 70_000]])
@pytest.mark.parametrize("key", ["kernel_size", "dilation"])
def test_a_size_list_holding_a_zero_is_refused_by_both_at_its_key(key, value):
    assert _both_ways(_model("conv1d", **{key: value})) == {("RTN-E103", f"/layers/0/{key}")}


@pytest.mark.parametrize("surrogate", ["\ud800", "tanh\udc00"])
@pytest.mark.parametrize("kind", sorted(_ENTRIES))
def test_a_lone_surrogate_activation_is_refused_by_both_on_every_layer_type(kind, surrogate):
    assert _both_ways(_model(kind, activation=surrogate)) == {("RTN-E003", "/layers/0/activation")}


@pytest.mark.parametrize("kind", sorted(_ENTRIES))
def test_a_lone_surrogate_key_is_refused_by_both_at_its_entry(kind):
    doc = _model(kind)
    doc["layers"][0]["\udfff"] = "tanh"
    assert _both_ways(doc) == {("RTN-E003", "/layers/0")}


def test_a_dict_is_checked_in_document_order_keys_included_as_its_text_is():
    # The key comes after the weights: the integer beyond any double is met first, in the text as in the dict.
    doc = _model("dense")
    doc["layers"][0]["weights"][1][0] = 10**400
    doc["layers"][0]["\ud800"] = "x"
    assert _both_ways(doc) == {("RTN-E005", "/layers/0/weights/1/0")}
