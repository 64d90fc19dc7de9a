"""verifier.pytorch.rebuild and verifier.pytorch.run: the JSON rebuilt in torch, and torch modules
streamed the way RTNeural streams
them.

Both sides here are float64 torch: reference(export(m)) undoes the export's transforms with stock torch
layers, stream(m) runs m's own layers. They differ only by summation order (e.g. one LSTM bias vs two), so
they agree to a few ulps; 1e-12 leaves a wide margin and still catches any transform error (those are
>= 1e-3 on these inputs).
"""

from __future__ import annotations

import copy
import gc
import weakref

import corpus
import numpy as np
import pytest
import torch
from exportable_modules import MODULES, inputs
from torch import nn

from verifier.errors import ExportError, ModelFormatError
from verifier.pytorch.export import document_bytes, export, leaf_modules
from verifier.pytorch.rebuild import reference
from verifier.pytorch.run import frames, run_module, stream

TORCH_VS_TORCH = 1e-12


@pytest.mark.parametrize("name", sorted(MODULES))
def test_reference_of_export_streams_like_the_torch_module(name):
    build, width = MODULES[name]
    module = build()
    xs = inputs(width)
    rebuilt = reference(export(module))(xs).numpy()
    np.testing.assert_allclose(rebuilt, stream(module, xs), rtol=0, atol=TORCH_VS_TORCH)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_reference_of_export_matches_frames_step_by_step(name):
    build, width = MODULES[name]
    module = build()
    xs = inputs(width, steps=16)
    rebuilt = reference(export(module))
    one_step_each = np.stack([rebuilt(xs[t : t + 1]).numpy()[0] for t in range(len(xs))])
    np.testing.assert_allclose(one_step_each, frames(module, xs), rtol=0, atol=TORCH_VS_TORCH)


def test_frames_differ_from_stream_for_a_stateful_module():
    build, width = MODULES["recurrent_stack"]
    module = build()
    xs = inputs(width, steps=8)
    assert np.abs(frames(module, xs) - stream(module, xs))[1:].max() > 1e-3
    np.testing.assert_allclose(frames(module, xs)[0], stream(module, xs)[0], rtol=0, atol=TORCH_VS_TORCH)


def test_reference_takes_a_batch_of_sequences_independently():
    build, width = MODULES["conv_bn_prelu"]
    rebuilt = reference(export(build()))
    batch = np.stack([inputs(width, steps=20, seed=s) for s in range(3)])
    together = rebuilt(batch).numpy()
    assert together.shape == (3, 20, 4)
    for b in range(3):
        np.testing.assert_allclose(together[b], rebuilt(batch[b]).numpy(), rtol=0, atol=1e-15)


def test_reference_builds_in_the_requested_dtype():
    build, width = MODULES["gru"]
    doc = export(build())
    out32 = reference(doc, dtype=torch.float32)(inputs(width))
    assert out32.dtype == torch.float32
    out64 = reference(doc)(inputs(width))
    assert out64.dtype == torch.float64
    assert np.abs(out32.numpy() - out64.numpy()).max() < 1e-5


def test_stream_of_a_valid_conv_is_the_torch_output_delayed_by_its_latency():
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, 4, dilation=2).double()  # latency (4-1)*2 = 6
    xs = inputs(2, steps=30)
    with torch.no_grad():
        plain = conv(torch.from_numpy(xs.T).unsqueeze(0))[0].T.numpy()  # 'valid': 24 outputs
    streamed = stream(conv, xs)
    assert streamed.shape == (30, 3)
    np.testing.assert_allclose(streamed[6:], plain, rtol=0, atol=1e-14)


def test_stream_of_a_causally_padded_conv_is_its_first_t_outputs():
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, 3, dilation=2, padding=4).double()
    xs = inputs(2, steps=30)
    with torch.no_grad():
        plain = conv(torch.from_numpy(xs.T).unsqueeze(0))[0].T.numpy()  # 34 outputs
    np.testing.assert_allclose(stream(conv, xs), plain[:30], rtol=0, atol=1e-14)


def test_stream_runs_time_major_rnns_in_an_export_order_module_like_batch_first_ones():
    build, width = MODULES["export_order_time_major"]
    module = build()
    xs = inputs(width)
    with torch.no_grad():
        own_forward = module.double()(torch.from_numpy(xs).unsqueeze(1))[:, 0].numpy()  # [T, 1, in]
    np.testing.assert_allclose(stream(module, xs), own_forward, rtol=0, atol=1e-14)


