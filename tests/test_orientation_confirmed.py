"""A square dense kernel loads in either orientation, so validation alone warns (RTN-W003); once a numeric
comparison with the torch module itself (a factory or a checkpoint) has passed, the orientation is confirmed
and the warning becomes information naming that reference (RTN-I002). Against the JSON's own rebuild,
which reads the kernel as the file writes it, nothing is confirmed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from verifier.checks.results import FAIL, PASS, WARN
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_file
from verifier.checks.validation import orientation_confirmed, validate_check
from verifier.pytorch.export import export
from verifier.report.formats import format_report

FAST = {"timing": False, "rss_copies": 0, "steps": 32}


def _square_model(tmp_path: Path) -> tuple[str, str]:
    """(exported file, checkpoint) of a model whose first dense kernel is 3x3."""
    torch.manual_seed(11)
    module = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    path, checkpoint = tmp_path / "square.json", tmp_path / "square.pt"
    export(module, path)
    torch.save(module, checkpoint)
    return str(path), str(checkpoint)


def _validate(result):
    check = result.check("validate")
    assert check is not None
    return check


def test_a_square_kernel_confirmed_by_the_module_is_information_naming_it_not_a_warning(tmp_path):
    path, checkpoint = _square_model(tmp_path)
    result = verify_file(path, Options(**FAST, against=checkpoint))
    frame = result.check("numeric-frame")
    assert frame is not None
    assert frame.status == PASS
    check = _validate(result)
    assert check.status == PASS
    assert [f["rule"] for f in check.figures["findings"]] == ["RTN-I002"]
    (info,) = check.figures["findings"]
    assert info["pointer"] == "/layers/0/weights/0"
    assert f"checkpoint {checkpoint}" in info["message"]
    assert "confirmed" in info["message"]
    assert check.figures["warnings"] == 0
    assert "RTN-W003" not in format_report(_run_of(result), "text")


def _run_of(result):
    from verifier.checks.results import RunResult

    return RunResult((result,))


def test_a_square_kernel_checked_only_against_the_json_rebuild_stays_a_warning(tmp_path):
    path, _ = _square_model(tmp_path)
    result = verify_file(path, Options(**FAST))
    assert result.reference["kind"] == "json-rebuild"
    check = _validate(result)
    assert check.status == WARN
    assert [f["rule"] for f in check.figures["findings"]] == ["RTN-W003"]


def test_a_transposed_square_kernel_fails_against_the_module_and_keeps_its_warning(tmp_path):
    path, checkpoint = _square_model(tmp_path)
    doc = json.loads(Path(path).read_text())
    kernel = doc["layers"][0]["weights"][0]
    doc["layers"][0]["weights"][0] = [list(column) for column in zip(*kernel, strict=True)]
    Path(path).write_text(json.dumps(doc))
    result = verify_file(path, Options(**FAST, against=checkpoint))
    frame = result.check("numeric-frame")
    assert frame is not None
    assert frame.status == FAIL
    check = _validate(result)
    assert check.status == WARN
    assert [f["rule"] for f in check.figures["findings"]] == ["RTN-W003"]


def test_the_json_rebuild_confirms_nothing(tmp_path):
    path, _ = _square_model(tmp_path)
    check = validate_check(path)
    rebuild = {"kind": "json-rebuild", "summary": "against the JSON's own rebuild"}
    assert orientation_confirmed(check, rebuild) == check
    module = {"kind": "module", "factory": "pkg:square", "summary": "against module pkg:square"}
    confirmed = orientation_confirmed(check, module)
    assert [f["rule"] for f in confirmed.figures["findings"]] == ["RTN-I002"]
    assert "module pkg:square" in confirmed.summary
