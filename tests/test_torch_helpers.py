"""State_dict JSON files loaded with RTNeural's torch_helpers, as a manifest declares the C++ caller's layer
list: validated against the declaration, run by the engine, and compared with PyTorch's own modules. Every
file is written here from seeded torch modules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import verifier  # noqa: E402
from verifier.checks.run.manifest import parse_manifest  # noqa: E402
from verifier.checks.run.verify import verify_file  # noqa: E402
from verifier.errors import ModelFormatError  # noqa: E402
from verifier.format.loaders.torch_helpers import declare  # noqa: E402
from verifier.format.validate import validate  # noqa: E402

LAYERS = [
    {"helper": "loadConv1D", "prefix": "conv.", "dilation": 2},
    {"activation": "tanh"},
    {"helper": "loadLSTM", "prefix": "lstm.", "layer_index": 0},
    {"helper": "loadLSTM", "prefix": "lstm.", "layer_index": 1},
    {"helper": "loadGRU", "prefix": "gru."},
    {"helper": "loadDense", "prefix": "dense."},
]


def modules(seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    return {
        "conv.": torch.nn.Conv1d(2, 4, 3, dilation=2).double(),
        "lstm.": torch.nn.LSTM(4, 6, num_layers=2, batch_first=True).double(),
        "gru.": torch.nn.GRU(6, 5, batch_first=True).double(),
        "dense.": torch.nn.Linear(5, 2).double(),
    }


def state_dict(seed: int = 0) -> dict[str, Any]:
    """The JSON a training script dumps: every parameter under its module's prefix."""
    return {p + k: v.tolist() for p, m in modules(seed).items() for k, v in m.state_dict().items()}


def expected(xs: np.ndarray) -> np.ndarray:
    """What the seeded modules compute, the convolution causal (zero history), written out here."""
    m = modules()
    with torch.no_grad():
        x = torch.as_tensor(xs)[None].transpose(1, 2)
        y = torch.tanh(m["conv."](torch.nn.functional.pad(x, (4, 0)))).transpose(1, 2)
        y = m["dense."](m["gru."](m["lstm."](y)[0])[0])
    return y[0].numpy()


def project(tmp_path: Path, doc: dict[str, Any], layers: list[dict[str, Any]], root: str = "") -> tuple:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    model = tmp_path / "model.json"
    model.write_text(json.dumps(doc))
    data = {
        "models": [{"name": "m", "file": "model.json", "torch_helpers": {"root": root, "layers": layers}}]
    }
    return str(model), parse_manifest(data, tmp_path / "verifier.json")


def checks(result: Any) -> dict[str, Any]:
    return {check.name: check for check in result.checks}


def test_the_engine_runs_what_the_declared_torch_modules_compute():
    xs = np.random.default_rng(1).uniform(-1, 1, (120, 2))
    doc = declare(state_dict(), {"layers": LAYERS})
    assert validate(doc) == []
    np.testing.assert_allclose(verifier.load(doc, "float64").run(xs), expected(xs), atol=1e-12)
    np.testing.assert_allclose(verifier.reference(doc)(xs).numpy(), expected(xs), atol=1e-12)


def test_verify_checks_a_declared_state_dict_file_against_pytorch(tmp_path):
    path, manifest = project(tmp_path, state_dict(), LAYERS)
    result = verify_file(path, manifest=manifest, measure_rss=False)
    found = checks(result)
    assert result.reference["kind"] == "torch-helpers"
    assert found["validate"].status == found["load"].status == "pass"
    assert found["numeric-frame"].status == found["numeric-stream"].status == "pass"
    assert found["load"].figures["in_size"] == 2
    assert found["load"].figures["out_size"] == 2


def test_without_the_declaration_the_same_file_is_not_a_model(tmp_path):
    path, _ = project(tmp_path, state_dict(), LAYERS)
    assert checks(verify_file(path, measure_rss=False))["validate"].status == "fail"


