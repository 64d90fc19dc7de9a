"""Line and column of a JSON pointer in the file's bytes, and the ``path:line:col: error: RULE message``
output. output.

Every expected position below is counted by hand in the text shown.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.cli import main
from verifier.format.reader.positions import Position, locate, locate_in_file, position_from_message

DOC = b"""{
  "in_shape": [null, 4],
  "layers": [
    {"type": "dense", "weights": [[1, 2], [3, 4]]},
    {"type": "d]\\"[{", "shape": [null, 2], "weights": [1.5, 2, 3]}
  ]
}"""


@pytest.mark.parametrize(
    ("pointer", "line", "column"),
    [
        ("", 1, 1),
        ("/in_shape", 2, 3),  # a member is shown at its key
        ("/in_shape/1", 2, 22),
        ("/layers/0/weights/1/1", 4, 47),
        ("/layers/1/shape", 5, 24),  # after a string holding brackets, a brace and an escaped quote
        ("/layers/1/weights/2", 5, 64),
    ],
)
def test_a_pointer_resolves_to_its_line_and_column(pointer, line, column):
    assert locate(DOC, [pointer])[pointer] == Position(line, column)


def test_a_missing_key_resolves_to_the_object_that_should_hold_it():
    assert locate(DOC, ["/layers/1/epsilon"])["/layers/1/epsilon"] == Position(5, 5)


def test_an_index_past_the_end_resolves_to_the_array():
    assert locate(DOC, ["/layers/7"])["/layers/7"] == Position(3, 13)
    assert locate(DOC, ["/layers/1/weights/3"])["/layers/1/weights/3"] == Position(5, 55)


def test_columns_count_characters_not_bytes_and_skip_a_byte_order_mark():
    data = '\ufeff{"näme": 1, "x": 2}'.encode()
    assert locate(data, ["/x"])["/x"] == Position(1, 13)


def test_brackets_and_quotes_in_strings_inside_a_skipped_container_are_text():
    data = b'{"a": [{"n": "]]}\\"["}, ["x{", "}"], []], "b": 1}'
    # counted by hand: `"b"` starts at the 43rd character
    assert locate(data, ["/b"])["/b"] == Position(1, 43)


def test_a_container_that_never_closes_gives_the_start_of_the_file():
    assert locate(b'{"a": [[1, 2], [3, "]"', ["/b"])["/b"] == Position(1, 1)


def test_escaped_pointer_tokens_name_keys_with_slash_and_tilde():
    data = b'{"a/b": 1, "c~d": 2}'
    found = locate(data, ["/a~1b", "/c~0d"])
    assert found == {"/a~1b": Position(1, 2), "/c~0d": Position(1, 12)}


def test_broken_bytes_give_the_start_of_the_file_not_an_exception():
    assert locate(b'{"layers": [1, 2', ["/layers/5"])["/layers/5"] == Position(1, 1)
    assert locate(b"\xff\xfe", ["/a"])["/a"] == Position(1, 1)
    assert locate_in_file("/nonexistent/model.json", ["/a"])["/a"] == Position(1, 1)


def test_a_json_syntax_error_is_placed_where_its_message_says():
    assert position_from_message("invalid JSON at line 12 column 7: Expecting ','") == Position(12, 7)


def test_a_pointer_after_a_large_array_is_found_without_parsing_the_array(monkeypatch):
    big = json.dumps({"layers": [{"weights": [[0.5] * 200_000]}, {"type": "dense"}]}).encode()
    parsed: list[int] = []
    real_loads = json.loads

    def recording_loads(text, *args, **kwargs):
        parsed.append(len(text))
        return real_loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", recording_loads)
    found = locate(big, ["/layers/1/type", "/layers/0/weights/0/199999"])
    assert found["/layers/1/type"].column == big.index(b'"type"') + 1
    assert found["/layers/0/weights/0/199999"].column == big.rindex(b"0.5") + 1
    assert all(length < 20 for length in parsed)  # only keys were decoded


def test_verify_prints_each_finding_as_path_line_col_rule(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        "{\n"
        '  "in_shape": [null, 4],\n'
        '  "layers": [\n'
        '    {"type": "dense", "activation": "linear", "shape": [null, 2],\n'
        '     "weights": [[[1, 2], [3, 4], [5, 6], [7, 8]], [0, 0]]}\n'
        "  ]\n"
        "}\n"
    )
    code = main([str(bad), "--no-manifest", "--no-timing", "--rss-copies", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"\n{bad}:4:23: error: RTN-E106 /layers/0/activation: " in out


# --- cost in proportion to the file (issue 22) -------------------------------------------------------------


def _calls(work) -> int:
    """Function calls (Python and C) made by ``work()``: a count of operations, free of machine noise."""
    count = 0

    def counter(frame, event, arg):
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(counter)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


def test_a_pointer_deep_in_nested_brackets_is_located_without_work_that_grows_with_the_file():
    # The deepest place a finding names (RTN-E302 stops at Limits.max_depth) in files of 5,000 and 20,000
    # nested brackets: what follows that place is never read, so the cost is the same for both.
    pointer = "/0" * 64
    costs = []
    for n in (5_000, 20_000):
        data = b"[" * n + b"]" * n
        assert locate(data, [pointer])[pointer] == Position(1, 65)
        costs.append(_calls(lambda data=data: locate(data, [pointer])))
    assert costs[1] < 1.5 * costs[0], costs


def test_a_finding_in_every_layer_is_located_in_one_walk_of_the_file():
    # One pointer per layer: 4x the layers must cost about 4x (a walk per pointer costs 16x).
    costs = []
    for count in (100, 400):
        layer = {"type": "dense", "activation": "x", "weights": [[[0.5, 0.5]], [0.5]]}
        data = json.dumps({"in_shape": [None, 2], "layers": [layer] * count}).encode()
        pointers = [f"/layers/{i}/activation" for i in range(count)]
        found = locate(data, pointers)
        starts = [m.start() for m in re.finditer(rb'"activation"', data)]
        assert [found[p].column for p in pointers] == [s + 1 for s in starts]
        costs.append(_calls(lambda data=data, pointers=pointers: locate(data, pointers)))
    assert costs[1] < 8 * costs[0], costs


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_position_in_a_fifo_or_a_device_is_given_at_once_not_waited_for(tmp_path, kind):
    # `verify convert FIFO` waited for a writer, and /dev/zero was read without end, in locate_in_file
    path = tmp_path / "model.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    code = (
        "from verifier.format.reader.positions import locate_in_file; "
        f"print(locate_in_file({str(path)!r}, ['/a']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Position(line=1, column=1)" in done.stdout
