"""Budget checks judge the figures they are given (parameter counts, widths, latency, memory) and say by how
much a budget is missed; the production fixtures are what the manifest declares and regenerate byte for byte.

Timing figures are never asserted against thresholds here: latency logic is tested with injected numbers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from verifier import production
from verifier.checks.agreement import Outputs, check_plugin_state
from verifier.checks.budgets import (
    LatencyStats,
    RssMeasurement,
    check_latency,
    check_memory,
    check_memory_total,
    check_parameters,
    check_widths,
    latency_stats,
    torch_parameter_count,
    torch_widths,
)
from verifier.checks.results import FAIL, PASS, SKIP, WARN
from verifier.checks.run.manifest import ManifestError, load_manifest, parse_manifest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "production"


def _linear(i: int, o: int) -> int:
    return i * o + o


def _lstm(i: int, h: int) -> int:  # PyTorch: W_ih, W_hh and two biases
    return 4 * h * (i + h) + 2 * 4 * h


# The layer tables of the design document, counted here by hand (not by the code under test).
TRUE_COUNTS = {
    "EmotionRecognizer": _linear(128, 512) + _linear(512, 256) + _lstm(256, 128) + _linear(128, 64),
    "MelodyTransformer": _linear(64, 256) + _lstm(256, 256) + _linear(256, 256) + _linear(256, 128),
    "HarmonyPredictor": _linear(128, 256) + _linear(256, 128) + _linear(128, 64),
    "DynamicsEngine": _linear(32, 128) + _linear(128, 64) + _linear(64, 16),
    "GroovePredictor": _linear(64, 128) + _linear(128, 64) + _linear(64, 32),
}
CLAIMED = {
    "EmotionRecognizer": 497_664,
    "MelodyTransformer": 412_672,
    "HarmonyPredictor": 74_048,
    "DynamicsEngine": 13_456,
    "GroovePredictor": 19_040,
}


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("name", list(production.CLASSES))
def test_torch_modules_have_the_hand_counted_parameters(name):
    assert torch_parameter_count(production.build(name)) == TRUE_COUNTS[name]


@pytest.mark.parametrize("name", list(production.CLASSES))
def test_manifest_declares_the_true_counts_and_widths(name):
    entry = next(e for e in load_manifest(FIXTURES / "manifest.json").models if e.name == name)
    module = production.build(name)
    assert entry.parameters == TRUE_COUNTS[name]
    assert list(entry.widths) == torch_widths(module)
    assert entry.file.is_file()


def test_claimed_manifest_keeps_the_design_documents_counts_and_every_one_is_wrong():
    claimed = {e.name: e.parameters for e in load_manifest(FIXTURES / "claimed.json").models}
    assert claimed == CLAIMED
    assert all(CLAIMED[name] != TRUE_COUNTS[name] for name in CLAIMED)


def test_the_memory_budget_is_four_mebibytes():
    manifest = load_manifest(FIXTURES / "manifest.json")
    assert manifest.memory_budget_bytes == 4 * 1024 * 1024
    assert load_manifest(FIXTURES / "claimed.json").memory_budget_bytes == manifest.memory_budget_bytes


def test_a_fresh_export_has_the_bytes_the_manifest_pins(tmp_path):
    # The exports are too large to commit (MelodyTransformer is 13 MB of JSON); the manifest pins their
    # SHA-256 instead, so a change in the seeds, the models or the exporter's output shows up here.
    pinned = {e["name"]: e["sha256"] for e in json.loads((FIXTURES / "manifest.json").read_text())["models"]}
    written = production.write_exports(tmp_path)
    assert {item.model for item in written} == set(pinned)
    for item in written:
        digest = hashlib.sha256(item.path.read_bytes()).hexdigest()
        assert digest == pinned[item.model], f"{item.path.name}: export bytes changed (sha256 {digest})"


def test_seeded_weights_are_deterministic_and_differ_between_models():
    a, b = production.build("DynamicsEngine"), production.build("DynamicsEngine")
    assert all(
        np.array_equal(x.detach(), y.detach()) for x, y in zip(a.parameters(), b.parameters(), strict=True)
    )
    other = production.build("DynamicsEngine", seed=7)
    assert not np.array_equal(a.fc1.weight.detach(), other.fc1.weight.detach())


def test_one_call_is_one_step_from_zero_state():
    import torch

    model = production.build("EmotionRecognizer")
    x = torch.linspace(-1, 1, 128)
    with torch.no_grad():
        one = model(x)
        seq = model(torch.stack([x, x])[None])  # a two-step stream: the second step sees state
    assert torch.allclose(one, seq[0, 0])
    assert not torch.allclose(one, seq[0, 1])


# ---------------------------------------------------------------------------------------------- manifest


def test_invalid_manifest_names_the_place(tmp_path):
    data = json.loads((FIXTURES / "manifest.json").read_text())
    data["models"][1]["parameters"] = -5
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, tmp_path / "m.json")
    assert info.value.pointer == "/models/1/parameters"


def test_manifest_that_is_not_json_is_a_manifest_error(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="invalid JSON at line 1 column 2"):
        load_manifest(bad)


# ---------------------------------------------------------------------------------------------- parameters


def test_claimed_count_fails_and_says_by_how_much():
    check = check_parameters(json_count=402_752, folded=512, declared=497_664, torch_count=403_264)
    assert check.status == FAIL
    assert "declared 497,664 but the model has 403,264 (declared is off by +94,400, +23.4%)" in check.summary
    assert check.figures["declared_error"] == 94_400


def test_json_count_is_compared_as_torch_count_after_folding_the_lstm_biases():
    check = check_parameters(json_count=402_752, folded=512, declared=403_264, torch_count=403_264)
    assert check.status == PASS
    assert "512 LSTM bias numbers are summed" in check.summary


def test_a_json_missing_weights_disagrees_with_the_torch_module():
    check = check_parameters(json_count=13_456, folded=0, torch_count=13_520)
    assert check.status == FAIL
    assert "(-64)" in check.summary


def test_declared_json_count_is_checked_too():
    check = check_parameters(json_count=640_640, folded=1024, declared=641_664, declared_json=641_664)
    assert check.status == FAIL
    assert "declared 641,664 numbers in the JSON but it carries 640,640" in check.summary


# ---------------------------------------------------------------------------------------------- widths


def test_widths_pass_when_all_three_agree_and_fail_naming_the_mismatch():
    ok = check_widths(
        in_size=32,
        out_size=16,
        widths=[128, 64, 16],
        declared_in=32,
        declared_out=16,
        declared_widths=[128, 64, 16],
        torch=[128, 64, 16],
    )
    assert ok.status == PASS
    assert ok.summary == "32 -> 128 -> 64 -> 16"
    bad = check_widths(in_size=32, out_size=16, widths=[128, 64, 16], declared_widths=[128, 32, 16])
    assert bad.status == FAIL
    assert "declared [128, 32, 16]" in bad.summary


# ---------------------------------------------------------------------------------------------- latency


def _stats(p99_ms: float, *, reset_each: bool) -> LatencyStats:
    p99 = p99_ms * 1e6
    return LatencyStats(reset_each, 1000, 100, p99 / 2, p99, p99 / 2, p99 / 4, p99 * 3, p99 / 2)


def test_latency_stats_percentiles_of_known_samples():
    stats = latency_stats(np.arange(1, 101), reset_each=False, warmup=5)
    assert stats.p50_ns == pytest.approx(50.5)  # numpy's linear interpolation between 50 and 51
    assert stats.p99_ns == pytest.approx(99.01)
    assert (stats.min_ns, stats.max_ns, stats.steps) == (1, 100, 100)
    assert stats.spread_ns == pytest.approx(99.01 - 50.5)


def test_latency_over_budget_fails_and_says_by_how_much():
    check = check_latency(_stats(4.0, reset_each=True), _stats(12.5, reset_each=False), 10e6)
    assert check.status == FAIL
    assert "exceeds the 10.00 ms budget by 2.50 ms (+25.0%)" in check.summary
    assert check.figures["headroom_ns"] == pytest.approx(-2.5e6)


def test_latency_within_budget_passes_with_its_headroom():
    check = check_latency(_stats(0.2, reset_each=True), _stats(0.1, reset_each=False), 10e6)
    assert check.status == PASS
    assert "2% of it" in check.summary


def test_latency_without_budget_reports_figures_only():
    assert check_latency(_stats(50, reset_each=True), _stats(50, reset_each=False), None).status == PASS


# ---------------------------------------------------------------------------------------------- memory


def test_memory_total_over_budget_fails_and_says_by_how_much():
    check = check_memory_total({"A": 3_000_000, "B": 1_600_000}, 4_194_304, budget_text="4 MB (4 MiB)")
    assert check.status == FAIL
    assert (
        "4,600,000 bytes for 2 models exceeds the 4 MB (4 MiB) budget (4,194,304 bytes) by 405,696 bytes"
        in check.summary
    )
    assert check.figures["over_bytes"] == 405_696


def test_memory_total_within_budget_passes_with_what_is_left():
    check = check_memory_total({"A": 1_000_000}, 4_194_304)
    assert check.status == PASS
    assert "3,194,304 to spare" in check.summary


def test_memory_total_is_not_judged_when_a_model_was_not_checked():
    check = check_memory_total({"A": 1}, 4_194_304, missing=["B"])
    assert check.status == SKIP
    assert "B" in check.summary


def test_memory_cross_check_warns_when_rss_disagrees_with_the_engine():
    agree = RssMeasurement(copies=50, rss_before=0, rss_after=50 * 110_000)
    disagree = RssMeasurement(copies=50, rss_before=0, rss_after=50 * 900_000)
    assert check_memory(100_000, agree, dtype="float32", param_count=20_000).status == PASS
    assert check_memory(100_000, disagree, dtype="float32", param_count=20_000).status == WARN


def test_engine_holding_less_than_its_weights_is_a_failure():
    check = check_memory(1000, None, dtype="float32", param_count=13_520)
    assert check.status == FAIL
    assert "54,080" in check.summary


# ---------------------------------------------------------------------------------------------- plugin state


def _outputs(stream_shift: float) -> Outputs:
    frame = np.zeros((4, 2))
    return Outputs(
        expected_frame=frame,
        expected_stream=frame + stream_shift,
        actual_frame=frame,
        actual_stream=frame + stream_shift,
    )


def test_streaming_plugin_against_per_call_pytorch_is_a_finding_with_its_figure():
    check = check_plugin_state(_outputs(0.25), atol=1e-5, rtol=0, plugin_call="stream", torch_call="frame")
    assert check.status == FAIL
    assert "the plugin gets the streamed output" in check.summary
    assert "differ by up to 0.25" in check.summary
    assert "reset() before every forward()" in check.summary
    assert check.figures["stream_vs_frame_max_abs"] == pytest.approx(0.25)


def test_plugin_resetting_each_call_matches_per_call_pytorch():
    check = check_plugin_state(
        _outputs(0.25), atol=1e-5, rtol=0, plugin_call="reset-each-call", torch_call="frame"
    )
    assert check.status == PASS
    assert "per-frame output" in check.summary
    assert "0.25" in check.summary


def test_stateless_model_passes_either_way():
    assert (
        check_plugin_state(_outputs(0.0), atol=1e-5, rtol=0, plugin_call="stream", torch_call="frame").status
        == PASS
    )


def test_unknown_call_patterns_report_the_difference_without_judging():
    check = check_plugin_state(_outputs(0.25), atol=1e-5, rtol=0, plugin_call=None, torch_call=None)
    assert check.status == PASS
    assert "0.25" in check.summary


def test_plugin_state_is_not_judged_when_the_engines_stream_itself_fails():
    check = check_plugin_state(
        _outputs(0.25), atol=1e-5, rtol=0, plugin_call="stream", torch_call="frame", disagreeing=["stream"]
    )
    assert check.status == SKIP
    assert "numeric-stream fails" in check.summary
    assert "reset()" not in check.summary


def test_plugin_state_is_judged_when_only_a_pattern_it_does_not_compare_fails():
    check = check_plugin_state(
        _outputs(0.25),
        atol=1e-5,
        rtol=0,
        plugin_call="reset-each-call",
        torch_call="frame",
        disagreeing=["stream"],
    )
    assert check.status == PASS


def test_a_gap_between_the_same_patterns_is_not_put_down_to_the_call_pattern():
    # A streaming plugin and a streaming PyTorch that disagree: resetting would not help, and the manifest
    # says the plugin streams.
    outputs = Outputs(
        expected_frame=np.zeros((4, 2)),
        expected_stream=np.full((4, 2), 0.5),
        actual_frame=np.zeros((4, 2)),
        actual_stream=np.full((4, 2), 0.25),
    )
    check = check_plugin_state(outputs, atol=1e-5, rtol=0, plugin_call="stream", torch_call="stream")
    assert check.status == FAIL
    assert "not a call-pattern problem" in check.summary
    assert "reset()" not in check.summary


def test_rss_growth_of_fresh_process_copies_matches_the_engines_count(production_exports, load):
    # The cross-check's accuracy: 50 copies of a 1.6 MB model grow a fresh process by what the engine says
    # it holds, within a few percent (page rounding, allocator headers).
    from verifier.checks.budgets import measure_rss_in_fresh_process

    path = str(production_exports / "emotion_recognizer.json")
    held = load(path, "float32").bytes_held
    rss = measure_rss_in_fresh_process(path, "float32", 50)
    assert rss.copies == 50
    assert 0.9 <= rss.per_copy / held <= 1.1


PRODUCTION_FILES = (
    "dynamics_engine.json",
    "emotion_recognizer.json",
    "groove_predictor.json",
    "harmony_predictor.json",
    "melody_transformer.json",
)


def test_one_rss_process_measures_every_model_as_accurately_as_fifty_copies_each(production_exports, load):
    # The same band as one process per model with 50 copies each: one model measured after another in the
    # same process neither under-reads (memory freed by the previous model reused) nor over-reads.
    from verifier.checks.budgets import measure_rss_of_files

    paths = [str(production_exports / name) for name in PRODUCTION_FILES]
    measured = measure_rss_of_files(paths, "float32", 50)
    for path, rss in zip(paths, measured, strict=True):
        assert isinstance(rss, RssMeasurement), rss
        held = load(path, "float32").bytes_held
        assert 0.9 <= rss.per_copy / held <= 1.1, (path, rss.per_copy / held)


def test_rss_copies_per_model_reach_the_target_growth_within_the_asked_count(production_exports, load):
    from verifier.checks.budgets import RSS_MIN_COPIES, RSS_TARGET_BYTES, measure_rss_of_files

    paths = [str(production_exports / name) for name in PRODUCTION_FILES]
    measured = dict(zip(PRODUCTION_FILES, measure_rss_of_files(paths, "float32", 50), strict=True))
    for name, rss in measured.items():
        assert isinstance(rss, RssMeasurement)
        held = load(str(production_exports / name), "float32").bytes_held
        assert RSS_MIN_COPIES <= rss.copies <= 50
        # as few copies as reach the target, or all 50 when even 50 do not
        assert rss.copies == 50 or (rss.copies - 1) * held < RSS_TARGET_BYTES <= rss.copies * held
    # the 2.6 MB model reaches the target in a few copies; the 56 KB one needs all 50
    assert measured["melody_transformer.json"].copies < 10
    assert measured["dynamics_engine.json"].copies == 50
    assert measured["dynamics_engine.json"].rss_after - measured["dynamics_engine.json"].rss_before > 0


def test_rss_copies_never_exceed_what_was_asked(production_exports):
    from verifier.checks.budgets import measure_rss_of_files

    (rss,) = measure_rss_of_files([str(production_exports / "dynamics_engine.json")], "float32", 3)
    assert isinstance(rss, RssMeasurement)
    assert rss.copies == 3


def test_a_file_the_rss_process_cannot_load_costs_only_its_own_measurement(production_exports, tmp_path):
    from verifier.checks.budgets import measure_rss_of_files

    good = str(production_exports / "dynamics_engine.json")
    measured = measure_rss_of_files([str(tmp_path / "absent.json"), good], "float32", 4)
    assert isinstance(measured[0], RuntimeError)
    assert "absent.json" in str(measured[0])
    assert "FileNotFoundError" in str(measured[0])
    assert isinstance(measured[1], RssMeasurement)
    assert measured[1].copies == 4


def test_a_failing_rss_process_is_an_error_naming_the_cause(tmp_path):
    from verifier.checks.budgets import measure_rss_in_fresh_process

    with pytest.raises(RuntimeError, match="RSS cross-check process failed"):
        measure_rss_in_fresh_process(str(tmp_path / "absent.json"), "float32", 2)
