"""The RTNeural conformance corpus through our engine: one test per manifest case and numeric type.

keras-json cases load the corpus file directly; torch-state-dict cases rebuild the PyTorch module from the
state_dict, export it with ``verifier.pytorch.export`` and load the export -- so those cases test the
exporter's transforms (docs/format.md §16.2/§14) and the engine together. Cases RTNeural runs only through C++
helpers with no keras-json form (strided conv, ConvTranspose1d) must be refused by the exporter,
naming the module.

Each test prints its worst absolute error (``pytest tests/test_conformance.py -rA`` shows it in the
"PASSES" section) and records it as the ``max_abs_error`` property for a junit report.
"""

from __future__ import annotations

import re
from typing import Any

import corpus
import numpy as np
import pytest
import torch
from torch import nn

from verifier.checks.compare import Comparison, compare
from verifier.errors import ExportError
from verifier.pytorch.export import export

DTYPES = {"float": "float32", "double": "float64"}


def _params() -> list[Any]:
    found = []
    for name in corpus.case_names():
        entry = next((c for c in corpus.manifest()["cases"] if c["name"] == name), None)
        types = entry["numeric_types"] if entry else ["double"]
        found.extend(pytest.param(name, DTYPES[t], id=f"{name}-{DTYPES[t]}") for t in types)
    return found


@pytest.mark.parametrize(("name", "dtype"), _params())
def test_conformance_case(name, dtype, request, record_property):
    case = corpus.case(name)
    if name in _REFUSED:  # needs no engine
        _refused(case, name, dtype)
        return
    load = request.getfixturevalue("load")
    if name == "keras_full_model_self_consistency":
        _self_consistency(case, load, record_property)
        return
    produced = _RUNNERS.get(case["format"], _run_torch)(case, load, dtype)
    result = _aligned_comparison(case, produced)
    print(f"{name} [{dtype}]: {result.summary()}")
    record_property("max_abs_error", result.max_abs_error)
    assert result.passed, result.summary()


# --- alignment (README "How a test should use manifest.json", step 5) ----------------------------------


def _aligned_comparison(case: dict[str, Any], produced: np.ndarray) -> Comparison:
    ours, expected = corpus.aligned(case, produced)
    return compare(expected, ours, atol=case["tolerance"]["abs"])


def _stream(model, xs: np.ndarray) -> np.ndarray:
    model.reset()
    return model.run(xs)


# --- keras-json ------------------------------------------------------------------------------------------


def _run_keras(case: dict[str, Any], load, dtype: str) -> np.ndarray:
    model = load(corpus.require_corpus() / case["model"], dtype=dtype)
    return _stream(model, corpus.steps(case, "input"))


def _self_consistency(case: dict[str, Any], load, record_property) -> None:
    # No expected file: RTNeural only checks two of its model classes against each other. We check our
    # two numeric types agree and that a double run is reproducible bit for bit.
    path = corpus.require_corpus() / case["model"]
    xs = corpus.steps(case, "input")
    double = load(path, dtype="float64")
    first, second = _stream(double, xs), _stream(double, xs)
    np.testing.assert_array_equal(first, second)
    single = _stream(load(path, dtype="float32"), xs)
    result = compare(first, single, atol=1e-6)
    print(f"{case['name']} [float32 vs float64]: {result.summary()}")
    record_property("max_abs_error", result.max_abs_error)
    assert result.passed, result.summary()


# --- torch-state-dict: rebuild, export, load ------------------------------------------------------------


def _tensors(state: dict[str, Any], prefix: str = "") -> dict[str, torch.Tensor]:
    return {
        key[len(prefix) :]: torch.tensor(value, dtype=torch.float64)
        for key, value in state.items()
        if key.startswith(prefix)
    }


def _conv_from_case(case: dict[str, Any], state: dict[str, Any]) -> nn.Conv1d:
    text = case["layers"][0]["torch"]  # e.g. "nn.Conv1d(6, 3, kernel_size=4, dilation=10, groups=3, ...)"
    weights = _tensors(state)
    out_channels, per_group, kernel = weights["weight"].shape
    dilation = int(re.search(r"dilation=(\d+)", text).group(1))
    stride = int(m.group(1)) if (m := re.search(r"stride=(\d+)", text)) else 1
    conv = nn.Conv1d(
        case["in_size"],
        out_channels,
        kernel,
        dilation=dilation,
        stride=stride,
        groups=case["in_size"] // per_group,
        dtype=torch.float64,
    )
    conv.load_state_dict(weights)
    return conv