def test_a_guitarml_file_declared_at_its_state_dict_root_computes_simple_rnn_without_the_skip(tmp_path):
    from test_state_dict import guitarml, simple_rnn

    layers = [{"helper": "loadLSTM", "prefix": "rec."}, {"helper": "loadDense", "prefix": "lin."}]
    path, manifest = project(tmp_path, guitarml("LSTM", 2, 20, 1), layers, root="/state_dict")
    assert checks(verify_file(path, manifest=manifest, measure_rss=False))["numeric-stream"].status == "pass"
    xs = np.random.default_rng(2).uniform(-1, 1, (60, 2))
    doc = declare(guitarml("LSTM", 2, 20, 1), {"root": "/state_dict", "layers": layers})
    np.testing.assert_allclose(
        verifier.load(doc, "float64").run(xs), simple_rnn("LSTM", 2, 20, 0, xs), atol=1e-12
    )


@pytest.mark.parametrize(
    ("layers", "rule", "pointer"),
    [
        # layer_index 2 of a two-layer nn.LSTM: the key is not in the file
        (
            [*LAYERS[:3], {"helper": "loadLSTM", "prefix": "lstm.", "layer_index": 2}],
            "RTN-E405",
            "/lstm.weight_ih_l2",
        ),
        ([{"helper": "loadDense", "prefix": "linear."}], "RTN-E405", "/linear.weight"),
        # the GRU declared straight after the convolution: its input is 4 wide, gru's weight_ih is [15][6]
        ([LAYERS[0], LAYERS[4]], "RTN-E406", "/gru.weight_ih_l0"),
        # the GRU's weights read as an LSTM's: 15 rows are not 4 gates of whole units
        ([{"helper": "loadLSTM", "prefix": "gru."}], "RTN-E406", "/gru.weight_ih_l0"),
        (
            [{"helper": "loadConvTranspose1D", "prefix": "conv."}],
            "RTN-E407",
            "/torch_helpers/layers/0/helper",
        ),
        ([{"activation": "tanh"}, *LAYERS], "RTN-E407", "/torch_helpers/layers/0"),
    ],
)
def test_a_declaration_the_file_does_not_fit_is_a_finding_at_its_pointer(tmp_path, layers, rule, pointer):
    doc = declare(state_dict(), {"layers": layers})
    errors = [(f.rule, f.pointer) for f in validate(doc) if f.severity == "error"]
    assert errors[:1] == [(rule, pointer)]
    with pytest.raises(ModelFormatError) as caught:
        verifier.load(doc)
    assert (caught.value.rule, caught.value.pointer) == (rule, pointer)
    with pytest.raises(ModelFormatError):
        verifier.reference(doc)
    path, manifest = project(tmp_path, state_dict(), layers)
    found = checks(verify_file(path, manifest=manifest, measure_rss=False))
    assert found["validate"].status == "fail"
    assert found["validate"].figures["findings"][0]["pointer"] == pointer


def test_a_bias_of_another_length_is_a_shape_finding_at_the_bias(tmp_path):
    doc = state_dict()
    doc["dense.bias"] = doc["dense.bias"] + [0.5]
    found = [(f.rule, f.pointer) for f in validate(declare(doc, {"layers": LAYERS})) if f.severity == "error"]
    assert found == [("RTN-E406", "/dense.bias")]


def test_has_bias_false_reads_no_bias_and_adds_none():
    torch.manual_seed(3)
    dense = torch.nn.Linear(3, 2, bias=False).double()
    doc = declare(
        {"fc.weight": dense.weight.tolist()},
        {"layers": [{"helper": "loadDense", "prefix": "fc.", "has_bias": False}]},
    )
    xs = np.random.default_rng(3).uniform(-1, 1, (10, 3))
    with torch.no_grad():
        np.testing.assert_allclose(
            verifier.load(doc, "float64").run(xs), dense(torch.as_tensor(xs)).numpy(), atol=1e-12
        )