def test_stream_refuses_what_export_refuses():
    with pytest.raises(ExportError, match="bidirectional"):
        stream(nn.LSTM(2, 3, bidirectional=True, batch_first=True), inputs(2))


def test_stream_refuses_non_finite_weights_as_export_does():
    module = nn.Linear(2, 1)
    with torch.no_grad():
        module.weight[0, 1] = float("nan")
    with pytest.raises(ExportError, match="NaN or infinity"):
        stream(module, inputs(2))


def test_running_a_module_converts_no_weight_to_python_numbers(monkeypatch):
    # The exportability check of frames()/stream() must not build the document: 640k weights as Python
    # lists cost about a second per call.
    build, width = MODULES["conv_bn_prelu"]
    module = build()

    def refuse(self, *args, **kwargs):
        raise AssertionError("a tensor was converted to Python numbers")

    monkeypatch.setattr(torch.Tensor, "tolist", refuse)
    with pytest.raises(AssertionError, match="converted"):
        export(module)  # the patch is effective: export does convert
    assert stream(module, inputs(width)).shape[0] == inputs(width).shape[0]
    assert frames(module, inputs(width)).shape[0] == inputs(width).shape[0]


def test_stream_leaves_the_module_untouched():
    build, width = MODULES["conv_bn_prelu"]
    module = build().train()
    before = copy.deepcopy(module.state_dict())
    stream(module, inputs(width))
    frames(module, inputs(width))
    assert module.training
    assert next(module.parameters()).dtype == torch.float32
    for key, value in module.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_stream_uses_running_statistics_even_for_a_module_in_training_mode():
    build, width = MODULES["conv_bn_prelu"]
    module = build()
    xs = inputs(width)
    np.testing.assert_array_equal(stream(module.train(), xs), stream(module.eval(), xs))


def test_stream_rejects_input_that_is_not_two_dimensional():
    with pytest.raises(ValueError, match=r"\[T, in\]"):
        stream(nn.Linear(1, 1), np.zeros(5))


# --- the rebuild exports back to the document it was built from --------------------------------------------
# Exact equality, compared as file bytes (which also tells -0.0 from 0.0): the JSON numbers go into float64
# tensors and come back out through float(), with no arithmetic in between except LSTM's bias sum.

_EXPORTED_TYPES = {"dense", "lstm", "gru", "conv1d", "batchnorm", "prelu", "activation"}


def _round_trip(doc: dict, in_size: int, dtype: torch.dtype = torch.float64) -> dict:
    return export(reference(doc, dtype=dtype), in_size=in_size)


@pytest.mark.parametrize("source_dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_export_of_reference_reproduces_every_exported_layer_type(name, source_dtype):
    build, width = MODULES[name]
    doc = export(build().to(source_dtype))
    again = _round_trip(doc, width)
    assert again == doc
    assert document_bytes(again) == document_bytes(doc)


def test_the_round_trip_modules_cover_every_entry_type_export_writes():
    docs = [export(build()) for build, _ in MODULES.values()]
    entries = [entry for doc in docs for entry in doc["layers"]]
    assert {entry["type"] for entry in entries} == _EXPORTED_TYPES
    folded = {e["activation"] for e in entries if e["type"] in ("dense", "conv1d")}
    standalone = {e["activation"] for e in entries if e["type"] == "activation"}
    assert folded >= {"tanh", "relu", "sigmoid", "softmax", "elu"}
    assert standalone >= {"tanh", "relu", "softmax", "elu"}
    batchnorm_array_counts = {len(e["weights"]) for e in entries if e["type"] == "batchnorm"}
    prelu_alpha_counts = {len(e["weights"][0][0]) > 1 for e in entries if e["type"] == "prelu"}
    assert batchnorm_array_counts == {2, 4}
    assert prelu_alpha_counts == {False, True}


def test_export_of_reference_reproduces_a_model_that_starts_with_an_activation():
    torch.manual_seed(0)
    doc = export(nn.Sequential(nn.Tanh(), nn.Linear(3, 2)), in_size=3)
    assert _round_trip(doc, 3) == doc


def test_export_of_reference_keeps_the_sign_of_a_zero_lstm_bias():
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 3, batch_first=True)
    with torch.no_grad():
        lstm.bias_ih_l0[:4] = -0.0
        lstm.bias_hh_l0[:4] = -0.0
    doc = export(lstm)
    assert "-0.0" in document_bytes(doc).decode()
    assert document_bytes(_round_trip(doc, 2)) == document_bytes(doc)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_float32_reference_reproduces_every_document_except_summed_lstm_biases(name):
    # The float32 rebuild holds every float32 value exactly; only an LSTM bias, written as the float64 sum
    # of PyTorch's two float32 biases (FORMAT: one bias), is rounded by it.
    build, width = MODULES[name]
    doc = export(build())
    again = _round_trip(doc, width, torch.float32)
    assert again["in_shape"] == doc["in_shape"]
    assert list(map(_without_lstm_bias, again["layers"])) == list(map(_without_lstm_bias, doc["layers"]))


