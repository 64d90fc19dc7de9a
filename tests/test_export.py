"""verifier.pytorch.export: every format transform pinned, every refusal named, files byte-stable, and round
trips through the engine that match the torch module streamed the way RTNeural streams it.

Round-trip tolerances (engine vs ``verifier.pytorch.run.stream``, which runs the module in float64 torch;
measured with ``pytest tests/test_export.py -s -k engine``, 17 modules x stream/frames, inputs in [-2, 2]):

* float64 engine: 1e-12. Both sides compute the same maths in double and differ only in summation order
  and libm, a few ulps per operation (measured worst 4.4e-16 over 64 recurrent steps). 1e-12 leaves three
  orders of margin for another BLAS or FMA contraction, and a transform error is >= 1e-3 here.
* float32 engine: 5e-6. The weights are rounded to float32 at load and the maths runs in float, ~6e-8
  relative per operation, accumulated through 8-wide layers and recurrences (measured worst 1.6e-7).
  30x margin, still more than two orders below what a wrong transform does.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
import torch
from exportable_modules import MODULES, inputs
from torch import nn

from verifier.errors import ExportError
from verifier.pytorch.export import document_bytes, export
from verifier.pytorch.rebuild import reference
from verifier.pytorch.run import frames, stream

ROUND_TRIP_ATOL = {"float64": 1e-12, "float32": 5e-6}


def _counting(shape: tuple[int, ...]) -> torch.Tensor:
    """0, 1, 2, ... in the given shape: every element distinct, so any reordering shows."""
    return torch.arange(float(np.prod(shape)), dtype=torch.float64).reshape(shape)


def _set(param: torch.Tensor, value: torch.Tensor) -> None:
    with torch.no_grad():
        param.copy_(value)


# --- dense ----------------------------------------------------------------------------------------------


def test_linear_kernel_is_transposed():
    linear = nn.Linear(3, 5).double()
    _set(linear.weight, _counting((5, 3)))
    entry = export(linear)["layers"][0]
    assert entry["type"] == "dense"
    assert entry["shape"] == [None, None, 5]
    assert entry["weights"][0] == linear.weight.T.tolist()
    assert entry["weights"][1] == linear.bias.tolist()


def test_linear_without_bias_writes_the_kernel_only():
    entry = export(nn.Linear(3, 2, bias=False))["layers"][0]
    assert len(entry["weights"]) == 1


def test_in_shape_is_the_first_layer_input_width():
    assert export(nn.Sequential(nn.Linear(7, 2), nn.Linear(2, 1)))["in_shape"] == [None, None, 7]


def test_float32_weights_are_written_exactly():
    linear = nn.Linear(2, 2)
    entry = export(linear)["layers"][0]
    written = np.array(entry["weights"][0], dtype=np.float64)
    np.testing.assert_array_equal(written.astype(np.float32), linear.weight.detach().numpy().T)
    np.testing.assert_array_equal(written, linear.weight.detach().double().numpy().T)


# --- lstm -------------------------------------------------------------------------------------------------


def test_lstm_biases_are_summed():
    lstm = nn.LSTM(2, 3, batch_first=True).double()
    _set(lstm.bias_ih_l0, _counting((12,)))
    _set(lstm.bias_hh_l0, 100 * _counting((12,)))
    weights = export(lstm)["layers"][0]["weights"]
    assert len(weights) == 3
    assert weights[2] == (101 * _counting((12,))).tolist()


def test_lstm_gate_order_is_kept_and_matrices_transposed():
    lstm = nn.LSTM(2, 3, batch_first=True).double()
    _set(lstm.weight_ih_l0, _counting((12, 2)))
    _set(lstm.weight_hh_l0, _counting((12, 3)))
    kernel, recurrent, _ = export(lstm)["layers"][0]["weights"]
    assert kernel == lstm.weight_ih_l0.T.tolist()  # [in][4H], blocks i,f,g,o untouched
    assert recurrent == lstm.weight_hh_l0.T.tolist()


def test_each_stacked_lstm_layer_gets_its_own_entry():
    lstm = nn.LSTM(2, 4, num_layers=3, batch_first=True).double()
    layers = export(lstm)["layers"]
    assert [entry["type"] for entry in layers] == ["lstm"] * 3
    assert [len(entry["weights"][0]) for entry in layers] == [2, 4, 4]
    assert layers[2]["weights"][0] == lstm.weight_ih_l2.T.tolist()


def test_lstm_without_bias_writes_a_zero_bias():
    weights = export(nn.LSTM(2, 3, bias=False, batch_first=True))["layers"][0]["weights"]
    assert weights[2] == [0.0] * 12


def test_stacked_rnn_dropout_is_ignored_as_in_eval_mode():
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2, dropout=0.5, batch_first=True).train()
    xs = inputs(2, steps=20)
    np.testing.assert_allclose(reference(export(lstm))(xs).numpy(), stream(lstm, xs), rtol=0, atol=1e-12)


def test_a_time_major_rnn_outside_a_sequential_is_accepted():
    assert [e["type"] for e in export(nn.GRU(2, 3))["layers"]] == ["gru"]


# --- gru --------------------------------------------------------------------------------------------------


def _block_rows(hidden: int, columns: int) -> torch.Tensor:
    """Rows of PyTorch's r block hold 1, z block 2, n block 3 (plus a distinct column index)."""
    blocks = torch.cat([torch.full((hidden, columns), float(g)) for g in (1, 2, 3)])
    return blocks + _counting((3 * hidden, columns)) / 1000


