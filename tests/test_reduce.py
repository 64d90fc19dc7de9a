"""``verify reduce``: each of the seven known export mistakes on a production-sized model reduces to the one
faulty layer; the repro folder replays the failure alone (and passes once fixed); a chaotic model is not
reduced; shrinking is bisection then one step at a time; exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from verifier.checks.diagnose.reduce import ReduceError, reduce, shrink
from verifier.checks.diagnose.repro import ReproError, replay, write_repro
from verifier.cli import main
from verifier.production import build
from verifier.pytorch.export import document_bytes, export
from verifier.testing import variants
from verifier.testing.mistakes import MISTAKES, corrupt

# One production-sized case per mistake: (factory, the corrupted entry). The production models hold only
# Linear and LSTM layers; the GRU and conv1d mistakes use same-sized variants (verifier.testing.variants).
CASES = {
    "transposed_kernel": ("melody_transformer", 2),  # its 256x256 dense: the only square kernel
    "lstm_bias_unsummed": ("emotion_recognizer", 2),
    "gru_gates_not_reordered": ("melody_transformer_gru", 1),
    "gru_biases_summed": ("melody_transformer_gru", 1),
    "conv_kernel_flipped": ("groove_predictor_conv", 1),
    "missing_groups": ("groove_predictor_conv", 0),
    "dropped_layer": ("melody_transformer", 2),
}
FACTORIES = {
    "melody_transformer": lambda: build("MelodyTransformer"),
    "emotion_recognizer": lambda: build("EmotionRecognizer"),
    "melody_transformer_gru": variants.melody_transformer_gru,
    "groove_predictor_conv": variants.groove_predictor_conv,
}


def test_the_cases_cover_every_known_mistake():
    assert set(CASES) == set(MISTAKES)


@pytest.fixture(scope="module")
def reductions():
    found = {}
    for mistake, (factory, index) in CASES.items():
        module = FACTORIES[factory]()
        bad = corrupt(export(module), mistake, index, module)
        found[mistake] = (reduce(bad, module, steps=64), bad, module, index)
    return found


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_export_mistake_reduces_to_the_one_faulty_layer(mistake, reductions):
    reduction, bad, _, index = reductions[mistake]
    assert reduction.layers == (index, index + 1)
    assert reduction.faulty_layer == index
    assert reduction.doc["layers"] == bad["layers"][index : index + 1]
    assert reduction.parameters < reduction.original_parameters


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m != "missing_groups"])
def test_a_numeric_mistake_reduces_to_one_step_with_the_layer_diverging_at_it(mistake, reductions):
    reduction, *_ = reductions[mistake]
    assert reduction.check == "numeric-frame"
    assert reduction.steps is not None
    assert reduction.steps[0] == reduction.steps[1]
    assert reduction.inputs is not None
    assert reduction.inputs.shape[0] == 1
    assert reduction.divergence is not None
    assert reduction.divergence.index == 0


def test_missing_groups_keeps_its_rule_on_the_conv_alone(reductions):
    reduction, *_ = reductions["missing_groups"]
    assert (reduction.check, reduction.rule) == ("validate", "RTN-E204")
    assert reduction.inputs is None


def test_the_dropped_layer_stays_on_the_reference_side(reductions):
    reduction, *_ = reductions["dropped_layer"]
    assert reduction.divergence is not None
    assert "`fc2` (Linear), `fc2_act` (ReLU) has no entry in the JSON" in reduction.divergence.cause


@pytest.mark.parametrize("mistake", ["lstm_bias_unsummed", "missing_groups"])
def test_the_repro_folder_reproduces_alone_and_passes_once_fixed(mistake, reductions, tmp_path):
    reduction, _, module, index = reductions[mistake]
    folder = tmp_path / "repro"
    write_repro(reduction, folder, origin="bad.json", command="verify reduce bad.json ...")
    expected_files = {"model.json", "check.json", "README.md"}
    if reduction.inputs is not None:
        expected_files |= {"inputs.csv", "expected.csv", "actual.csv"}
    assert {p.name for p in folder.iterdir()} == expected_files
    assert "verify replay" in (folder / "README.md").read_text()
    assert replay(folder).failed
    right = export(module)["layers"][index]
    (folder / "model.json").write_bytes(document_bytes({**reduction.doc, "layers": [right]}))
    assert not replay(folder).failed


def test_the_csv_files_hold_the_reduction_exactly(reductions, tmp_path):
    reduction, *_ = reductions["transposed_kernel"]
    write_repro(reduction, tmp_path / "r", origin="x", command="x")
    for name, values in (("inputs", reduction.inputs), ("expected", reduction.expected)):
        text = (tmp_path / "r" / f"{name}.csv").read_text()
        read = np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])
        assert np.array_equal(read, values)


def test_a_chaotic_model_is_not_reduced():
    module = variants.chaotic_lstm()
    with pytest.raises(ReduceError, match="sensitivity"):
        reduce(export(module), module)


def test_a_passing_export_has_nothing_to_reduce():
    module = variants.groove_predictor_conv()
    with pytest.raises(ReduceError, match="nothing to reduce"):
        reduce(export(module), module, steps=16)


def test_a_stream_only_failure_keeps_the_steps_up_to_its_first_failing_one():
    torch.manual_seed(4)
    module = nn.Sequential(nn.Linear(3, 5), nn.LSTM(5, 5, batch_first=True), nn.Linear(5, 2), nn.Tanh())
    doc = export(module)
    doc["layers"][1]["weights"][1] = (np.asarray(doc["layers"][1]["weights"][1]) * 1.5).tolist()
    reduction = reduce(doc, module, steps=32, atol=1e-4, rtol=1e-4)
    assert reduction.check == "numeric-stream"
    assert reduction.layers == (1, 2)
    assert reduction.steps is not None
    s, t = reduction.steps
    assert reduction.inputs is not None
    assert reduction.inputs.shape[0] == t - s + 1
    assert reduction.expected is not None
    assert reduction.actual is not None
    gap = np.abs(reduction.actual - reduction.expected) > 1e-4 + 1e-4 * np.abs(reduction.expected)
    assert gap[-1].any()  # the last kept step fails...
    assert not gap[:-1].any()  # ...and none before it


def test_shrink_finds_the_smallest_window_by_bisection_then_single_steps():
    calls = []

    def fails(a: int, b: int) -> bool:
        calls.append((a, b))
        return a <= 5 < b

    assert shrink(40, fails) == (5, 6)
    assert len(calls) < 20  # bisection, not 40 + 40 single steps


def test_shrink_keeps_every_layer_a_failure_needs():
    # fails only when both layer 3 and layer 7 are kept (e.g. a width mismatch between them)
    assert shrink(10, lambda a, b: a <= 3 and b > 7) == (3, 8)


def test_write_repro_refuses_a_folder_holding_other_files(reductions, tmp_path):
    reduction, *_ = reductions["transposed_kernel"]
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ReproError, match=r"notes\.txt"):
        write_repro(reduction, tmp_path, origin="x", command="x")
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def bad_file(tmp_path) -> Path:
    module = build("DynamicsEngine")
    path = tmp_path / "dynamics_engine.json"
    doc = export(module)
    doc["layers"][1]["weights"][1] = (np.asarray(doc["layers"][1]["weights"][1]) + 0.05).tolist()
    path.write_bytes(document_bytes(doc))
    return path


def test_cli_reduce_writes_a_folder_replay_reproduces_it_from_elsewhere(
    bad_file, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "repro"
    code = main(
        [
            "reduce",
            str(bad_file),
            "--against",
            "verifier.production:dynamics_engine",
            "-o",
            str(out),
            "--steps",
            "8",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "numeric-frame still fails on layer 1 (1 of 3 layers" in text
    moved = tmp_path / "elsewhere"
    shutil.move(out, moved)
    monkeypatch.chdir(moved)
    assert main(["replay", "."]) == 1
    assert "numeric-frame reproduces" in capsys.readouterr().out
    assert json.loads((moved / "check.json").read_text())["layers"] == [1, 2]


def test_cli_reduce_exit_1_when_the_file_passes(tmp_path, capsys):
    path = tmp_path / "ok.json"
    export(build("DynamicsEngine"), path)
    code = main(
        ["reduce", str(path), "--against", "verifier.production:dynamics_engine", "-o", str(tmp_path / "r")]
    )
    assert code == 1
    assert "nothing to reduce" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()


def test_cli_reduce_usage_errors_exit_2(bad_file, tmp_path, capsys):
    assert main(["reduce", str(bad_file), "--against", "no_such_module:f", "-o", str(tmp_path / "r")]) == 2
    assert main(["reduce", str(bad_file), "-o", str(tmp_path / "r")]) == 2
    assert main(["replay", str(tmp_path)]) == 2
    wrong = ["--against", "verifier.production:groove_predictor"]  # 64 inputs, the file takes 32
    assert main(["reduce", str(bad_file), *wrong, "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("verify: error:") == 4