def _without_lstm_bias(entry: dict) -> dict:
    return dict(entry, weights=entry["weights"][:2]) if entry["type"] == "lstm" else entry


def test_reference_is_exported_through_stock_torch_modules_only():
    build, _ = MODULES["standalone_activations"]
    rebuilt = reference(export(build()))
    kinds = {type(leaf.module) for leaf in leaf_modules(rebuilt)}
    assert all(kind.__module__.startswith("torch.nn") for kind in kinds), kinds


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_reference_computes_what_streaming_its_exported_modules_computes(name):
    # export() reads each wrapper as the stock module it declares; that is sound only if the wrapper runs
    # that module exactly as stream() does.
    build, width = MODULES[name]
    rebuilt = reference(export(build()))
    xs = inputs(width, steps=24)
    np.testing.assert_array_equal(rebuilt(xs).numpy(), stream(rebuilt, xs))


def test_export_of_a_reference_holding_conv2d_is_refused_naming_the_layer():
    doc = {
        "in_shape": [None, None, 3],
        "layers": [
            {
                "type": "conv2d",
                "activation": "",
                "shape": [None, None, 3],
                "num_filters_in": 1,
                "num_features_in": 3,
                "num_filters_out": 1,
                "kernel_size_time": 1,
                "kernel_size_feature": 1,
                "dilation": 1,
                "strides": 1,
                "padding": "valid",
                "weights": [[[[[2.0]]]], [0.5]],
            }
        ],
    }
    rebuilt = reference(doc)
    np.testing.assert_array_equal(rebuilt(np.array([[1.0, 2.0, 3.0]])).numpy(), [[2.5, 4.5, 6.5]])
    with pytest.raises(ExportError) as caught:
        export(rebuilt)
    assert caught.value.module == "layers.0"


def test_reference_keeps_the_files_batchnorm_statistics_in_training_mode():
    build, width = MODULES["conv_bn_prelu"]
    doc = export(build())
    rebuilt = reference(doc)
    xs = inputs(width, steps=32)
    in_eval = rebuilt(xs).numpy()
    rebuilt.train()
    np.testing.assert_array_equal(rebuilt(xs).numpy(), in_eval)
    assert export(rebuilt) == doc  # the statistics were not overwritten


# --- reference on documents (errors point at the place) --------------------------------------------------


def _dense_doc() -> dict:
    return {
        "in_shape": [None, None, 2],
        "layers": [
            {"type": "dense", "activation": "", "shape": [None, None, 1], "weights": [[[1.0], [2.0]]]}
        ],
    }


def test_reference_leaves_the_given_dict_unmodified():
    doc = _dense_doc()
    before = copy.deepcopy(doc)
    reference(doc)
    assert doc == before


def test_dense_without_bias_computes_the_kernel_product_only():
    out = reference(_dense_doc())(np.array([[3.0, 5.0]])).numpy()
    np.testing.assert_array_equal(out, [[13.0]])


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda d: d["layers"][0].update(type="dense2"), "/layers/0/type"),
        (lambda d: d["layers"][0].update(activation="linear"), "/layers/0/activation"),
        (lambda d: d["layers"][0]["weights"].__setitem__(0, [[1.0, 2.0]]), "/layers/0/weights/0"),
        (lambda d: d["layers"][0].pop("shape"), "/layers/0/shape"),
        (lambda d: d.update(layers=[]), "/layers"),
    ],
    ids=["unknown-type", "unknown-activation", "kernel-shape", "missing-shape", "no-layers"],
)
def test_reference_errors_name_the_place_in_the_document(mutate, pointer):
    doc = _dense_doc()
    mutate(doc)
    with pytest.raises(ModelFormatError) as caught:
        reference(doc)
    assert caught.value.pointer == pointer


