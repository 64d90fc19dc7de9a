"""read_document: every way in, and every malformed input as a ModelFormatError naming source and place."""

from __future__ import annotations

import copy
import json
import math
import os
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.errors import ModelFormatError
from verifier.format.findings import Limits
from verifier.format.reader.document import read_document
from verifier.format.rules import RULES

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


def test_a_non_finite_float_in_a_row_of_floats_is_refused_at_its_index():
    row = [0.5] * 300
    row[217] = float("-inf")
    weights = [[0.25] * 300, row]
    assert _error({"layers": [{"weights": weights}]}).pointer == "/layers/0/weights/1/217"


def test_the_first_problem_in_document_order_is_reported_across_rows_of_floats():
    weights = [[0.5, float("nan")], [1e400, 0.5]]  # 1e400 is inf
    assert _error({"layers": [{"weights": weights}]}).pointer == "/layers/0/weights/0/1"


def test_keys_with_slash_and_tilde_are_escaped_in_pointers():
    assert _error({"a/b~c": float("inf")}).pointer == "/a~1b~0c"


def test_other_python_types_are_a_type_error():
    with pytest.raises(TypeError, match="not int"):
        read_document(3)  # type: ignore[arg-type]


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


# --- issue 9: every input answered, and only regular files read -------------------------------------------


def test_a_4301_digit_integer_is_a_non_finite_number_finding_not_a_traceback():
    # Python's int() refuses more than 4,300 digits with a ValueError; as a double the number overflows.
    error = _error('{"in_shape": [null, ' + "9" * 4301 + "]}")
    assert error.rule == "RTN-E005"
    assert error.pointer == "/in_shape/1"
    assert "4,301 characters" in error.found


def test_an_integer_beyond_a_double_is_refused_where_it_is():
    assert _error('{"a": [1, -' + "1" * 400 + "]}").pointer == "/a/1"


@pytest.mark.parametrize("digits", [400, 5000])
def test_an_integer_beyond_a_double_in_a_callers_dict_is_a_finding_where_it_is(digits):
    # A dict's ints are Python ints of any size; validate's arithmetic on them (a batchnorm's variance +
    # epsilon) would raise OverflowError, so the reader refuses them as the native reader refuses the text.
    huge = 10 ** (digits - 1)
    error = _error({"in_shape": [None, 2], "layers": [{"epsilon": huge}]})
    assert (error.rule, error.pointer) == ("RTN-E005", "/layers/0/epsilon")


def test_a_huge_integer_epsilon_in_a_dict_is_a_validate_finding_not_an_overflow():
    from verifier.format.validate import validate

    doc = {
        "in_shape": [None, 2],
        "layers": [
            {
                "type": "batchnorm",
                "activation": "",
                "shape": [None, 2],
                "epsilon": 10**400,
                "weights": [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]],
            }
        ],
    }
    assert [(f.rule, f.pointer) for f in validate(doc)][:1] == [("RTN-E005", "/layers/0/epsilon")]


def test_an_integer_of_64_bits_is_read_exactly_as_an_int():
    parsed, _ = read_document('{"a": -9223372036854775808, "b": 9007199254740993}')
    assert parsed == {"a": -(2**63), "b": 2**53 + 1}
    assert type(parsed["b"]) is int


def test_a_tiny_number_underflows_to_zero_as_in_python():
    assert read_document('{"a": 1e-400}')[0]["a"] == 0.0


@pytest.mark.parametrize("escape", [r"\ud800", r"\udc00", r"\ud800\u0041", r"\ud800x"])
def test_a_lone_surrogate_escape_in_a_key_is_not_utf8_at_its_object(escape):
    error = _error('{"layers": [{"' + escape + '": 1}]}')
    assert (error.rule, error.pointer) == ("RTN-E003", "/layers/0")
    assert "unpaired surrogate" in error.message


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        (r'{"layers": [{"\ud800": 1, "\ud800": 2}]}', "/layers/0"),
        (r'{"layers": [{"x\udfffy": [1], "x\udfffy": [2]}]}', "/layers/0"),
        # under a key of no UTF-8 spelling the pointer stops at the object holding that key
        (r'{"\ud800": {"a": 1, "a": 2}}', ""),
    ],
)
def test_a_duplicate_key_beside_a_lone_surrogate_is_a_finding_with_the_key_escaped(text, pointer):
    error = _error(text)
    assert (error.rule, error.pointer) == ("RTN-E006", pointer)
    (error.message + error.found).encode("utf-8")  # printable: no surrogate crossed from the reader
    key = "a" if pointer == "" else json.loads(text)["layers"][0].popitem()[0]
    assert repr(key) in error.message


