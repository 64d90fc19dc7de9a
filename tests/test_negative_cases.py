"""Every negative case of the corpus manifest, loaded in memory (never written to disk).

* rejected cases: a ModelFormatError whose pointer names the offending place, with what was expected;
* accepted cases: they load, with a warning where the manifest asks for one;
* cases RTNeural loads silently wrong: they load, and the change of output against the unmodified model
  is the figure the oracle measured with the real RTNeural, which shows the engine computes what RTNeural
  computes (both the correct and the wrong model).

Nothing here may crash the interpreter: every case runs in-process.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import corpus
import numpy as np
import pytest

from verifier.engine.model import load
from verifier.errors import ModelFormatError

# The most precise place of each defect. A missing key or array points where it should be.
REJECTED = {
    "bad_lstm_hidden_size_mismatch": "/layers/0/weights/0",
    "probe_unknown_activation_on_dense": "/layers/0/activation",
    "probe_linear_activation_string": "/layers/0/activation",
    "probe_unknown_activation_layer": "/layers/1/activation",
    "probe_uppercase_activation": "/layers/1/activation",
    "probe_unknown_layer_type": "/layers/1/type",
    "probe_missing_weights_key": "/layers/1/weights",
    "probe_missing_shape_key": "/layers/0/shape",
    "probe_missing_type_key": "/layers/0/type",
    "probe_missing_in_shape": "/in_shape",
    "probe_missing_layers": "/layers",
    "probe_in_shape_not_array": "/in_shape",
    "probe_layers_not_array": "/layers",
    "probe_empty_layers": "/layers",
    "probe_null_activation": "/layers/1/activation",
    "probe_dense_kernel_transposed_nonsquare": "/layers/0/weights/0",
    "probe_in_shape_wider_than_kernel": "/layers/0/weights/0",
    "probe_dense_shape_smaller_than_kernel": "/layers/0/weights/0",
    "probe_conv1d_bias_missing": "/layers/1/weights",
    "probe_conv1d_missing_dilation": "/layers/1/dilation",
    "probe_conv1d_missing_groups": "/layers/5/groups",
    "probe_batchnorm_missing_epsilon": "/layers/2/epsilon",
    "probe_batchnorm_three_arrays": "/layers/2/weights",
    "probe_gru_single_row_bias": "/layers/0/weights/2",
    "probe_lstm_shape_smaller": "/layers/0/weights/0",
    "probe_conv2d_shape_mismatch": "/layers/0/shape",
    "probe_conv2d_missing_padding": "/layers/0/padding",
    "probe_null_in_shape_last": "/in_shape/1",
    "probe_prelu_missing_weights_row": "/layers/3/weights",
}

# Accepted; the warning the engine records (pointer), or None where nothing is suspicious.
ACCEPTED = {
    "probe_empty_activation_layer": "/layers/1/activation",
    "probe_missing_activation_key": "/layers/1/activation",
    "probe_activation_on_lstm_ignored": "/layers/0/activation",
    "probe_dense_bias_missing": "/layers/0/weights",
    "probe_conv1d_scalar_kernel_size": None,
}

# Loaded silently wrong by RTNeural: only a numerical comparison can tell.
NUMERIC_ONLY = {
    "probe_gru_zr_swapped",
    "probe_lstm_bias_halved",
    "probe_dense_kernel_transposed",
    "probe_gru_summed_bias",
}


def test_every_manifest_case_is_classified_once():
    names = corpus.case_names("negative_cases")
    if names == ["corpus-missing"]:
        corpus.require_corpus()
    assert sorted(names) == sorted([*REJECTED, *ACCEPTED, *NUMERIC_ONLY])


def _entry(name: str) -> dict:
    return corpus.case(name, "negative_cases")


def _output_change(entry: dict, dtype: str) -> float:
    """max |output - unmodified output| over the base case's input, streamed from reset()."""
    base = next(c for c in corpus.manifest()["cases"] if c["model"] == entry["base_model"])
    xs = corpus.steps(base, "input")
    original = load(corpus.read_json(entry["base_model"]), dtype).run(xs)
    mutated = load(corpus.negative_document(entry), dtype).run(xs)
    return float(np.abs(mutated.astype(np.float64) - original).max())


def _agrees_with_stated_figure(value: float, outcome: str) -> bool:
    """The oracle's figure is written to a few significant digits; agree to within half its last digit."""
    if "identical" in outcome:
        return value == 0.0
    stated = Decimal(re.search(r"=\s*([0-9.eE+-]+) on the case input", outcome).group(1))
    half_digit = Decimal(5).scaleb(stated.as_tuple().exponent - 1)
    return abs(Decimal(value) - stated) <= half_digit


@pytest.mark.parametrize("name", corpus.case_names("negative_cases"))
def test_negative_case_behaves_as_the_manifest_requires(name):
    entry = _entry(name)
    document = corpus.negative_document(entry)
    if name in REJECTED:
        with pytest.raises(ModelFormatError) as caught:
            load(document)
        error = caught.value
        assert error.pointer == REJECTED[name], str(error)
        assert error.source == "<dict>"
        assert error.expected, f"no expectation stated: {error}"
        assert error.pointer in str(error)
        return
    model = load(document)
    if name in ACCEPTED:
        pointers = [pointer for pointer, _ in model.warnings]
        if ACCEPTED[name] is None:
            assert model.warnings == []
        else:
            assert ACCEPTED[name] in pointers, model.warnings


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "name",
    [n for n in corpus.case_names("negative_cases") if n in NUMERIC_ONLY or n in ACCEPTED]
    or ["corpus-missing"],
)
def test_output_change_matches_what_the_oracle_measured_with_rtneural(name, dtype):
    entry = _entry(name)
    outcome = entry["observed_with_oracle"]["outcome"]
    change = _output_change(entry, dtype)
    assert _agrees_with_stated_figure(change, outcome), f"engine {change:.6g}, oracle: {outcome}"


def test_rejection_names_the_file_it_came_from(tmp_path):
    entry = _entry("probe_unknown_activation_on_dense")
    path = tmp_path / "model.json"
    path.write_text(json.dumps(corpus.negative_document(entry)))
    with pytest.raises(ModelFormatError) as caught:
        load(path)
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: /layers/0/activation: ")
