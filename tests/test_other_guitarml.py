"""GuitarML model files of other plugins' formats (SmartAmp's WaveNet JSON, SmartAmpPro's Keras weight
dictionary) are named for what they are (RTN-E008), by validate and by load alike, instead of the generic
missing in_shape finding. The fixtures are hand-made miniatures with the formats' top-level keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.engine.model import load
from verifier.errors import ModelFormatError
from verifier.format.validate import validate

SMARTAMP_WAVENET = {
    "activation": "gated",
    "output_channels": 1,
    "input_channels": 1,
    "residual_channels": 2,
    "filter_width": 3,
    "dilations": [1, 2],
    "variables": [{"layer_idx": -1, "data": ["0.5", "-0.25"], "name": "W"}],
}
SMARTAMPPRO_KERAS = {
    "conv1d": {"bias:0": [0.1], "kernel:0": [[[0.2]]]},
    "conv1d_1": {"bias:0": [0.1], "kernel:0": [[[0.2]]]},
    "lstm": {"kernel:0": [[0.1, 0.2, 0.3, 0.4]], "bias:0": [0.0, 0.0, 0.0, 0.0]},
    "dense": {"bias:0": [0.0], "kernel:0": [[1.0]]},
    "input_size": 120,
    "conv1d_stride": 12,
    "conv1d_1_stride": 12,
}
CASES = {"SmartAmp": SMARTAMP_WAVENET, "SmartAmpPro": SMARTAMPPRO_KERAS}


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "tone.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("plugin", sorted(CASES))
def test_other_guitarml_file_is_one_finding_naming_its_plugin_and_that_rtneural_cannot_read_it(
    tmp_path, plugin
):
    findings = validate(_write(tmp_path, CASES[plugin]))
    assert [(f.rule, f.pointer) for f in findings] == [("RTN-E008", "")]
    assert f"GuitarML {plugin} plugin" in findings[0].message
    assert "not an RTNeural model file" in findings[0].message


@pytest.mark.parametrize("plugin", sorted(CASES))
def test_load_refuses_an_other_guitarml_file_with_the_same_rule(tmp_path, plugin):
    with pytest.raises(ModelFormatError) as refused:
        load(_write(tmp_path, CASES[plugin]))
    assert refused.value.rule == "RTN-E008"


def test_a_keras_json_file_with_a_key_of_those_formats_is_still_read_as_keras_json(tmp_path):
    doc = {**SMARTAMP_WAVENET, "layers": []}  # in_shape missing: the ordinary finding, not E008
    rules = {f.rule for f in validate(_write(tmp_path, doc))}
    assert "RTN-E008" not in rules
    assert "RTN-E101" in rules