def test_gru_gate_order_is_swapped_on_export():
    gru = nn.GRU(2, 3, batch_first=True).double()
    _set(gru.weight_ih_l0, _block_rows(3, 2))
    _set(gru.weight_hh_l0, _block_rows(3, 3))
    kernel, recurrent, _ = (torch.tensor(w, dtype=torch.float64) for w in export(gru)["layers"][0]["weights"])
    for exported, original in ((kernel, gru.weight_ih_l0), (recurrent, gru.weight_hh_l0)):
        r, z, n = original.detach().chunk(3)
        torch.testing.assert_close(exported, torch.cat([z, r, n]).T, rtol=0, atol=0)  # z, r, n columns
        assert exported[0, :3].floor().tolist() == [2.0, 2.0, 2.0]


def test_gru_biases_stay_two_rows_each_swapped():
    gru = nn.GRU(2, 3, batch_first=True).double()
    _set(gru.bias_ih_l0, _counting((9,)))
    _set(gru.bias_hh_l0, 100 + _counting((9,)))
    bias = export(gru)["layers"][0]["weights"][2]
    assert len(bias) == 2
    assert bias[0] == [3.0, 4.0, 5.0, 0.0, 1.0, 2.0, 6.0, 7.0, 8.0]
    assert bias[1] == [103.0, 104.0, 105.0, 100.0, 101.0, 102.0, 106.0, 107.0, 108.0]


def test_each_stacked_gru_layer_gets_its_own_entry():
    layers = export(nn.GRU(2, 4, num_layers=2, batch_first=True))["layers"]
    assert [entry["type"] for entry in layers] == ["gru", "gru"]


def test_gru_without_bias_writes_two_zero_rows():
    bias = export(nn.GRU(2, 3, bias=False, batch_first=True))["layers"][0]["weights"][2]
    assert bias == [[0.0] * 9, [0.0] * 9]


# --- conv1d -----------------------------------------------------------------------------------------------


def test_conv1d_kernel_is_permuted_not_flipped():
    conv = nn.Conv1d(4, 6, 3, groups=2).double()
    _set(conv.weight, _counting((6, 2, 3)))
    kernel = export(conv)["layers"][0]["weights"][0]
    assert np.array(kernel).shape == (3, 2, 6)
    for o in range(6):
        for c in range(2):
            for k in range(3):
                assert kernel[k][c][o] == conv.weight[o, c, k].item()


def test_conv1d_keys_are_written_and_groups_always():
    entry = export(nn.Conv1d(2, 3, 5, dilation=4))["layers"][0]
    assert entry["type"] == "conv1d"
    assert entry["kernel_size"] == [5]
    assert entry["dilation"] == [4]
    assert entry["groups"] == 1
    assert export(nn.Conv1d(6, 3, 2, groups=3))["layers"][0]["groups"] == 3


def test_conv1d_without_bias_writes_a_zero_bias():
    weights = export(nn.Conv1d(2, 3, 2, bias=False))["layers"][0]["weights"]
    assert weights[1] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("padding", [0, "valid", 6])
def test_conv1d_valid_and_causal_padding_are_accepted(padding):
    assert export(nn.Conv1d(2, 3, 4, dilation=2, padding=padding))["layers"][0]["type"] == "conv1d"


# --- batchnorm, prelu -------------------------------------------------------------------------------------