def test_a_surrogate_pair_escape_is_one_character():
    parsed, _ = read_document(r'{"\ud83c\udfb5": 1}')
    assert list(parsed) == ["\U0001f3b5"]


def test_a_str_holding_a_lone_surrogate_is_refused_as_not_utf8():
    error = _error('{"\ud800": 1}')
    assert error.rule == "RTN-E003"
    assert error.found == "U+D800"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1,}', "Expecting property name enclosed in double quotes"),
        ('{"a" 1}', "Expecting ':' delimiter"),
        ('{"a": [1 2]}', "Expecting ',' delimiter"),
        ('{"a": "x\ty"}', "Invalid control character at"),
        ('{"a": "\\q"}', "Invalid \\escape"),
        ('{"a": "\\u12"}', "Invalid \\uXXXX escape"),
        ('{"a": "open}', "Unterminated string starting at"),
        ('{"a": 01}', "Expecting ',' delimiter"),
        ('{"a": -}', "Expecting value"),
        ('{"a": 1} {}', "Extra data"),
    ],
)
def test_syntax_errors_use_pythons_words(text, message):
    error = _error(text)
    assert error.rule == "RTN-E004"
    assert message in error.message


def test_a_syntax_error_after_a_nan_is_reported_as_the_syntax_error():
    # Python's reader could not read such a file at all; the unreadable part is what to fix first.
    assert _error('{"a": NaN, "b": [}').rule == "RTN-E004"


def test_duplicate_keys_in_a_large_object_are_found():
    members = ", ".join(f'"k{i}": {i}' for i in range(100))
    assert _error("{" + members + ', "k50": 0}').pointer == "/k50"


def test_the_native_reader_agrees_with_json_loads_on_a_real_export(production_exports):
    path = production_exports / "dynamics_engine.json"
    assert read_document(path)[0] == json.loads(path.read_bytes())


def _refused_quickly(path) -> ModelFormatError:
    """read_document(path) in a thread: a reader that blocks (a FIFO without writer) fails the test in 10 s
    instead of hanging the suite."""
    import threading

    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            read_document(path)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)
        else:
            outcome.append(None)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert outcome, f"reading {path} blocked"
    assert isinstance(outcome[0], ModelFormatError), outcome[0]
    return outcome[0]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    error = _refused_quickly(fifo)
    assert (error.rule, error.found) == ("RTN-E001", "a FIFO")
    assert "FIFO" in error.message
    assert "only regular files are read" in error.message


def test_a_character_device_is_refused_without_reading(tmp_path):
    from pathlib import Path

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this system")
    error = _refused_quickly("/dev/zero")
    assert error.rule == "RTN-E001"
    assert "character device" in error.message


def test_a_directory_is_refused_as_not_a_regular_file(tmp_path):
    error = _error(tmp_path)
    assert error.rule == "RTN-E001"
    assert "directory" in error.message


def test_a_dict_key_with_a_lone_surrogate_is_refused_at_its_parent():
    error = _error({"layers": [{"\ud800": 1}]})
    assert (error.rule, error.pointer) == ("RTN-E003", "/layers/0")
    str(error).encode("utf-8")  # printable


def test_a_dict_string_with_a_lone_surrogate_is_refused_where_it_is():
    assert _error({"layers": [{"type": "dense\udc80"}]}).pointer == "/layers/0/type"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=5), children, max_size=4
        )
    ),
    max_leaves=20,
)


@given(
    st.dictionaries(st.text(max_size=5).filter(lambda k: k.isprintable()), _JSON_VALUES, max_size=4),
    st.booleans(),
)
def test_the_native_reader_reads_what_json_dumps_writes_as_json_loads_does(doc, ascii_only):
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=1 if ascii_only else None)
    parsed, _ = read_document(text.encode())
    assert parsed == json.loads(text)
    assert [type(v) for v in parsed.values()] == [type(v) for v in json.loads(text).values()]


_VALID = json.dumps(
    {
        "in_shape": [None, 2],
        "layers": [{"type": "dense", "shape": [None, 2], "weights": [[[0.5, -1.25e-3], [1, 2]], [0.0, 3]]}],
        "k\u00e9y": 'v\\"a',
    }
).encode()
_BYTES = b' \t\n\r{}[]:,"\\-+.0123456789eEaNIfntrul\xc3\xa9\xff\xed\xa0\x80u'


class _Literal:
    """A NaN/Infinity literal where Python's reader read it (equal to nothing, as the rule book says)."""