def test_reference_rejects_input_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"\[T, 2\]"):
        reference(_dense_doc())(np.zeros((4, 3)))


# --- the corpus: reference reproduces RTNeural's expected outputs ---------------------------------------


def _keras_cases_with_expected() -> list[str]:
    names = [
        entry["name"]
        for entry in corpus.manifest()["cases"]
        if entry["format"] == "keras-json" and entry.get("expected")
    ]
    return names or ["corpus-missing"]


@pytest.mark.parametrize("name", _keras_cases_with_expected())
def test_reference_reproduces_the_corpus_expected_outputs(name):
    case = corpus.case(name)
    model = reference(corpus.require_corpus() / case["model"])
    produced = model(corpus.steps(case, "input")).numpy()
    ours, expected = corpus.aligned(case, produced)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=case["tolerance"]["abs"])


# --- a container's forward() against its chain: the RNN runs once per input --------------------------------


class _LstmChain(nn.Module):
    """Linear -> LSTM -> Linear, run in export_order; ``twist`` changes what forward() does after the LSTM."""

    export_order = ("inp", "lstm", "out")

    def __init__(self, twist: str = "") -> None:
        super().__init__()
        torch.manual_seed(5)
        self.inp, self.lstm, self.out = nn.Linear(3, 6), nn.LSTM(6, 5, batch_first=True), nn.Linear(5, 2)
        self.twist = twist

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lstm(self.inp(x))[0]
        if self.twist == "in-place":
            h.mul_(2.0)  # changes the LSTM's output tensor it was handed
        if self.twist == "scaled-input":
            h = self.lstm(2.0 * self.inp(x))[0]
        return self.out(h)


def _count_lstm_runs(monkeypatch) -> list[int]:
    runs: list[int] = []
    real = nn.LSTM.forward

    def counting(self, *args, **kwargs):
        runs.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(nn.LSTM, "forward", counting)
    return runs


def test_a_faithful_containers_forward_reuses_the_lstm_output_of_its_chain(monkeypatch):
    runs = _count_lstm_runs(monkeypatch)
    ran = run_module(_LstmChain(), np.random.default_rng(0).uniform(-1, 1, (12, 3)))
    assert ran.mismatches == ()
    assert len(runs) == 2  # once per pattern (frames, stream): forward() got the chain's input both times


def test_forward_changing_the_lstm_output_in_place_is_still_a_mismatch():
    # Were the reused output the chain's own tensor, doubling it would double the chain too and hide this.
    xs = np.random.default_rng(0).uniform(-1, 1, (12, 3))
    ran = run_module(_LstmChain("in-place"), xs)
    assert {m.pattern for m in ran.mismatches} == {"frame", "stream"}
    assert not np.allclose(ran.stream, run_module(_LstmChain(), xs).stream)  # forward()'s output is reported


def test_an_lstm_given_another_input_by_forward_is_not_answered_from_the_chain():
    ran = run_module(_LstmChain("scaled-input"), np.random.default_rng(0).uniform(-1, 1, (12, 3)))
    assert {m.pattern for m in ran.mismatches} == {"frame", "stream"}


def test_a_run_frees_its_copy_of_the_module_without_waiting_for_the_cycle_collector(monkeypatch):
    copies: list[weakref.ref] = []
    real = copy.deepcopy

    def recording(value, *args):
        made = real(value, *args)
        if isinstance(made, nn.Module):
            copies.extend(weakref.ref(part) for part in made.modules())  # the LSTM's copy too
        return made

    monkeypatch.setattr(copy, "deepcopy", recording)
    enabled = gc.isenabled()
    gc.disable()
    try:
        run_module(_LstmChain(), np.random.default_rng(0).uniform(-1, 1, (12, 3)))
        assert copies  # the run did copy the module
        assert [ref() for ref in copies] == [None] * len(copies)
    finally:
        if enabled:
            gc.enable()