def test_batchnorm_writes_gamma_beta_mean_var_and_epsilon():
    bn = nn.BatchNorm1d(3, eps=1e-3).double()
    for i, tensor in enumerate((bn.weight, bn.bias, bn.running_mean, bn.running_var)):
        _set(tensor, _counting((3,)) + 10 * (i + 1))
    entry = export(bn)["layers"][0]
    assert entry["type"] == "batchnorm"
    assert entry["epsilon"] == 1e-3
    assert entry["weights"] == [
        [10.0, 11.0, 12.0],
        [20.0, 21.0, 22.0],
        [30.0, 31.0, 32.0],
        [40.0, 41.0, 42.0],
    ]


def test_batchnorm_without_affine_writes_mean_and_var_only():
    bn = nn.BatchNorm1d(2, affine=False).double()
    _set(bn.running_mean, torch.tensor([1.0, 2.0]))
    assert export(bn)["layers"][0]["weights"] == [[1.0, 2.0], [1.0, 1.0]]


def test_batchnorm_running_statistics_are_exported_in_training_mode_too():
    bn = nn.BatchNorm1d(2).double().train()
    _set(bn.running_var, torch.tensor([4.0, 9.0]))
    assert export(bn)["layers"][0]["weights"][3] == [4.0, 9.0]


def test_prelu_writes_its_alphas_as_one_row():
    prelu = nn.PReLU(3).double()
    _set(prelu.weight, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    entry = export(nn.Sequential(nn.Linear(2, 3), prelu))["layers"][1]
    assert entry["type"] == "prelu"
    assert entry["weights"] == [[[0.1, 0.2, 0.3]]]
    assert entry["shape"] == [None, None, 3]


def test_a_shared_prelu_alpha_is_written_once():
    entry = export(nn.Sequential(nn.Linear(2, 3), nn.PReLU()))["layers"][1]
    assert np.array(entry["weights"]).shape == (1, 1, 1)


# --- activations, containers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (nn.Tanh(), "tanh"),
        (nn.ReLU(), "relu"),
        (nn.Sigmoid(), "sigmoid"),
        (nn.ELU(), "elu"),
        (nn.Softmax(dim=-1), "softmax"),
        (nn.Softmax(dim=2), "softmax"),
    ],
)
def test_an_activation_after_dense_is_folded_into_the_dense_entry(module, name):
    layers = export(nn.Sequential(nn.Linear(2, 3), module))["layers"]
    assert len(layers) == 1
    assert layers[0]["activation"] == name


def test_an_activation_after_conv1d_is_folded_into_the_conv_entry():
    layers = export(nn.Sequential(nn.Conv1d(2, 3, 2), nn.Tanh()))["layers"]
    assert [(e["type"], e["activation"]) for e in layers] == [("conv1d", "tanh")]


def test_a_second_activation_gets_its_own_entry():
    layers = export(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sigmoid()))["layers"]
    assert [(e["type"], e["activation"]) for e in layers] == [("dense", "tanh"), ("activation", "sigmoid")]
    assert layers[1]["weights"] == []
    assert layers[1]["shape"] == [None, None, 3]


@pytest.mark.parametrize(
    "before", [nn.LSTM(2, 3, batch_first=True), nn.GRU(2, 3, batch_first=True), nn.BatchNorm1d(3)]
)
def test_an_activation_after_a_layer_whose_activation_rtneural_ignores_gets_its_own_entry(before):
    head = [nn.Linear(2, 3), before] if isinstance(before, nn.BatchNorm1d) else [before]
    layers = export(nn.Sequential(*head, nn.Tanh()))["layers"]
    assert layers[-1] == {"type": "activation", "activation": "tanh", "shape": [None, None, 3], "weights": []}
    assert all(entry["activation"] == "" for entry in layers[:-1])


def test_identity_and_dropout_write_nothing():
    layers = export(nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.Identity(), nn.Linear(3, 1)))["layers"]
    assert [e["type"] for e in layers] == ["dense", "dense"]


def test_identity_between_dense_and_activation_does_not_stop_folding():
    layers = export(nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.ReLU()))["layers"]
    assert [(e["type"], e["activation"]) for e in layers] == [("dense", "relu")]


def test_nested_sequentials_are_flattened_in_order():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 4))), nn.Linear(4, 5))
    assert [e["shape"][-1] for e in export(model)["layers"]] == [3, 4, 5]


def test_export_order_declares_the_layer_order():
    class Net(nn.Module):
        export_order = ("first", "second")

        def __init__(self) -> None:
            super().__init__()
            self.second = nn.Linear(4, 1)  # registered first, runs second
            self.first = nn.Linear(2, 4)

    assert [e["shape"][-1] for e in export(Net())["layers"]] == [4, 1]


