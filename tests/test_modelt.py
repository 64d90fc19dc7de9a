"""``verify modelt``: the ModelT type a file needs, and each way parseJson of a declared type silently
disagrees with the file, named at its JSON pointer."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.cli import run
from verifier.format.loaders.modelt import (
    ModelTError,
    check_type,
    declarations_in_source,
    model_type,
    parse_type,
)

GRU_TYPE = (
    "using Model = RTNeural::ModelT<float, 1, 1,\n"
    "    RTNeural::DenseT<float, 1, 8>,\n"
    "    RTNeural::TanhActivationT<float, 8>,\n"
    "    RTNeural::GRULayerT<float, 8, 8>,\n"
    "    RTNeural::DenseT<float, 8, 1>>;"
)


def _dense(width: int, activation: str = "", bias: bool = True) -> dict[str, Any]:
    return {
        "type": "dense",
        "activation": activation,
        "shape": [None, None, width],
        "weights": [[]] * (1 + bias),
    }


def _doc(*layers: dict[str, Any], width: int = 1) -> dict[str, Any]:
    return {"in_shape": [None, None, width], "layers": list(layers)}


GRU_DOC = _doc(  # zero weights of the shapes the format asks for: a valid file
    {"type": "dense", "activation": "tanh", "shape": [None, None, 8], "weights": [[[0.0] * 8], [0.0] * 8]},
    {
        "type": "gru",
        "activation": "tanh",
        "shape": [None, None, 8],
        "weights": [[[0.0] * 24] * 8, [[0.0] * 24] * 8, [[0.0] * 24] * 2],
    },
    {"type": "dense", "activation": "", "shape": [None, None, 1], "weights": [[[0.0]] * 8, [0.0]]},
)


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return run(list(argv), out, io.StringIO()), out.getvalue()


def _cases(doc: dict[str, Any], declared: str) -> list[tuple[str, str]]:
    return [(p.case, p.pointer) for p in check_type(doc, parse_type(declared))]


def test_emitted_type_names_every_layer_with_fused_activations_split() -> None:
    emitted = model_type(GRU_DOC)
    assert emitted.model is not None
    assert emitted.model.render() == GRU_TYPE


def test_emitted_type_uses_the_requested_numeric_type() -> None:
    emitted = model_type(GRU_DOC, "double")
    assert emitted.model is not None
    assert emitted.model.render().startswith("using Model = RTNeural::ModelT<double, 1, 1,\n")
    assert "RTNeural::GRULayerT<double, 8, 8>" in emitted.model.render()


def test_emitted_type_states_the_recurrent_defaults_it_leaves() -> None:
    notes = " ".join(model_type(GRU_DOC).notes)
    assert "SampleRateCorrectionMode::None" in notes
    assert "DefaultMathsProvider" in notes


def test_emitted_types_of_other_families_carry_their_parameters() -> None:
    doc = _doc(
        {"type": "conv1d", "activation": "", "shape": [None, None, 4], "kernel_size": [3], "dilation": [2],
         "groups": 2, "weights": [[], []]},
        {"type": "prelu", "shape": [None, None, 4], "weights": [[]]},
        {"type": "batchnorm", "shape": [None, None, 4], "weights": [[], []], "epsilon": 0.001},
        {"type": "lstm", "shape": [None, None, 3], "weights": [[], [], []]},
        {"type": "activation", "activation": "elu", "shape": [None, None, 3], "weights": []},
        width=2,
    )  # fmt: skip
    emitted = model_type(doc)
    assert emitted.model is not None
    assert [layer.render("float") for layer in emitted.model.layers] == [
        "RTNeural::Conv1DT<float, 2, 4, 3, 2, 2>",
        "RTNeural::PReLUActivationT<float, 4>",
        "RTNeural::BatchNorm1DT<float, 4, false>",
        "RTNeural::LSTMLayerT<float, 4, 3>",
        "RTNeural::ELuActivationT<float, 3>",
    ]


def test_dense_kernel_above_eigens_fixed_size_limit_asks_for_stack_allocation_limit_zero() -> None:
    # Eigen's DenseT matrix is out x (in + 1 bias column): 128 x 256 floats are exactly 128 KB, which compiles
    # (checked with the snapshot's Eigen: DenseT<float, 255, 128> compiles, DenseT<float, 256, 128> does not)
    assert "EIGEN" not in " ".join(model_type(_doc(_dense(128), width=255)).notes)
    notes = " ".join(model_type(_doc(_dense(128), width=256)).notes)
    assert "EIGEN_STACK_ALLOCATION_LIMIT=0" in notes
    assert "/layers/0" in notes


def test_eigen_limit_is_judged_at_the_emitted_numeric_type() -> None:
    doc = _doc(_dense(64), width=255)  # 64 x 256 doubles: exactly 128 KB
    assert "EIGEN" not in " ".join(model_type(doc, "double").notes)
    assert "EIGEN_STACK_ALLOCATION_LIMIT=0" in " ".join(
        model_type(_doc(_dense(64), width=256), "double").notes
    )
    assert "EIGEN" not in " ".join(model_type(_doc(_dense(64), width=256)).notes)


def test_dense_without_bias_has_no_bias_column_in_eigens_matrix() -> None:
    doc = _doc(_dense(128, bias=False), width=256)  # 128 x 256 floats: exactly 128 KB
    assert "EIGEN" not in " ".join(model_type(doc).notes)


def test_small_dense_kernel_needs_no_eigen_setting() -> None:
    assert "EIGEN_STACK_ALLOCATION_LIMIT" not in " ".join(model_type(GRU_DOC).notes)


def test_strided_conv1d_has_no_modelt_type_and_says_why() -> None:
    doc = _doc({"type": "conv1d", "activation": "", "shape": [None, None, 2], "kernel_size": [3],
                "dilation": [1], "strides": [3], "weights": [[], []]})  # fmt: skip
    emitted = model_type(doc)
    assert emitted.model is None
    assert [(p.case, p.pointer) for p in emitted.problems] == [("unrepresentable", "/layers/0/strides")]


def test_unknown_layer_type_has_no_modelt_type() -> None:
    emitted = model_type(_doc({"type": "attention", "shape": [None, None, 2], "weights": []}))
    assert emitted.model is None
    assert emitted.problems[0].pointer == "/layers/0/type"


def test_activation_without_modelt_layer_has_no_type() -> None:
    emitted = model_type(_doc(_dense(2, "gelu")))
    assert emitted.model is None
    assert emitted.problems[0].pointer == "/layers/0/activation"


def test_emitted_type_checks_clean_against_its_file() -> None:
    assert check_type(GRU_DOC, parse_type(GRU_TYPE)) == []


def test_input_width_mismatch_is_an_early_return_at_in_shape() -> None:
    declared = GRU_TYPE.replace("ModelT<float, 1, 1", "ModelT<float, 2, 1").replace(
        "DenseT<float, 1, 8>", "DenseT<float, 2, 8>"
    )
    assert _cases(GRU_DOC, declared) == [("early-return", "/in_shape")]


def test_layer_of_other_width_is_skipped_and_loading_goes_on() -> None:
    declared = GRU_TYPE.replace("GRULayerT<float, 8, 8>", "GRULayerT<float, 8, 4>").replace(
        "DenseT<float, 8, 1>", "DenseT<float, 4, 1>"
    )
    assert ("skipped-layer", "/layers/1") in _cases(GRU_DOC, declared)


def test_layer_of_other_type_is_skipped() -> None:
    declared = GRU_TYPE.replace("GRULayerT", "LSTMLayerT")
    assert _cases(GRU_DOC, declared) == [("skipped-layer", "/layers/1")]


def test_conv1d_of_other_kernel_dilation_or_groups_is_skipped() -> None:
    doc = _doc({"type": "conv1d", "activation": "", "shape": [None, None, 4], "kernel_size": [3],
                "dilation": [1], "groups": 1, "weights": [[], []]}, width=4)  # fmt: skip
    for declared in (
        "Conv1DT<float, 4, 4, 5, 1>",
        "Conv1DT<float, 4, 4, 3, 2>",
        "Conv1DT<float, 4, 4, 3, 1, 2>",
    ):
        assert _cases(doc, f"ModelT<float, 4, 4, {declared}>") == [("skipped-layer", "/layers/0")], declared


def test_conv2d_of_other_stride_is_skipped() -> None:
    doc = {"in_shape": [None, 10, 6, 1], "layers": [
        {"type": "conv2d", "activation": "", "shape": [None, 8, 2, 2], "kernel_size_time": [3],
         "kernel_size_feature": [3], "dilation": 1, "strides": 2, "num_filters_in": 1, "num_features_in": 6,
         "num_filters_out": 2, "padding": "valid", "weights": [[], []]}]}  # fmt: skip
    emitted = model_type(doc)
    assert emitted.model is not None
    assert check_type(doc, emitted.model) == []
    declared = emitted.model.render().replace("3, 3, 1, 2, true", "3, 3, 1, 1, true")
    assert ("skipped-layer", "/layers/0") in _cases(doc, declared)


def test_extra_trailing_json_layers_are_named_as_ignored() -> None:
    declared = "ModelT<float, 1, 8, DenseT<float, 1, 8>, TanhActivationT<float, 8>>"
    assert _cases(GRU_DOC, declared) == [("trailing-layers", "/layers/1")]


def test_declared_activation_differing_from_the_file_runs_instead() -> None:
    assert _cases(GRU_DOC, GRU_TYPE.replace("TanhActivationT", "SigmoidActivationT")) == [
        ("swapped-activation", "/layers/0/activation")
    ]


def test_fused_activation_not_declared_never_runs() -> None:
    declared = "ModelT<float, 1, 1, DenseT<float, 1, 8>, GRULayerT<float, 8, 8>, DenseT<float, 8, 1>>"
    assert ("swapped-activation", "/layers/0/activation") in _cases(GRU_DOC, declared)


def test_dense_of_other_input_width_passes_parsejsons_check_and_is_named() -> None:
    declared = GRU_TYPE.replace("DenseT<float, 8, 1>", "DenseT<float, 4, 1>")
    assert _cases(GRU_DOC, declared) == [("width-unchecked", "/layers/2")]


def test_declared_layers_beyond_the_file_keep_their_initial_weights() -> None:
    declared = GRU_TYPE.replace("DenseT<float, 8, 1>>", "DenseT<float, 8, 1>, DenseT<float, 1, 1>>")
    assert _cases(GRU_DOC, declared) == [("unloaded-layer", "/layers")]


@pytest.mark.parametrize(
    "text",
    [
        "ModelT<float, 1, 1, DenseT<float, 1, kHidden>>",
        "ModelT<float, 1, 1, DenseT<float, 1, 8>",
        "ModelT<float, 1, 1, Dense<float, 1, 8>>",
        "ModelT<half, 1, 1, DenseT<float, 1, 8>>",
        "ModelT<float, 1, 1, DenseT<float>>",
        "std::vector<int>",
        "ModelT<float, 1, 1, DenseT<float, 1, (8 + 1)>>",
        "<" * 5000,
    ],
)
def test_unreadable_declared_types_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ModelTError):
        parse_type(text)


def test_non_literal_argument_is_named_as_not_resolved() -> None:
    with pytest.raises(ModelTError, match=r"kHidden.*not a literal.*constexpr"):
        parse_type("ModelT<float, 1, 1, DenseT<float, 1, kHidden>>")


def test_source_declarations_skip_comments_and_keep_lines() -> None:
    source = (
        "// ModelT<float, 2, 2, DenseT<float, 2, 2>>\n/* ModelT<x> */\n"
        "RTNeural::ModelT<float, 1, 1,\n DenseT<float, 1, 1>> m;\n"
    )
    found = declarations_in_source(source)
    assert [(d.line, " ".join(d.text.split())) for d in found] == [
        (3, "RTNeural::ModelT<float, 1, 1, DenseT<float, 1, 1>>")
    ]


# ------------------------------------------------------------------------------------------------- the CLI


def test_cli_prints_the_type_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(GRU_DOC))
    status, out = _cli("modelt", str(path))
    assert status == 0
    assert out.startswith(GRU_TYPE)


def test_cli_file_without_a_type_exits_1_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_doc(_dense(2, "gelu"))))
    status, out = _cli("modelt", str(path))
    assert status == 1
    assert "/layers/0/activation" in out
    assert "gelu" in out


def test_cli_check_names_each_mismatch_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(GRU_DOC))
    status, out = _cli("modelt", str(path), "--check", GRU_TYPE.replace("GRULayerT", "LSTMLayerT"))
    assert status == 1
    assert "/layers/1: skipped-layer" in out


def test_cli_check_source_reads_the_declaration_in_a_header(tmp_path: Path) -> None:
    path, header = tmp_path / "m.json", tmp_path / "plugin.h"
    path.write_text(json.dumps(GRU_DOC))
    header.write_text(
        "#pragma once\n"
        + GRU_TYPE.replace(
            "GRULayerT<float, 8, 8>", "GRULayerT<float, 8, 8, RTNeural::SampleRateCorrectionMode::None>"
        ).replace("TanhActivationT", "ReLuActivationT")
        + "\n"
    )
    status, out = _cli("modelt", str(path), "--check-source", str(header))
    assert status == 1
    assert "/layers/0/activation: swapped-activation" in out
    assert "plugin.h:2" in out


def test_cli_check_source_with_a_constexpr_argument_is_a_usage_error_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, header = tmp_path / "m.json", tmp_path / "plugin.h"
    path.write_text(json.dumps(GRU_DOC))
    header.write_text(
        "constexpr int H = 8;\nRTNeural::ModelT<float, 1, 1, RTNeural::DenseT<float, 1, H>> m;\n"
    )
    from verifier.cli import main

    assert main(["modelt", str(path), "--check-source", str(header)]) == 2
    captured = capsys.readouterr()
    assert "plugin.h:2: cannot check this declaration" in captured.out
    assert "'H', not a literal" in captured.out
    assert "1 declaration(s) not checked" in captured.err


def test_cli_unreadable_model_file_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    status, out = _cli("modelt", str(tmp_path))
    assert status == 1
    assert "directory" in out


def test_huge_literal_is_refused_not_converted() -> None:
    with pytest.raises(ModelTError, match="larger than any width"):
        parse_type("ModelT<float, 1, 1, DenseT<float, 1, " + "9" * 5000 + ">>")


@pytest.mark.parametrize(
    "doc",
    [
        {"in_shape": [None, 1], "layers": "x"},
        {"in_shape": "x", "layers": []},
        {"in_shape": [None, 1], "layers": [None, 3, "dense"]},
        {"in_shape": [None, 1], "layers": [{"type": "dense", "shape": "8", "activation": 3}]},
        {"in_shape": [None, 1], "layers": [{"type": "conv1d", "shape": [None, 2], "kernel_size": [[3]]}]},
        {"in_shape": [None, 1], "layers": []},
    ],
)
def test_broken_documents_give_problems_not_exceptions(doc: dict[str, Any]) -> None:
    emitted = model_type(doc)
    assert emitted.model is None
    assert emitted.problems
    assert check_type(doc, parse_type(GRU_TYPE))


def test_cli_prints_no_type_for_a_file_parsejson_would_throw_on(tmp_path: Path) -> None:
    doc = _doc(
        {"type": "lstm", "shape": [None, None, 2], "weights": [[[0.0] * 8], [[0.0] * 8] * 2, [0.0] * 8]}
    )
    doc["layers"][0]["weights"][0] = [[0.0] * 12]  # kernel for hidden size 3, not 2
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    status, out = _cli("modelt", str(path))
    assert status == 1
    assert "using Model" not in out
    assert "/layers/0/weights" in out


def test_check_source_reports_a_mismatch_beside_an_unreadable_declaration(tmp_path: Path) -> None:
    path, header = tmp_path / "m.json", tmp_path / "plugin.h"
    path.write_text(json.dumps(GRU_DOC))
    unreadable = (
        "template <typename T> using Generic = RTNeural::ModelT<T, 1, 1, RTNeural::DenseT<T, 1, 8>>;\n"
    )
    header.write_text(unreadable + GRU_TYPE.replace("GRULayerT", "LSTMLayerT") + "\n")
    status, out = _cli("modelt", str(path), "--check-source", str(header))
    assert status == 1
    assert "plugin.h:1: cannot check this declaration" in out
    assert "/layers/1: skipped-layer" in out


def test_check_source_never_passes_while_a_declaration_is_unread(tmp_path: Path) -> None:
    path, header = tmp_path / "m.json", tmp_path / "plugin.h"
    path.write_text(json.dumps(GRU_DOC))
    header.write_text(
        "constexpr int H = 8;\nRTNeural::ModelT<float, 1, 1, RTNeural::DenseT<float, 1, H>> a;\n"
        + GRU_TYPE
        + "\n"
    )
    from verifier.cli import main

    assert main(["modelt", str(path), "--check-source", str(header)]) == 2


def test_check_of_a_matching_type_still_names_the_files_own_errors(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(GRU_DOC))
    doc["layers"][1]["weights"][0] = [[0.0] * 24] * 7  # kernel rows for 7 inputs, 8 flow in
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    status, out = _cli("modelt", str(path), "--check", GRU_TYPE)
    assert status == 1
    assert "/layers/1/weights/0" in out
    assert "invalid-file" in out


def test_a_huge_user_value_is_quoted_at_a_bounded_length() -> None:
    emitted = model_type(_doc({"type": "x" * 100_000, "shape": [None, None, 2], "weights": []}))
    assert len(emitted.problems[0].message) < 1000
    with pytest.raises(ModelTError) as raised:
        parse_type("ModelT<float, 1, 1, DenseT<float, 1, " + "k" * 60_000 + ">>")
    assert len(str(raised.value)) < 1000