class _Recurrent(nn.Module):
    """RTNeural's torch test model: rnn(in, 8) -> rnn(8, 8, num_layers=3) -> Linear(8, 1), time-major."""

    def __init__(self, kind: type[nn.LSTM] | type[nn.GRU], prefix: str, state: dict[str, Any]) -> None:
        super().__init__()
        names = (prefix, f"{prefix}2", "dense")
        self.export_order = names
        first = _tensors(state, f"{prefix}.")
        hidden = first["weight_hh_l0"].shape[1]
        layers = 1 + max(int(k.rsplit("_l", 1)[1]) for k in _tensors(state, f"{prefix}2."))
        setattr(self, names[0], kind(first["weight_ih_l0"].shape[1], hidden, dtype=torch.float64))
        setattr(self, names[1], kind(hidden, hidden, num_layers=layers, dtype=torch.float64))
        self.dense = nn.Linear(hidden, 1, dtype=torch.float64)
        for name in names:
            getattr(self, name).load_state_dict(_tensors(state, f"{name}."))


def _microtcn_parts(case: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
    conv1_file, bn_file, prelu_file, res_file = case["model"]
    conv1 = nn.Conv1d(1, 32, 4, dilation=10, bias=False, dtype=torch.float64)
    conv1.load_state_dict(_tensors(corpus.read_json(conv1_file)))
    bn_state = corpus.read_json(bn_file)
    bn = nn.BatchNorm1d(32, eps=bn_state["eps"], dtype=torch.float64)
    bn.load_state_dict(_tensors({k: v for k, v in bn_state.items() if k != "eps"}))
    prelu = nn.PReLU(32, dtype=torch.float64)
    prelu.load_state_dict(_tensors(corpus.read_json(prelu_file)))
    res = nn.Conv1d(1, 32, 1, bias=False, dtype=torch.float64)
    res.load_state_dict(_tensors(corpus.read_json(res_file)))
    return nn.Sequential(conv1, bn, prelu).eval(), nn.Sequential(res)


def _run_torch(case: dict[str, Any], load, dtype: str) -> np.ndarray:
    xs = corpus.steps(case, "input")
    if case["name"] == "torch_microtcn":
        # Not a chain: y = prelu(bn(conv1(x))) + res(x). Export the two branches, sum in the test.
        main, residual = _microtcn_parts(case)
        return _stream(load(export(main), dtype=dtype), xs) + _stream(load(export(residual), dtype=dtype), xs)
    state = corpus.read_json(case["model"])
    if case["name"] in ("torch_lstm", "torch_gru"):
        kind, prefix = (nn.LSTM, "lstm") if case["name"] == "torch_lstm" else (nn.GRU, "gru")
        module: nn.Module = _Recurrent(kind, prefix, state)
    else:
        module = _conv_from_case(case, state)
    return _stream(load(export(module), dtype=dtype), xs)


# --- cases with no keras-json form: the exporter must refuse them ---------------------------------------


def _convtranspose(case: dict[str, Any]) -> nn.Module:
    weights = _tensors(corpus.read_json(case["model"]))
    in_channels, out_channels, kernel = weights["weight"].shape
    layer = nn.ConvTranspose1d(in_channels, out_channels, kernel, stride=3, padding=3, dtype=torch.float64)
    layer.load_state_dict(weights)
    return layer


_REFUSED = {
    "torch_conv1d_stride_3": (
        lambda case: _conv_from_case(case, corpus.read_json(case["model"])),
        "Conv1d",
        "stride=3",
    ),
    "torch_convtranspose1d": (_convtranspose, "ConvTranspose1d", "ConvTranspose1d has no keras-json"),
    "torch_convtranspose1d_streaming": (
        _convtranspose,
        "ConvTranspose1d",
        "ConvTranspose1d has no keras-json",
    ),
}


def _refused(case: dict[str, Any], name: str, dtype: str) -> None:
    # The exporter's refusal does not depend on the numeric type; the id keeps one test per case and type.
    build, module_name, reason = _REFUSED[name]
    with pytest.raises(ExportError) as caught:
        export(build(case))
    assert caught.value.module == module_name
    assert reason in caught.value.reason
    print(f"{name} [{dtype}]: refused as expected: {caught.value}")


_RUNNERS = {"keras-json": _run_keras, "torch-state-dict": _run_torch}