def test_a_leading_activation_needs_in_size_and_uses_it():
    model = nn.Sequential(nn.Tanh(), nn.Linear(3, 1))
    with pytest.raises(ExportError, match="in_size") as caught:
        export(model)
    assert caught.value.module == "0"
    doc = export(model, in_size=3)
    assert doc["in_shape"] == [None, None, 3]
    assert doc["layers"][0] == {
        "type": "activation",
        "activation": "tanh",
        "shape": [None, None, 3],
        "weights": [],
    }


@pytest.mark.parametrize("first", [nn.PReLU(4), nn.BatchNorm1d(4)])
def test_a_leading_prelu_or_batchnorm_fixes_the_input_width(first):
    assert export(nn.Sequential(first, nn.Linear(4, 1)))["in_shape"] == [None, None, 4]


def test_in_size_that_disagrees_with_the_first_layer_is_refused():
    with pytest.raises(ExportError, match="expects 3 input features but gets 5"):
        export(nn.Linear(3, 1), in_size=5)


def test_export_leaves_the_module_untouched():
    build, _ = MODULES["conv_bn_prelu"]
    module = build().train()
    before = copy.deepcopy(module.state_dict())
    export(module)
    assert module.training
    for key, value in module.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


# --- files ------------------------------------------------------------------------------------------------


def test_written_file_is_the_returned_document_in_deterministic_bytes(tmp_path):
    build, _ = MODULES["recurrent_stack"]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    doc = export(build(), first)
    export(build(), os.fspath(second))  # a fresh, identically seeded module; str path also accepted
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == document_bytes(doc)
    assert json.loads(first.read_bytes()) == doc


def test_written_file_is_compact_json_with_a_newline_per_layer_only(tmp_path):
    path = tmp_path / "m.json"
    export(nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)), path)
    text = path.read_text()
    assert text.endswith("]}\n")
    assert text.count("\n") == 2 + 2  # two layers, the line opening the list, the trailing newline
    assert ", " not in text
    assert ": " not in text


def test_each_layer_of_a_written_export_starts_a_line_of_its_own(tmp_path):
    path = tmp_path / "m.json"
    doc = export(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), path)
    lines = path.read_text().splitlines()
    assert lines[0] == '{"in_shape":[null,null,2],"layers":['
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == doc["layers"]
    assert lines[-1] == "]}"


def test_a_finding_in_an_export_points_at_the_line_of_its_layer(tmp_path):
    from verifier.cli import main

    path = tmp_path / "m.json"
    export(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1)), path)
    path.write_text(path.read_text().replace('"activation":"relu"', '"activation":"relux"'))
    report = tmp_path / "report.txt"
    assert main(["validate", str(path), "--format", "text", "-o", str(report)]) == 1
    assert f"{path}:3:" in report.read_text()  # layer 1 on the file's third line, not line 1


def test_nothing_is_written_when_export_fails(tmp_path):
    path = tmp_path / "m.json"
    with pytest.raises(ExportError):
        export(nn.GELU(), path, in_size=2)
    assert not path.exists()


def test_non_finite_weights_are_refused():
    linear = nn.Linear(2, 2)
    _set(linear.bias, torch.tensor([0.0, float("nan")]))
    with pytest.raises(ExportError, match="NaN") as caught:
        export(nn.Sequential(linear))
    assert caught.value.module == "0"


# --- refusals: each names the module and the reason -------------------------------------------------------


class _Custom(nn.Module):
    def forward(self, x):
        return x


class _SubclassedLinear(nn.Linear):
    pass


class _MissingName(nn.Module):
    export_order = ("dense", "nope")

    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(2, 2)


class _Residual(nn.Module):
    export_order = ("main",)

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Linear(2, 2)
        self.skip = nn.Linear(2, 2)


def _after_linear(module: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 4), module)


