"""The first diverging layer: named on every numeric failure, by coremltools' rule (output out of tolerance,
input within), with its step; a dropped layer named as the cause; shown in text, JSON and Markdown."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from verifier.checks.agreement import random_inputs
from verifier.checks.diagnose.diverge import align, annotate, first_divergence
from verifier.checks.results import FAIL, PASS, Check
from verifier.cli import main
from verifier.engine.model import load
from verifier.format.schema.validator import validator
from verifier.pytorch.export import document_bytes, export
from verifier.pytorch.layerwise import units
from verifier.testing.mistakes import corrupt

TOL = {"atol": 1e-4, "rtol": 1e-4}


def _dense_chain() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)).eval()


def _recurrent_chain(num_layers: int = 1) -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Linear(3, 5), nn.LSTM(5, 5, num_layers=num_layers, batch_first=True), nn.Linear(5, 2)
    )


def _diverge(module: nn.Module, doc: dict, pattern: str, steps: int = 16):
    model = load(doc)
    xs = random_inputs(steps, model.in_size, 0)
    return first_divergence(model, doc, units(module, model.in_size), xs, pattern=pattern, **TOL)


@pytest.mark.parametrize("pattern", ["frame", "stream"])
def test_a_transposed_middle_kernel_is_named_not_the_layers_after_it(pattern):
    module = _dense_chain()
    bad = corrupt(export(module), "transposed_kernel", 1)
    found = _diverge(module, bad, pattern)
    assert (found.index, found.pointer, found.type, found.step) == (1, "/layers/1", "dense", 0)
    assert found.module == "2, 3"  # the Sequential's Linear and its ReLU
    assert found.input_max_abs_error is not None
    assert found.input_max_abs_error <= TOL["atol"]
    assert found.max_abs_error is not None
    assert found.max_abs_error > TOL["atol"]


def test_a_correct_export_has_no_diverging_layer():
    module = _dense_chain()
    found = _diverge(module, export(module), "stream")
    assert found.index is None
    assert "within tolerance" in found.cause


def test_a_dropped_layer_is_named_as_the_cause_of_the_entry_after_it():
    module = _dense_chain()
    bad = corrupt(export(module), "dropped_layer", 1)  # the square 8x8 dense: widths still chain
    found = _diverge(module, bad, "frame")
    assert found.index == 1
    assert "`2` (Linear), `3` (ReLU) has no entry in the JSON" in found.cause


def test_a_recurrent_kernel_error_shows_only_in_the_stream_at_its_first_step():
    module = _recurrent_chain()
    doc = export(module)
    doc["layers"][1]["weights"][1] = (np.asarray(doc["layers"][1]["weights"][1]) * 1.5).tolist()
    assert _diverge(module, doc, "frame").index is None  # from zero state h = 0: W_hh does not act
    found = _diverge(module, doc, "stream")
    assert (found.index, found.type, found.step) == (1, "lstm", 1)


def test_each_layer_of_a_stacked_lstm_is_compared_on_its_own():
    module = _recurrent_chain(num_layers=2)
    doc = export(module)
    assert [e["type"] for e in doc["layers"]] == ["dense", "lstm", "lstm", "dense"]
    doc["layers"][2]["weights"][2] = (np.asarray(doc["layers"][2]["weights"][2]) + 0.1).tolist()
    found = _diverge(module, doc, "frame")
    assert (found.index, found.module) == (2, "1[l1]")


def test_activation_entries_line_up_with_folded_or_separate_activation_modules():
    module = _dense_chain()
    doc = export(module)
    split = {"in_shape": doc["in_shape"], "layers": []}
    for entry in doc["layers"]:
        bare = {**entry, "activation": ""}
        split["layers"].append(bare)
        if entry["activation"]:
            width = entry["shape"]
            split["layers"].append(
                {"type": "activation", "activation": entry["activation"], "shape": width, "weights": []}
            )
    chain = units(module, 6)
    assert align(doc, chain).boundary == (2, 4, 5)
    assert align(split, chain).boundary == (1, 2, 3, 4, 5)


def test_annotate_adds_the_layer_to_failing_numeric_checks_only():
    module = _dense_chain()
    bad = corrupt(export(module), "transposed_kernel", 1)
    model = load(bad)
    xs = random_inputs(8, 6, 0)
    checks = [Check("numeric-frame", FAIL, "FAIL x", {}), Check("numeric-stream", PASS, "PASS", {})]
    out = annotate(checks, model, bad, module, xs, **TOL)
    assert out[0].figures["diverging_layer"]["pointer"] == "/layers/1"
    assert "first diverging layer /layers/1 (dense)" in out[0].summary
    assert out[1] == checks[1]


def test_annotate_names_why_when_the_module_cannot_be_taken_apart():
    class Opaque(nn.Module):
        def forward(self, x):
            return x

    bad = export(_dense_chain())
    model = load(bad)
    checks = [Check("numeric-frame", FAIL, "FAIL x", {})]
    out = annotate(checks, model, bad, Opaque(), random_inputs(4, 6, 0), **TOL)
    assert out[0].summary == "FAIL x"
    assert "Opaque" in out[0].figures["diverging_layer_error"]


@pytest.fixture
def corrupted(tmp_path):
    module = _dense_chain()
    path = tmp_path / "bad.json"
    path.write_bytes(document_bytes(corrupt(export(module), "transposed_kernel", 1)))
    checkpoint = tmp_path / "module.pt"
    torch.save(module, checkpoint)
    return path, checkpoint


FAST = ["--no-timing", "--rss-copies", "0", "--steps", "16", "--no-manifest"]


def test_reports_name_the_layer_in_text_json_and_markdown(corrupted, tmp_path, capsys):
    path, checkpoint = corrupted
    assert main([str(path), "--against", str(checkpoint), *FAST]) == 1
    text = capsys.readouterr().out
    assert "first diverging layer /layers/1 (dense) against module 2, 3, frame step 0" in text
    assert main([str(path), "--against", str(checkpoint), *FAST, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not list(validator("report").iter_errors(report))
    checks = {c["name"]: c for c in report["files"][0]["checks"]}
    assert checks["numeric-stream"]["figures"]["diverging_layer"]["index"] == 1
    assert checks["numeric-stream"]["figures"]["diverging_layer"]["pattern"] == "stream"
    assert main([str(path), "--against", str(checkpoint), *FAST, "--format", "markdown"]) == 1
    assert "first diverging layer /layers/1 (dense)" in capsys.readouterr().out


def test_without_against_the_json_rebuild_is_the_reference_and_nothing_diverges(corrupted, capsys):
    path, _ = corrupted
    assert main([str(path), *FAST]) == 0  # the rebuild reads the same (wrong) file: no numeric failure
    assert "diverging" not in capsys.readouterr().out


def test_a_chaotic_models_failure_is_put_down_to_its_sensitivity_not_a_layer():
    from verifier.testing.variants import chaotic_lstm

    module = chaotic_lstm()
    doc = export(module)
    model = load(doc)
    xs = random_inputs(256, 8, 0)
    checks = [Check("numeric-stream", FAIL, "FAIL x", {})]
    out = annotate(checks, model, doc, module, xs, atol=3.2e-5, rtol=3.2e-5)
    figures = out[0].figures["diverging_layer"]
    assert figures["sensitivity"] is not None
    assert figures["sensitivity"] > 3.2e-5
    assert "sensitivity to rounding, not an export mistake" in out[0].summary


def test_a_real_mistake_is_not_put_down_to_sensitivity():
    module = _dense_chain()
    bad = corrupt(export(module), "transposed_kernel", 1)
    checks = [Check("numeric-stream", FAIL, "FAIL x", {})]
    out = annotate(checks, load(bad), bad, module, random_inputs(8, 6, 0), **TOL)
    assert out[0].figures["diverging_layer"]["sensitivity"] is None


def test_which_of_two_same_sized_layers_was_dropped_is_told_by_their_weights():
    torch.manual_seed(5)
    module = nn.Sequential(nn.LSTM(1, 1, num_layers=2, batch_first=True), nn.PReLU())
    bad = corrupt(export(module), "dropped_layer", 1)  # the second LSTM; both are lstm 1 -> 1
    alignment = align(bad, units(module, 1))
    assert [u.name for u in alignment.missing[1]] == ["0[l1]"]
    assert alignment.boundary == (1, 3)


def test_alignment_falls_back_to_kind_and_width_when_the_weights_were_changed_otherwise():
    module = _dense_chain()
    doc = export(module)
    doc["layers"][1]["weights"][0] = (np.asarray(doc["layers"][1]["weights"][0]) * 2).tolist()
    assert align(doc, units(module, 6)).boundary == (2, 4, 5)


# --- the likely cause: a known export mistake undone on the diverging layer --------------------------------


def _gru_chain() -> nn.Module:
    torch.manual_seed(6)
    return nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 6, batch_first=True), nn.Linear(6, 2))


def _conv_chain() -> nn.Module:
    torch.manual_seed(7)
    return nn.Sequential(nn.Conv1d(3, 4, kernel_size=3), nn.Tanh(), nn.Linear(4, 2))


@pytest.mark.parametrize(
    ("build", "mistake", "index", "cause"),
    [
        (_dense_chain, "transposed_kernel", 1, "dense kernel written as PyTorch's weight [out][in]"),
        (
            _gru_chain,
            "gru_gates_not_reordered",
            1,
            "GRU gate blocks in PyTorch's order (r, z, n); the JSON wants Keras's (z, r, h)",
        ),
        (_gru_chain, "gru_biases_summed", 1, "GRU biases summed into one row"),
        (_recurrent_chain, "lstm_bias_unsummed", 1, "LSTM bias is b_ih alone; the JSON wants the sum"),
        (_conv_chain, "conv_kernel_flipped", 0, "conv1d kernel reversed in time"),
    ],
)
def test_a_known_mistake_on_the_diverging_layer_is_named_as_the_likely_cause(build, mistake, index, cause):
    module = build()
    bad = corrupt(export(module), mistake, index, module)
    found = _diverge(module, bad, "stream")
    assert found.index == index
    assert found.mistake == mistake
    assert found.likely_cause is not None
    assert found.likely_cause.startswith(cause)
    assert f"; likely cause: {cause}" in found.summary()


def test_a_layer_wrong_in_no_known_way_gets_no_likely_cause():
    module = _gru_chain()
    doc = export(module)
    doc["layers"][1]["weights"][0] = (np.asarray(doc["layers"][1]["weights"][0]) * 1.5).tolist()
    found = _diverge(module, doc, "stream")
    assert found.index == 1
    assert found.likely_cause is None
    assert "likely cause" not in found.summary()


def test_the_likely_cause_is_in_the_figures_and_every_report_format(tmp_path, capsys):
    module = _gru_chain()
    path = tmp_path / "gru.json"
    path.write_bytes(document_bytes(corrupt(export(module), "gru_gates_not_reordered", 1)))
    checkpoint = tmp_path / "gru.pt"
    torch.save(module, checkpoint)
    cause = "likely cause: GRU gate blocks in PyTorch's order (r, z, n); the JSON wants Keras's (z, r, h)"
    assert main([str(path), "--against", str(checkpoint), *FAST, "--format", "json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["files"][0]["checks"]}
    assert checks["numeric-stream"]["figures"]["likely_cause"].startswith("GRU gate blocks in PyTorch's")
    assert checks["numeric-stream"]["figures"]["diverging_layer"]["mistake"] == "gru_gates_not_reordered"
    for form in ("text", "github", "sarif", "markdown", "junit"):
        assert main([str(path), "--against", str(checkpoint), *FAST, "--format", form]) == 1
        assert cause in capsys.readouterr().out, form


def test_the_testing_catalogue_makes_the_mistakes_the_diagnosis_undoes():
    from verifier.checks.diagnose.mistakes import corrections

    for build, mistake, index in [
        (_dense_chain, "transposed_kernel", 1),
        (_gru_chain, "gru_gates_not_reordered", 1),
        (_conv_chain, "conv_kernel_flipped", 0),
    ]:
        module = build()
        good = export(module)
        bad = corrupt(good, mistake, index)
        undone = {c.mistake: c.entry for c in corrections(bad["layers"][index])}
        assert undone[mistake] == good["layers"][index]
