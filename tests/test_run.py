"""Verdicts of ``verify_file``: what the numeric checks compare with, the tolerance they are held to, and
non-finite outputs. Every run here is ``--no-timing`` with no RSS copies: timings never decide a test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import verdict_modules
from torch import nn

from verifier.checks.results import FAIL, PASS
from verifier.checks.run.options import Options
from verifier.checks.run.verify import verify_file, verify_files
from verifier.format.schema.validator import validator
from verifier.pytorch.export import export
from verifier.pytorch.run import frames, stream
from verifier.report.formats import format_json, format_text
from verifier.report.machine import machine_info

FAST = {"timing": False, "rss_copies": 0, "steps": 32}
TOOL = {"name": "rtneural-verifier", "version": "test", "backend": "test"}


def _run(paths: list[str], options: Options):
    return verify_files(paths, options, tool=TOOL, machine=machine_info())


def _exported(tmp_path: Path, module: nn.Module, name: str = "model.json", **kwargs) -> str:
    path = tmp_path / name
    export(module, path, **kwargs)
    return str(path)


def _checks(result) -> dict:
    return {c.name: c for c in result.checks}


# --- 1. a custom module's forward() is the reference ----------------------------------------------------


def test_a_residual_forward_exported_as_a_chain_fails_naming_the_declared_chain(tmp_path):
    path = _exported(tmp_path, verdict_modules.residual())
    result = verify_file(path, Options(**FAST, against="verdict_modules:residual"))
    checks = _checks(result)
    for name in ("numeric-frame", "numeric-stream"):
        assert checks[name].status == FAIL, checks[name].summary
        assert "forward() is not the chain export_order declares" in checks[name].summary
        # the residual adds x in [-1, 1]: the engine (the chain) misses it by far more than any tolerance
        assert checks[name].figures["max_abs_error"] > 0.1


def test_a_recurrent_residual_fails_per_frame_and_streamed(tmp_path):
    path = _exported(tmp_path, verdict_modules.recurrent_residual())
    result = verify_file(path, Options(**FAST, against="verdict_modules:recurrent_residual"))
    checks = _checks(result)
    assert checks["numeric-frame"].status == FAIL
    assert checks["numeric-stream"].status == FAIL
    assert "export_order" in checks["numeric-stream"].summary


def test_stream_and_frames_of_a_custom_module_are_its_own_forward():
    module = verdict_modules.recurrent_residual()
    xs = np.random.default_rng(0).uniform(-1, 1, (20, 4))
    with torch.no_grad():
        double = module.double()
        own_stream = double(torch.from_numpy(xs)[None])[0].numpy()  # one sequence, batch-first
        own_frames = double(torch.from_numpy(xs)[:, None])[:, 0].numpy()  # 20 one-step sequences
    np.testing.assert_allclose(stream(module, xs), own_stream, rtol=0, atol=1e-14)
    np.testing.assert_allclose(frames(module, xs), own_frames, rtol=0, atol=1e-14)


def test_a_faithful_time_major_module_passes_against_its_own_forward(tmp_path):
    path = _exported(tmp_path, verdict_modules.time_major_chain())
    result = verify_file(path, Options(**FAST, against="verdict_modules:time_major_chain"))
    checks = _checks(result)
    assert checks["numeric-frame"].status == PASS, checks["numeric-frame"].summary
    assert checks["numeric-stream"].status == PASS, checks["numeric-stream"].summary


def test_a_faithful_unpadded_conv_module_passes_though_one_step_is_too_short_for_its_forward(tmp_path):
    path = _exported(tmp_path, verdict_modules.valid_conv())
    result = verify_file(path, Options(**FAST, against="verdict_modules:valid_conv"))
    checks = _checks(result)
    assert checks["numeric-frame"].status == PASS, checks["numeric-frame"].summary
    assert checks["numeric-stream"].status == PASS, checks["numeric-stream"].summary


# --- 2. every report says what was compared -------------------------------------------------------------


def test_without_a_module_the_report_says_it_compared_the_json_with_its_own_rebuild(tmp_path):
    path = _exported(tmp_path, verdict_modules.faithful())
    run = _run([path], Options(**FAST))
    data = json.loads(format_json(run))
    assert data["files"][0]["reference"]["kind"] == "json-rebuild"
    assert list(validator("report").iter_errors(data)) == []
    assert "against the JSON's own rebuild: this checks the engine, not the export" in format_text(run)


def test_a_factory_and_a_checkpoint_are_named_as_module_and_checkpoint(tmp_path):
    path = _exported(tmp_path, verdict_modules.faithful())
    checkpoint = tmp_path / "faithful.pt"
    torch.save(verdict_modules.faithful(), checkpoint)
    by_factory = verify_file(path, Options(**FAST, against="verdict_modules:faithful"))
    by_checkpoint = verify_file(path, Options(**FAST, against=str(checkpoint)))
    assert by_factory.reference["kind"] == "module"
    assert by_factory.reference["factory"] == "verdict_modules:faithful"
    assert by_checkpoint.reference["kind"] == "checkpoint"
    assert by_checkpoint.reference["path"] == str(checkpoint)
    assert by_factory.to_dict()["reference"] == by_factory.reference


def test_the_report_schema_reserves_the_embedded_reference_kind():
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "report.schema.json").read_text())
    kinds = schema["$defs"]["reference"]["properties"]["kind"]["enum"]
    assert set(kinds) == {"module", "checkpoint", "json-rebuild", "embedded"}


# --- 3. the stream tolerance keeps its sqrt(steps / 24) widening -----------------------------------------


def test_a_recurrent_stream_is_held_to_the_widened_tolerance_and_frames_are_not(tmp_path):
    torch.manual_seed(4)
    path = _exported(tmp_path, nn.Sequential(nn.GRU(3, 5, batch_first=True), nn.Linear(5, 2)))
    result = verify_file(path, Options(timing=False, rss_copies=0, steps=240))
    checks = _checks(result)
    # docs/tolerance.md by hand: C=32, eps=2^-24, depth 2 (gru, dense), widest dot product 3+5 = 8 terms
    frame_tol = 32 * 2.0**-24 * 2 * math.sqrt(8)
    assert checks["numeric-frame"].figures["atol"] == pytest.approx(frame_tol, rel=1e-12)
    assert checks["numeric-stream"].figures["atol"] == pytest.approx(frame_tol * math.sqrt(10), rel=1e-12)
    assert checks["numeric-stream"].figures["rtol"] == pytest.approx(frame_tol * math.sqrt(10), rel=1e-12)


# --- 5. NaN and inf are failures, recorded in strict JSON ------------------------------------------------


def _overflowing_softmax(tmp_path: Path) -> str:
    """Linear(4, 6) -> softmax with logits up to ~200: exp overflows float32 (RTNeural subtracts no max)."""
    torch.manual_seed(5)
    module = nn.Sequential(nn.Linear(4, 6), nn.Softmax(dim=-1))
    with torch.no_grad():
        module[0].weight.mul_(400.0)
    return _exported(tmp_path, module, "overflow.json")


def test_a_nan_output_fails_the_numeric_checks_and_plugin_state(tmp_path):
    path = _overflowing_softmax(tmp_path)
    result = verify_file(path, Options(**FAST))
    checks = _checks(result)
    assert checks["numeric-frame"].status == FAIL
    assert checks["numeric-stream"].status == FAIL
    assert "not finite" in checks["numeric-stream"].summary
    assert checks["plugin-state"].status == FAIL, checks["plugin-state"].summary
    assert "no state" not in checks["plugin-state"].summary


def test_a_nan_output_is_written_as_strict_json_with_its_name(tmp_path):
    path = _overflowing_softmax(tmp_path)
    run = _run([path], Options(**FAST))
    text = format_json(run)  # must not raise
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON literal {name}"))
    assert list(validator("report").iter_errors(data)) == []
    figures = next(c for c in data["files"][0]["checks"] if c["name"] == "numeric-stream")["figures"]
    assert figures["max_abs_error"] is None
    assert figures["nonfinite"]["max_abs_error"] == "nan"


# --- 4. chaotic recurrent models: streamed agreement checked as far as the model is reproducible ---------


def _chaotic(seed: int = 0) -> nn.Module:
    """An LSTM with recurrent weights x8 into a sharpened softmax: a 4-ulp input change grows to O(1)."""
    torch.manual_seed(seed)
    module = nn.Sequential(nn.LSTM(4, 32, batch_first=True), nn.Linear(32, 8), nn.Softmax(dim=-1))
    with torch.no_grad():
        module[0].weight_hh_l0.mul_(8.0)
        module[1].weight.mul_(4.0)
    return module.eval()


def test_a_chaotic_model_warns_naming_the_step_where_it_stops_being_reproducible(tmp_path):
    path = _exported(tmp_path, _chaotic(), "chaotic.json")
    result = verify_file(path, Options(timing=False, rss_copies=0, steps=400))
    checks = _checks(result)
    assert checks["numeric-frame"].status == PASS, checks["numeric-frame"].summary
    stream_check = checks["numeric-stream"]
    assert stream_check.status == "warn", stream_check.summary
    k = stream_check.figures["reproducible_steps"]
    assert 0 < k < 400
    assert f"checked only up to step {k}" in stream_check.summary
    assert stream_check.figures["within_horizon"]["n_failing"] == 0
    # the whole-stream figures still show the divergence that was not judged
    assert stream_check.figures["max_abs_error"] > 0.01
    assert not result.failed


def test_an_export_mistake_on_a_chaotic_model_still_fails(tmp_path):
    module = _chaotic()
    path = Path(_exported(tmp_path, module, "chaotic.json"))
    doc = json.loads(path.read_text())
    doc["layers"][0]["weights"][2][0] += 0.05  # one LSTM bias off: visible from the first steps
    path.write_text(json.dumps(doc))
    checkpoint = tmp_path / "chaotic.pt"
    torch.save(module, checkpoint)
    result = verify_file(str(path), Options(timing=False, rss_copies=0, steps=400, against=str(checkpoint)))
    checks = _checks(result)
    assert checks["numeric-frame"].status == FAIL
    assert checks["numeric-stream"].status == FAIL
    assert result.failed


# --- one finding, one report line --------------------------------------------------------------------------


def _bad_activation(tmp_path: Path) -> str:
    torch.manual_seed(0)
    path = _exported(tmp_path, nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), "bad.json")
    Path(path).write_text(Path(path).read_text().replace('"activation":"relu"', '"activation":"relux"'))
    return path


def test_a_structural_error_is_one_annotation_and_one_sarif_result(tmp_path):
    from verifier.report.formats import format_report

    run = verify_files([_bad_activation(tmp_path)], Options(timing=False, rss_copies=0))
    (result,) = run.files
    assert result.failed
    assert _checks(result)["load"].summary == "not loaded: see validate RTN-E106 at /layers/0/activation"
    annotations = [line for line in format_report(run, "github").splitlines() if line.startswith("::error")]
    assert len(annotations) == 1
    assert "title=RTN-E106" in annotations[0]
    sarif = json.loads(format_report(run, "sarif"))
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["RTN-E106"]


def test_a_load_failure_validate_did_not_report_is_reported_by_load_at_its_place(tmp_path, monkeypatch):
    import verifier.checks.run.verify as verify_module
    from verifier.checks.results import Check

    # A validator that misses the finding: the loader's refusal is then the only report of it, kept whole.
    monkeypatch.setattr(verify_module, "validate_check", lambda *_: Check("validate", PASS, "no finding"))
    (result,) = verify_files([_bad_activation(tmp_path)], Options(timing=False, rss_copies=0)).files
    load = _checks(result)["load"]
    assert load.status == FAIL
    assert (load.figures["rule"], load.figures["pointer"]) == ("RTN-E106", "/layers/0/activation")
    assert load.figures["line"] == 2


def test_a_streaming_models_stream_failure_is_not_judged_again_as_plugin_state(tmp_path):
    from verifier.checks.results import SKIP
    from verifier.checks.run.manifest import parse_manifest
    from verifier.testing.mistakes import corrupt

    torch.manual_seed(6)
    module = nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 6, batch_first=True), nn.Linear(6, 2))
    path = tmp_path / "gru.json"
    path.write_text(json.dumps(corrupt(export(module), "gru_gates_not_reordered", 1)))
    checkpoint = tmp_path / "gru.pt"
    torch.save(module, checkpoint)
    entry = {"name": "G", "file": "gru.json", "plugin_call": "stream", "torch_call": "stream"}
    manifest = parse_manifest({"models": [entry]}, tmp_path / "verifier.json")
    options = Options(timing=False, rss_copies=0, steps=32, against=str(checkpoint))
    checks = _checks(verify_file(str(path), options, manifest))
    assert checks["numeric-stream"].status == FAIL
    assert "likely cause: GRU gate blocks in PyTorch's order" in checks["numeric-stream"].summary
    assert checks["plugin-state"].status == SKIP
    assert "numeric-stream fails" in checks["plugin-state"].summary
    assert "reset()" not in checks["plugin-state"].summary
