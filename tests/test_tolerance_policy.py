"""The tolerance policy's figures are pinned, and a failure of the policy is the verifier's internal error.

The expected figures are computed here by hand from the formula documented in
``verifier.checks.tolerance`` (``tol = 32 * eps * depth * sqrt(width) * sqrt(steps / 24)`` for a recurrent
stream longer than 24 steps, ``eps`` = 2**-24 in float32 and 2**-53 in float64), so a change to the
coefficient, the round-off, the depth or width count, or the step growth fails a test instead of silently
moving every verdict. There is no fallback figure: an error inside the policy exits 3, naming the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from verifier.checks.run.options import Options
from verifier.checks.run.tolerances import resolve_tolerances
from verifier.checks.tolerance import tolerance_for
from verifier.cli import main
from verifier.format.reader.document import read
from verifier.pytorch.export import export

F32, F64 = 2.0**-24, 2.0**-53

DENSE = {  # depth 2 (dense + its tanh) + 1 (dense) = 3; longest dot product 8 (the 8-wide layer's output)
    "in_shape": [None, 4],
    "layers": [
        {"type": "dense", "shape": [None, 8], "activation": "tanh"},
        {"type": "dense", "shape": [None, 2], "activation": ""},
    ],
}
LSTM = {  # depth 1 (lstm) + 1 (dense) = 2; a gate sums in + hidden = 3 + 16 = 19 terms; recurrent
    "in_shape": [None, 3],
    "layers": [
        {"type": "lstm", "shape": [None, 16]},
        {"type": "dense", "shape": [None, 1], "activation": ""},
    ],
}
CONV = {  # depth 2 (conv1d + its relu); kernel 3 x 2 inputs = 6 terms
    "in_shape": [None, 2],
    "layers": [{"type": "conv1d", "shape": [None, 4], "kernel_size": [3], "activation": "relu"}],
}


@pytest.mark.parametrize(
    ("doc", "dtype", "steps", "expected"),
    [
        (DENSE, "float32", None, 32 * F32 * 3 * math.sqrt(8)),
        (DENSE, "float64", None, 32 * F64 * 3 * math.sqrt(8)),
        (DENSE, "float32", 2400, 32 * F32 * 3 * math.sqrt(8)),  # not recurrent: no growth with steps
        (LSTM, "float32", None, 32 * F32 * 2 * math.sqrt(19)),
        (LSTM, "float64", 24, 32 * F64 * 2 * math.sqrt(19)),  # within the calibrated steps
        (LSTM, "float32", 96, 32 * F32 * 2 * math.sqrt(19) * 2),  # sqrt(96 / 24) = 2
        (CONV, "float32", None, 32 * F32 * 2 * math.sqrt(6)),
    ],
)
def test_the_tolerance_policy_gives_the_documented_figures(doc, dtype, steps, expected):
    atol, rtol = tolerance_for(doc, dtype, steps=steps)
    assert atol == pytest.approx(expected, rel=1e-12)
    assert rtol == pytest.approx(expected, rel=1e-12)


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "model.json"
    export(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), path)
    return path


def test_a_file_without_declared_tolerances_is_held_to_the_policys_figure(exported: Path):
    tolerances = resolve_tolerances(Options(steps=64), None, None, "float32", read(exported))
    # Linear + Tanh exports as one dense entry with its activation: depth 3, longest dot product 8
    assert tolerances.frame == pytest.approx((32 * F32 * 3 * math.sqrt(8),) * 2, rel=1e-12)
    assert tolerances.stream == tolerances.frame
    assert tolerances.origin == "verifier.checks.tolerance (model depth and width)"


def test_a_failing_tolerance_policy_is_an_internal_error_not_a_default(exported: Path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("the policy broke")

    monkeypatch.setattr("verifier.checks.run.tolerances.tolerance_for", broken)
    status = main([str(exported), "--no-timing", "--rss-copies", "0", "--steps", "16"])
    out, err = capsys.readouterr()
    assert status == 3, out + err
    assert "internal error" in err
    assert str(exported) in err
    assert "the policy broke" in out + err