@pytest.mark.parametrize(
    "declaration",
    [
        5,
        {"layers": []},
        {"layers": [7]},
        {"layers": [{"helper": None}]},
        {"root": "/nowhere", "layers": LAYERS},
        {"layers": [{"helper": "loadConv1D", "prefix": "conv.", "groups": 0}]},
        {"layers": [{"helper": "loadDense", "prefix": 3}]},
        {"layers": [{"helper": "loadLSTM", "prefix": "lstm.", "layer_index": "1"}]},
        {"layers": [{"helper": "loadLSTM", "prefix": "lstm.", "has_bias": "yes"}]},
        {"layers": [{"helper": "loadConv1D", "prefix": "conv.", "groups": 3}]},
        {"layers": [{"helper": "loadConv1D", "prefix": "conv.", "dilation": 0}]},
    ],
)
def test_a_hostile_declaration_in_a_file_is_a_finding_never_a_crash(declaration):
    doc = {**state_dict(), "torch_helpers": declaration}
    found = [f for f in validate(doc) if f.severity == "error"]
    assert found
    assert found[0].rule in ("RTN-E405", "RTN-E406", "RTN-E407")
    with pytest.raises(ModelFormatError):
        verifier.load(doc)


def test_verify_on_real_rtneural_runs_the_layers_the_helpers_fill(tmp_path):
    pytest.importorskip("_verifier_rtneural")
    from verifier.checks.run.options import Options

    path, manifest = project(tmp_path, state_dict(), LAYERS)
    result = verify_file(path, Options(backend="rtneural", timing=False), manifest, measure_rss=False)
    found = checks(result)
    assert found["load"].figures["backend"] == "rtneural"
    assert found["numeric-frame"].status == found["numeric-stream"].status == "pass"


def test_the_declaration_docs_format_md_shows_is_a_valid_manifest_entry_for_these_modules(tmp_path):
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "format.md").read_text(encoding="utf-8")
    entry = next(
        json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.DOTALL) if "torch_helpers" in b
    )
    path, manifest = project(tmp_path, state_dict(), entry["torch_helpers"]["layers"])
    assert checks(verify_file(path, manifest=manifest, measure_rss=False))["numeric-stream"].status == "pass"


def test_save_golden_of_a_declared_file_expects_what_the_torch_modules_compute(tmp_path, capsys):
    from verifier.checks.golden.bundles import read_bundle
    from verifier.cli import main

    path, _ = project(tmp_path, state_dict(), LAYERS)
    manifest = tmp_path / "verifier.json"
    entry = {"name": "m", "file": "model.json", "torch_helpers": {"layers": LAYERS}}
    manifest.write_text(json.dumps({"models": [entry]}))
    assert main(["--manifest", str(manifest), path, "--save-golden", str(tmp_path / "golden")]) == 0
    bundle = read_bundle(tmp_path / "golden" / "model")
    assert bundle.reference == "torch-helpers"
    for case, xs in bundle.inputs.items():
        assert np.abs(bundle.expected[case, "stream"] - expected(xs)).max() < 1e-12


def test_an_undeclared_state_dict_file_is_told_to_declare_its_torch_helpers_calls():
    found = [f for f in validate(state_dict()) if f.pointer == "/in_shape"]
    assert found[0].rule == "RTN-E101"
    assert "manifest entry's torch_helpers" in found[0].message
    assert "torch_helpers" not in validate({"in_put": 1})[0].message


def test_a_key_under_a_declared_prefix_that_no_call_reads_is_a_warning():
    # The stacked LSTM's second layer left undeclared, the dense bias declared away: both silently dropped.
    layers = [*LAYERS[:3], LAYERS[4], {"helper": "loadDense", "prefix": "dense.", "has_bias": False}]
    found = {(f.rule, f.pointer) for f in validate(declare(state_dict(), {"layers": layers}))}
    assert found == {
        ("RTN-W010", "/lstm.weight_ih_l1"),
        ("RTN-W010", "/lstm.weight_hh_l1"),
        ("RTN-W010", "/lstm.bias_ih_l1"),
        ("RTN-W010", "/lstm.bias_hh_l1"),
        ("RTN-W010", "/dense.bias"),
    }
