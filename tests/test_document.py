"""read_document: every way in, and every malformed input as a ModelFormatError naming source and place."""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.errors import ModelFormatError
from verifier.format.document import read_document
from verifier.format.findings import Limits

DOC = {"in_shape": [None, 1], "layers": [{"type": "dense", "shape": [None, 1], "weights": [[[0.5]]]}]}
TEXT = json.dumps(DOC)


MAX_DEPTH = Limits().max_depth
TINY = Limits(max_file_bytes=10)


def _error(source, limits: Limits | None = None) -> ModelFormatError:
    with pytest.raises(ModelFormatError) as caught:
        read_document(source, limits)
    return caught.value


def test_a_path_string_is_read_and_named_as_given(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(TEXT)
    assert read_document(str(path)) == (DOC, str(path))


def test_a_pathlike_is_read(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(TEXT)
    assert read_document(path) == (DOC, str(path))


def test_text_starting_with_a_brace_is_json():
    assert read_document("  \n" + TEXT) == (DOC, "<string>")


def test_bytes_are_utf8_json():
    assert read_document(TEXT.encode()) == (DOC, "<bytes>")


def test_a_utf8_byte_order_mark_is_accepted():
    assert read_document(b"\xef\xbb\xbf" + TEXT.encode())[0] == DOC


def test_a_dict_is_returned_unmodified_and_uncopied():
    doc = copy.deepcopy(DOC)
    snapshot = copy.deepcopy(doc)
    parsed, name = read_document(doc)
    assert parsed is doc
    assert name == "<dict>"
    assert doc == snapshot


def test_duplicate_keys_are_refused_at_the_duplicated_key():
    error = _error('{"in_shape": [null, 1], "layers": [{"type": "dense", "shape": [1], "type": "lstm"}]}')
    assert error.pointer == "/layers/0/type"
    assert "duplicate key" in error.message
    assert error.source == "<string>"


def test_a_duplicate_top_level_key_with_different_values_is_refused():
    assert _error('{"layers": [], "layers": [1]}').pointer == "/layers"


def test_a_duplicate_key_with_identical_values_is_a_warning_at_the_key():
    warnings: list = []
    text = '{"layers": [{"type": "activation", "activation": "relu", "activation": "relu"}]}'
    doc, _ = read_document(text, warnings=warnings)
    assert doc["layers"][0]["activation"] == "relu"
    assert [(w.rule, w.severity, w.pointer) for w in warnings] == [
        ("RTN-W007", "warning", "/layers/0/activation")
    ]


@pytest.mark.parametrize(
    "copies", ['1, "a": 1.0', '1, "a": true', '[1, 2], "a": [1, 2.0]', '{"b": 1}, "a": {"b": 2}']
)
def test_duplicate_values_that_differ_in_type_or_content_are_refused(copies):
    assert _error('{"a": ' + copies + "}").rule == "RTN-E006"


def test_a_lone_surrogate_in_a_key_or_string_is_refused_where_it_is():
    assert _error('{"layers": [{"\\ud800": 1}]}').pointer == "/layers/0"
    error = _error('{"layers": [{"type": "\\udc00"}]}')
    assert (error.rule, error.pointer) == ("RTN-E003", "/layers/0/type")
    assert _error({"layers": [{"\ud800": 1}]}).rule == "RTN-E003"


def test_an_integer_literal_too_long_to_convert_is_a_format_error():
    assert _error('{"in_shape": [' + "9" * 4301 + "]}").rule == "RTN-E005"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused_where_they_are(literal):
    error = _error('{"in_shape": [null, 1], "layers": [{"weights": [[1.0, ' + literal + "]]}]}")
    assert error.pointer == "/layers/0/weights/0/1"
    assert error.found == literal


def test_a_number_overflowing_to_infinity_is_refused():
    assert _error('{"epsilon": 1e999}').pointer == "/epsilon"


def test_invalid_utf8_is_refused_with_the_byte_offset():
    error = _error(b'{"type": "\xff"}')
    assert "UTF-8" in error.message
    assert "byte 10" in error.message


@pytest.mark.parametrize("source", ["", "   \n", b"", b"  "])
def test_an_empty_document_is_refused(source, tmp_path):
    if isinstance(source, str):  # an empty str is a path; an empty file is the case to test
        path = tmp_path / "empty.json"
        path.write_text(source)
        source = path
    assert "empty" in _error(source).message


def test_a_syntax_error_gives_line_and_column():
    error = _error('{"in_shape": [null, 1],\n  "layers": [}')
    assert "line 2 column 14" in error.message  # the "}" where a value should be
    assert error.pointer == ""


def test_nesting_beyond_the_limit_is_refused_without_recursion_error():
    deep = '{"a": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}"
    error = _error(deep)
    assert "nests too deeply" in error.message
    assert error.pointer.startswith("/a/0/0")


def test_nesting_deeper_than_the_python_parser_allows_is_refused():
    assert "nests too deeply" in _error('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").message


def test_a_deep_dict_is_refused():
    doc: dict = {"a": []}
    node = doc["a"]
    for _ in range(MAX_DEPTH + 5):
        node.append([])
        node = node[0]
    assert "nests too deeply" in _error(doc).message


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(TEXT)
    error = _error(path, TINY)
    assert error.message == "file too large"
    assert error.source == str(path)


def test_text_larger_than_the_limit_is_refused():
    assert "too large" in _error(TEXT, TINY).message


def test_the_depth_limit_is_the_one_given():
    assert _error('{"a": [[[1]]]}', Limits(max_depth=3)).pointer == "/a/0/0"
    assert read_document('{"a": [[1]]}', Limits(max_depth=3))[0] == {"a": [[1]]}


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "3"])
def test_a_top_level_value_other_than_an_object_is_refused(text):
    error = _error(text.encode())
    assert error.expected == "an object"


def test_a_missing_file_is_a_format_error_naming_it(tmp_path):
    path = tmp_path / "absent.json"
    error = _error(path)
    assert error.source == str(path)
    assert "cannot read" in error.message


def test_a_directory_is_a_format_error(tmp_path):
    assert _error(tmp_path).source == str(tmp_path)


def test_dict_keys_must_be_strings():
    assert _error({"layers": [{1: "x"}]}).pointer == "/layers/0"


def test_non_finite_floats_in_a_dict_are_refused_where_they_are():
    assert _error({"layers": [{"epsilon": float("nan")}]}).pointer == "/layers/0/epsilon"


def test_keys_with_slash_and_tilde_are_escaped_in_pointers():
    assert _error({"a/b~c": float("inf")}).pointer == "/a~1b~0c"


def test_other_python_types_are_a_type_error():
    with pytest.raises(TypeError, match="not int"):
        read_document(3)  # type: ignore[arg-type]


@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_document_or_a_format_error(data):
    try:
        parsed, _ = read_document(data)
    except ModelFormatError:
        return
    assert isinstance(parsed, dict)


@given(st.text(max_size=200))
def test_arbitrary_text_gives_a_document_or_a_format_error(text):
    try:
        parsed, _ = read_document("{" + text)
    except ModelFormatError:
        return
    assert isinstance(parsed, dict)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        (b"", "RTN-E002"),
        (b"\xff{}", "RTN-E003"),
        ('{"in_shape": [', "RTN-E004"),
        ('{"a": NaN}', "RTN-E005"),
        ('{"a": 1e999}', "RTN-E005"),
        ('{"a": 1, "a": 2}', "RTN-E006"),
        (b"[1, 2]", "RTN-E102"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "RTN-E302"),
    ],
    ids=["empty", "not-utf8", "syntax", "nan", "overflow", "duplicate", "not-object", "too-deep"],
)
def test_every_reader_error_names_its_validation_rule(source, rule):
    # validate() reports a reader error under this id; it must not have to guess from the message.
    assert _error(source).rule == rule


def test_unreadable_and_oversized_files_name_their_rules(tmp_path):
    assert _error(tmp_path / "missing.json").rule == "RTN-E001"
    path = tmp_path / "big.json"
    path.write_text(TEXT)
    assert _error(path, TINY).rule == "RTN-E301"


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    error = _error(fifo)
    assert (error.rule, error.found) == ("RTN-E001", "a FIFO")