def _same(a, b) -> bool:
    if type(a) is not type(b) or isinstance(a, _Literal):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _value_problem(node):
    """The first lone surrogate or non-finite number in document order (a key before its value)."""
    if isinstance(node, _Literal) or (isinstance(node, float) and not math.isfinite(node)):
        return "RTN-E005"
    if isinstance(node, str):
        return "RTN-E003" if any(0xD800 <= ord(c) <= 0xDFFF for c in node) else None
    if isinstance(node, dict):
        for key, value in node.items():
            found = _value_problem(key) or _value_problem(value)
            if found:
                return found
    if isinstance(node, list):
        return next((found for found in map(_value_problem, node) if found), None)
    return None


def _python_verdict(data: bytes):
    """What Python's json module reads, judged by the reader's rules: a rule id, or the document."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "RTN-E003"
    if not text.strip(" \t\n\r"):
        return "RTN-E002"
    differing: list[str] = []

    def pairs(items):
        out: dict = {}
        for key, value in items:
            if key in out and not _same(out[key], value):
                differing.append(key)
            out[key] = value
        return out

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=lambda _: _Literal())
    except json.JSONDecodeError:
        return "RTN-E004"
    if not isinstance(doc, dict):
        return "RTN-E102"
    if differing:
        return "RTN-E006"
    return _value_problem(doc) or doc


@given(st.lists(st.tuples(st.integers(0, len(_VALID)), st.sampled_from(_BYTES), st.booleans()), max_size=4))
def test_mutated_documents_get_the_verdict_pythons_json_gives_under_the_same_rules(edits):
    data = bytearray(_VALID)
    for position, byte, insert in edits:
        if insert:
            data.insert(position, byte)
        elif data:
            del data[min(position, len(data) - 1)]
    try:
        verdict = read_document(bytes(data))[0]
    except ModelFormatError as error:
        verdict = error.rule
    assert verdict == _python_verdict(bytes(data))


# --- arbitrary input: a document or a finding, and both outcomes reached ----------------------------------
# Random bytes are almost never a JSON object, so a test fed only noise checks the refusal and next to never
# the document it returns. Every example here also holds a valid object and an edited copy of it, and the
# tests count what they reached.

_OBJECTS = st.builds(
    lambda doc, ascii_only: json.dumps(doc, ensure_ascii=ascii_only),
    st.dictionaries(st.text(max_size=5).filter(lambda k: k.isprintable()), _JSON_VALUES, max_size=4),
    st.booleans(),
)
_EDITS = st.lists(st.tuples(st.integers(0, 400), st.sampled_from(_BYTES), st.booleans()), max_size=3)


def _edited(data: bytes, edits: list[tuple[int, int, bool]]) -> bytes:
    out = bytearray(data)
    for position, byte, insert in edits:
        if insert:
            out.insert(min(position, len(out)), byte)
        elif out:
            del out[min(position, len(out) - 1)]
    return bytes(out)


def _outcome(source: bytes | str) -> str:
    """Read *source*; the document or the refusal must be what Python's json module gives under the reader's
    rules (a nesting deeper than the limit aside: Python has none)."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    try:
        verdict = read_document(source)[0]
    except ModelFormatError as error:
        verdict = error.rule
    if isinstance(verdict, str):
        assert verdict in RULES
        assert verdict == "RTN-E302" or verdict == _python_verdict(data)
        return "refused"
    assert isinstance(verdict, dict)
    assert verdict == _python_verdict(data)
    return "document"


def test_arbitrary_bytes_give_a_document_or_a_format_error():
    reached: Counter[str] = Counter()

    @given(st.binary(max_size=200), _OBJECTS, _EDITS)
    def read(noise: bytes, valid: str, edits: list[tuple[int, int, bool]]) -> None:
        reached["examples"] += 1
        for data in (noise, valid.encode(), _edited(valid.encode(), edits)):
            reached[_outcome(data)] += 1

    read()
    assert reached["document"] >= reached["examples"]  # each valid object at least
    assert reached["refused"] >= reached["examples"] // 2


def test_arbitrary_text_gives_a_document_or_a_format_error():
    reached: Counter[str] = Counter()

    @given(st.text(max_size=200), _OBJECTS, _EDITS)
    def read(noise: str, valid: str, edits: list[tuple[int, int, bool]]) -> None:
        reached["examples"] += 1
        edited = _edited(valid.encode(), edits).decode("utf-8", "surrogateescape")
        # Text starting with a brace is JSON text, not a path; the tail of a valid object makes one again.
        for text in ("{" + noise, "{" + valid[1:], edited if edited.startswith("{") else "{" + edited):
            reached[_outcome(text)] += 1

    read()
    assert reached["document"] >= reached["examples"]
    assert reached["refused"] >= reached["examples"] // 2