REFUSALS = {
    "lstm-bidirectional": (
        _after_linear(nn.LSTM(4, 3, bidirectional=True, batch_first=True)),
        "1",
        "bidirectional",
    ),
    "gru-bidirectional": (
        _after_linear(nn.GRU(4, 3, bidirectional=True, batch_first=True)),
        "1",
        "bidirectional",
    ),
    "lstm-proj-size": (_after_linear(nn.LSTM(4, 3, proj_size=2, batch_first=True)), "1", "proj_size"),
    "lstm-time-major-in-sequential": (_after_linear(nn.LSTM(4, 3)), "1", "batch_first=True"),
    "gru-time-major-in-sequential": (_after_linear(nn.GRU(4, 3)), "1", "batch_first=True"),
    "rnn-tanh": (_after_linear(nn.RNN(4, 3, batch_first=True)), "1", "vanilla nn.RNN"),
    "rnn-relu": (_after_linear(nn.RNN(4, 3, nonlinearity="relu", batch_first=True)), "1", "vanilla nn.RNN"),
    "elu-alpha": (_after_linear(nn.ELU(alpha=0.5)), "1", "alpha fixed at 1"),
    "leaky-relu": (_after_linear(nn.LeakyReLU()), "1", "LeakyReLU"),
    "gelu": (_after_linear(nn.GELU()), "1", "GELU"),
    "softmax-other-dim": (_after_linear(nn.Softmax(dim=1)), "1", "Softmax(dim=1)"),
    "softmax-no-dim": (_after_linear(nn.Softmax()), "1", "Softmax(dim=None)"),
    "conv-stride": (nn.Conv1d(1, 2, 3, stride=2), "Conv1d", "stride=2"),
    "conv-symmetric-padding": (nn.Conv1d(1, 2, 3, padding=1), "Conv1d", "padding=(1,)"),
    "conv-same-padding": (nn.Conv1d(1, 2, 3, padding="same"), "Conv1d", "padding='same'"),
    "conv-reflect-padding": (
        nn.Conv1d(1, 2, 3, padding=2, padding_mode="reflect"),
        "Conv1d",
        "padding_mode='reflect'",
    ),
    "conv-transpose": (nn.ConvTranspose1d(2, 2, 3), "ConvTranspose1d", "ConvTranspose1d"),
    "conv2d": (nn.Conv2d(1, 1, 3), "Conv2d", "nn.Conv2d"),
    "batchnorm-batch-stats": (
        nn.BatchNorm1d(2, track_running_stats=False),
        "BatchNorm1d",
        "track_running_stats=False",
    ),
    "unknown-module": (nn.Sequential(nn.Linear(2, 2), nn.Flatten()), "1", "unsupported module type"),
    "custom-without-export-order": (_Custom(), "_Custom", "export_order"),
    "subclass-of-supported": (_SubclassedLinear(2, 2), "_SubclassedLinear", "subclasses are refused"),
    "width-mismatch": (nn.Sequential(nn.Linear(2, 4), nn.Linear(3, 1)), "1", "expects 3 input features"),
    "prelu-alpha-count": (_after_linear(nn.PReLU(3)), "1", "3 alphas"),
    "export-order-missing": (_MissingName(), "_MissingName", "'nope', which is not a submodule"),
    "export-order-drops-weights": (_Residual(), "skip", "not in its parent's export_order"),
    "empty-sequential": (nn.Sequential(), "Sequential", "nothing to export"),
    "only-no-ops": (nn.Sequential(nn.Identity(), nn.Dropout()), "Sequential", "nothing to export"),
    "root-module-named-by-class": (nn.LSTM(2, 3, bidirectional=True), "LSTM", "bidirectional"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_export_error_names_the_module_and_the_reason(case):
    module, name, reason = REFUSALS[case]
    with pytest.raises(ExportError) as caught:
        export(module)
    assert caught.value.module == name
    assert reason in caught.value.reason
    assert repr(name) in str(caught.value)


# --- round trips through the engine -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_export_streamed_by_the_engine_matches_the_torch_module(load, name, dtype):
    build, width = MODULES[name]
    module = build()
    xs = inputs(width)
    model = load(export(module), dtype=dtype)
    model.reset()
    streamed = model.run(xs)
    error = np.abs(streamed - stream(module, xs)).max()
    print(f"round trip stream {name} {dtype}: max abs error {error:.3g}")
    assert error <= ROUND_TRIP_ATOL[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_export_run_frame_by_frame_by_the_engine_matches_zero_state_torch_calls(load, name, dtype):
    build, width = MODULES[name]
    module = build()
    xs = inputs(width, steps=32)
    model = load(export(module), dtype=dtype)
    error = np.abs(model.run_frames(xs) - frames(module, xs)).max()
    print(f"round trip frames {name} {dtype}: max abs error {error:.3g}")
    assert error <= ROUND_TRIP_ATOL[dtype]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_export_passes_validation_without_errors(name):
    from verifier.format.validate import validate

    build, _ = MODULES[name]
    errors = [finding for finding in validate(export(build())) if finding.severity == "error"]
    assert errors == []
