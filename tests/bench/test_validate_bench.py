"""How long ``verifier.format.validate`` takes: a valid 1M-parameter model (the "validates in under a second"
figure) and every file of fixtures/bad (the slowest is the one to quote).

Run with ``tox -e bench`` or
``pytest tests/bench/test_validate_bench.py --benchmark-enable --benchmark-only``.
The times include reading and parsing the file (``verifier.format.reader.document.read_document``), which is
most of the 1M-parameter figure; the schema pass does not visit each number (see verifier/format/validate.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from verifier.format.validate import validate

BAD = Path(__file__).resolve().parents[2] / "fixtures" / "bad"
BAD_FILES = sorted(p.name for p in BAD.glob("*.json") if p.name != "expected.json")


def _million_parameter_model() -> dict:
    """dense 1->64, lstm 64->420, dense 420->450, dense 450->1: 1,004,829 weights."""
    rng = np.random.default_rng(0)

    def weights(*shape: int) -> list:
        # float32 values, as verifier.pytorch.export writes them, so the text is as long as a real export's.
        return rng.uniform(-0.1, 0.1, size=shape).astype(np.float32).astype(float).tolist()

    hidden = 420
    return {
        "in_shape": [None, None, 1],
        "layers": [
            {
                "type": "dense",
                "activation": "tanh",
                "shape": [None, None, 64],
                "weights": [weights(1, 64), weights(64)],
            },
            {
                "type": "lstm",
                "activation": "",
                "shape": [None, None, hidden],
                "weights": [weights(64, 4 * hidden), weights(hidden, 4 * hidden), weights(4 * hidden)],
            },
            {
                "type": "dense",
                "activation": "tanh",
                "shape": [None, None, 450],
                "weights": [weights(hidden, 450), weights(450)],
            },
            {
                "type": "dense",
                "activation": "",
                "shape": [None, None, 1],
                "weights": [weights(450, 1), weights(1)],
            },
        ],
    }


def _param_count(doc: dict) -> int:
    return sum(np.asarray(w).size for layer in doc["layers"] for w in layer["weights"])


@pytest.fixture(scope="module")
def million_parameter_file(tmp_path_factory) -> Path:
    doc = _million_parameter_model()
    assert _param_count(doc) >= 1_000_000
    path = tmp_path_factory.mktemp("validate-bench") / "million.json"
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


def test_validate_million_parameter_model(benchmark, million_parameter_file):
    findings = benchmark.pedantic(
        validate, args=(million_parameter_file,), rounds=5, iterations=1, warmup_rounds=1
    )
    assert findings == []


@pytest.mark.parametrize("name", BAD_FILES)
def test_validate_bad_fixture(benchmark, name):
    findings = benchmark.pedantic(validate, args=(BAD / name,), rounds=20, iterations=1, warmup_rounds=1)
    assert isinstance(findings, list)
