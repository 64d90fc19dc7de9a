"""verifier.reference: the JSON rebuilt in torch, and torch modules streamed the way RTNeural streams them.

Both sides here are float64 torch: reference(export(m)) undoes the export's transforms with stock torch
layers, stream(m) runs m's own layers. They differ only by summation order (e.g. one LSTM bias vs two), so
they agree to a few ulps; 1e-12 leaves a wide margin and still catches any transform error (those are
>= 1e-3 on these inputs).
"""

from __future__ import annotations

import copy

import corpus
import numpy as np
import pytest
import torch
from exportable_modules import MODULES, inputs
from torch import nn

from verifier.errors import ExportError, ModelFormatError
from verifier.export import export
from verifier.reference import frames, reference, stream

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
    expected = corpus.steps(case, "expected")
    spec = case["compare"]
    start, stride, first = (
        spec["rtneural_first_step"],
        spec["rtneural_step_stride"],
        spec["expected_first_step"],
    )
    count = len(expected) - first if spec["num_steps"] == "all" else spec["num_steps"]
    ours = produced[start : start + count * stride : stride]
    if spec["outputs"].startswith("output 0"):
        ours = ours[:, :1]
    np.testing.assert_allclose(ours, expected[first : first + count], rtol=0, atol=case["tolerance"]["abs"])
