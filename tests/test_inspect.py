"""``verify inspect``: the layer table's figures, the keys of other projects, validate's findings under their
layer, JSON output, exit codes, no crash on any bad fixture, and no torch import."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from peak_memory import MEASURABLE, memory_growth

from verifier.cli import main
from verifier.format.inspect import inspect
from verifier.format.validate import validate

ROOT = Path(__file__).resolve().parent.parent
BAD = sorted((ROOT / "fixtures" / "bad").glob("*.json"))


def _doc(**extra) -> dict:
    """in 3 -> dense 4 tanh -> lstm 2 (activation relu, ignored) -> conv1d 2 (kernel 3, dilation 2)."""
    dense = {
        "type": "dense",
        "activation": "tanh",
        "shape": [None, None, 4],
        "weights": [[[0.1] * 4] * 3, [0.0] * 4],
    }
    lstm = {
        "type": "lstm",
        "activation": "relu",
        "shape": [None, None, 2],
        "weights": [[[0.1] * 8] * 4, [[0.1] * 8] * 2, [0.0] * 8],
    }
    conv = {
        "type": "conv1d",
        "activation": "",
        "shape": [None, None, 2],
        "kernel_size": [3],
        "dilation": [2],
        "groups": 1,
        "weights": [[[[0.1] * 2] * 2] * 3, [0.0] * 2],
    }
    return {"in_shape": [None, None, 3], "layers": [dense, lstm, conv], **extra}


def test_each_row_gives_widths_parameters_bytes_and_state():
    rows = inspect(_doc()).rows
    assert [(r.type, r.in_width, r.out_width) for r in rows] == [
        ("dense", 3, 4),
        ("lstm", 4, 2),
        ("conv1d", 2, 2),
    ]
    # dense 3*4 + 4; lstm 4*8 + 2*8 + 8; conv1d 3*2*2 + 2
    assert [r.parameters for r in rows] == [16, 56, 14]
    assert [r.bytes_float32 for r in rows] == [64, 224, 56]
    assert [r.bytes_float64 for r in rows] == [128, 448, 112]
    # LSTM h and c; conv1d keeps the inputs of (3-1)*2 = 4 past steps, 2 wide
    assert [r.state for r in rows] == [0, 4, 8]


def test_totals_sum_the_rows():
    data = inspect(_doc()).to_dict()
    assert data["totals"] == {
        "layers": 3,
        "parameters": 86,
        "bytes_float32": 344,
        "bytes_float64": 688,
        "state": 12,
        "state_bytes_float32": 48,
        "state_bytes_float64": 96,
    }
    assert (data["in_width"], data["out_width"]) == (3, 2)


def test_an_activation_rtneural_ignores_is_marked_and_its_finding_sits_on_the_row():
    rows = inspect(_doc()).rows
    assert rows[0].activation_applied
    assert not rows[1].activation_applied
    assert [f.rule for f in rows[1].findings] == ["RTN-W001"]
    assert rows[1].findings[0].rtneural == "silently wrong"


def test_keys_of_other_projects_are_named_with_their_writer_and_unknown_keys_as_such():
    extra = inspect(_doc(in_skip=1, input_batch=[0.0], metadata={"name": "x"}, colour="red")).extra_keys
    by_key = {k.key: k for k in extra}
    assert set(by_key) == {"in_skip", "input_batch", "metadata", "colour"}
    assert by_key["in_skip"].writer is not None
    assert "AIDA-X" in by_key["in_skip"].writer
    assert "adds the input" in by_key["in_skip"].meaning
    assert by_key["colour"].writer is None
    assert all("RTNeural ignores it" in k.meaning for k in extra)


def test_an_unreadable_file_is_a_finding_not_an_exception(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"in_shape": [null, null, 1], "layers": [', encoding="utf-8")
    result = inspect(broken)
    assert not result.readable
    assert result.rows == ()
    assert [f.rule for f in result.findings] == ["RTN-E004"]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_every_bad_fixture_is_inspected_without_an_exception_with_validates_findings(path):
    result = inspect(path)
    json.dumps(result.to_dict(), allow_nan=False)
    assert list(result.findings) == validate(path)
    placed = [f for row in result.rows for f in row.findings] + list(result.document_findings)
    assert sorted(map(str, placed)) == sorted(map(str, result.findings))  # each shown exactly once


def test_cli_json_output_is_one_entry_per_file_and_exit_1_for_an_error(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_doc()), encoding="utf-8")
    bad = ROOT / "fixtures" / "bad" / "conv1d_missing_groups.json"
    code = main(["inspect", str(good), str(bad), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [f["path"] for f in out["files"]] == [str(good), str(bad)]
    assert out["files"][1]["errors"] == 1
    assert out["files"][1]["layers"][1]["findings"][0]["rule"] == "RTN-E204"


def test_cli_text_table_and_exit_0_for_a_loadable_file(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_doc(in_skip=1)), encoding="utf-8")
    code = main(["inspect", str(good)])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"/layers/1 +lstm +\(relu, not applied\) +4 -> 2 +56 +224 +448 +4\n", out)
    assert re.search(r"total +3 -> 2 +86 +344 +688 +12\n", out)
    assert "/in_skip [AIDA-X" in out


def test_inspect_imports_no_torch(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_doc()), encoding="utf-8")
    code = (
        "import sys\nfrom verifier.cli import main\n"
        f"rc = main(['inspect', {str(good)!r}])\n"
        "assert 'torch' not in sys.modules, 'inspect imported torch'\nsys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_file_named_like_a_subcommand_is_still_verified(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("inspect").write_text(json.dumps(_doc()), encoding="utf-8")
    main(["inspect", "--no-timing", "--steps", "4", "--no-manifest"])
    out = capsys.readouterr().out
    assert "numeric-frame" in out  # the verify form ran, not the subcommand


@MEASURABLE
def test_inspecting_a_large_file_takes_memory_within_three_times_its_size(tmp_path):
    from verifier.testing.big_files import model_text

    path = tmp_path / "valid.json"
    path.write_text(model_text("valid", 12_000_000))
    growth, (parameters,) = memory_growth(
        "from verifier.format.inspect import inspect\nanswer = [inspect(sys.argv[1]).parameters]", str(path)
    )
    side = json.loads(path.read_text())["in_shape"][-1]
    assert int(parameters) == side * side + side  # the kernel and bias, counted from their shapes
    assert growth <= 3 * path.stat().st_size, (
        f"{growth / 2**20:.0f} MB for {path.stat().st_size / 2**20:.0f} MB"
    )


def _many_layers(path: Path, count: int) -> None:
    layer = '{"type": "dense", "activation": "tanh", "shape": [null, null, 1], "weights": [[[0.5]], [0.0]]}'
    path.write_text('{"in_shape": [null, null, 1], "layers": [' + ",".join([layer] * count) + "]}")


_INSPECT_TO_NOTHING = """
import contextlib, os
from verifier.cli import main
from verifier.format.inspect import inspect
from verifier.report.inspect import inspection_pieces
if sys.argv[2] == "validate":
    validate(sys.argv[1])
else:
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        main(["inspect", sys.argv[1], "--format", sys.argv[2]])
answer = []
"""


@MEASURABLE
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_inspecting_many_layers_takes_little_memory_beyond_validating_them_whatever_the_format(tmp_path, fmt):
    # 20,000 one-line layers (95 bytes each), each with a finding (RTN-W003). The rows' columns and the
    # findings grouped by row take about 100 bytes a layer, once; a row object and its dict per layer, and
    # the whole table or JSON (up to 12x the file) held before writing, took several times the file more.
    path = tmp_path / "many.json"
    _many_layers(path, 20_000)
    validating, _ = memory_growth(_INSPECT_TO_NOTHING, str(path), "validate")
    inspecting, _ = memory_growth(_INSPECT_TO_NOTHING, str(path), fmt)
    assert inspecting - validating <= 2 * path.stat().st_size, (
        f"{(inspecting - validating) / 2**20:.1f} MB beyond validate for {path.stat().st_size / 2**20:.1f} MB"
    )
