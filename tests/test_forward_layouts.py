"""A container's own forward() that cannot run the frames is a finding unless the stream shows it is the
chain its export_order declares; one that runs on no layout at all fails naming the layouts and why.

The frames are T one-step sequences: a forward() that needs more than one step (an unpadded Conv1d) runs on
none of the layouts there, and only the stream can say whether the chain's frames are the module's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

import verifier
from verifier.pytorch.export import export
from verifier.pytorch.run import NoFrameLayout, run_module

FAST = {"timing": False, "rss_copies": 0, "steps": 16}
LAYOUTS = (
    "runs on none of the layouts [batch, time, features], [time, batch, features], [batch, features, time]"
)


class _Conv(nn.Module):
    """An unpadded channels-first Conv1d: no output for one step alone, on any layout."""

    export_order = ("conv", "act")

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(6)
        self.conv = nn.Conv1d(3, 4, 3)
        self.act = nn.Tanh()


class Faithful(_Conv):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Scaled(_Conv):
    """Not its chain: the export writes conv -> tanh, forward() doubles the result."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * self.act(self.conv(x))


class NeverRuns(_Conv):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("the plugin's side-chain input is missing")


def _checks(tmp_path: Path, module: nn.Module) -> dict[str, object]:
    path = tmp_path / "model.json"
    export(module, path)
    (result,) = verifier.verify([str(path)], module=module, **FAST).files
    return {check.name: check for check in result.checks}


def test_a_forward_that_cannot_run_the_frames_and_is_not_its_chain_fails_the_frames_naming_why(tmp_path):
    checks = _checks(tmp_path, Scaled())
    frame = checks["numeric-frame"]
    assert frame.status == "fail"
    assert f"forward() {LAYOUTS} for one-step frames" in frame.summary
    assert "RuntimeError" in frame.summary  # why: the convolution's own complaint about one step


def test_a_forward_that_cannot_run_the_frames_but_is_its_chain_on_the_stream_passes(tmp_path):
    checks = _checks(tmp_path, Faithful())
    assert checks["numeric-frame"].status == "pass", checks["numeric-frame"].summary
    assert checks["numeric-stream"].status == "pass", checks["numeric-stream"].summary


def test_a_forward_that_raises_on_every_layout_fails_naming_the_layouts_and_the_error(tmp_path):
    checks = _checks(tmp_path, NeverRuns())
    frame = checks["numeric-frame"]
    assert frame.status == "fail"
    assert f"forward() {LAYOUTS}" in frame.summary
    assert "RuntimeError: the plugin's side-chain input is missing" in frame.summary
    assert checks["numeric-stream"].status == "skip"


def test_run_module_records_the_unrun_frames_first_only_when_the_stream_is_not_the_chain():
    xs = np.random.default_rng(0).uniform(-1, 1, (12, 3))
    scaled = run_module(Scaled(), xs)
    assert isinstance(scaled.mismatches[0], NoFrameLayout)
    assert [m.pattern for m in scaled.mismatches[1:]] == ["stream"]
    assert run_module(Faithful(), xs).mismatches == ()
