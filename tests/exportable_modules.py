"""Torch modules of every kind `verifier.pytorch.export` accepts, alone and stacked, for the round-trip tests.

Each builder seeds torch itself, so a module is the same on every run; BatchNorm statistics and PReLU
alphas are randomised so that a swapped or dropped array changes the output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def _randomise(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.BatchNorm1d):
                sub.running_mean.uniform_(-0.5, 0.5)
                sub.running_var.uniform_(0.5, 2.0)
                if sub.affine:
                    sub.weight.uniform_(0.5, 1.5)
                    sub.bias.uniform_(-0.5, 0.5)
            if isinstance(sub, nn.PReLU):
                sub.weight.uniform_(-0.5, 0.5)
    return module.eval()


class LegacyRecurrent(nn.Module):
    """Like RTNeural's torch test models: time-major (batch_first=False) RNNs driven by its own forward."""

    export_order = ("lstm", "gru", "dense")

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 6)
        self.gru = nn.GRU(6, 5, num_layers=2)
        self.dense = nn.Linear(5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, 2]
        return self.dense(self.gru(self.lstm(x)[0])[0])


def _build(factory: Callable[[], nn.Module], seed: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(seed)
        return _randomise(factory())

    return build


# name -> (builder, input width)
MODULES: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "linear": (_build(lambda: nn.Linear(3, 5), 1), 3),
    "linear_no_bias_tanh": (_build(lambda: nn.Sequential(nn.Linear(4, 4, bias=False), nn.Tanh()), 2), 4),
    "dense_every_activation": (
        _build(
            lambda: nn.Sequential(
                nn.Linear(2, 8),
                nn.ReLU(),
                nn.Linear(8, 8),
                nn.Sigmoid(),
                nn.Linear(8, 8),
                nn.ELU(),
                nn.Linear(8, 6),
                nn.Softmax(dim=-1),
                nn.Tanh(),
                nn.Linear(6, 2),
            ),
            3,
        ),
        2,
    ),
    "lstm": (_build(lambda: nn.Sequential(nn.LSTM(2, 6, batch_first=True), nn.Linear(6, 1)), 4), 2),
    "lstm_3_layers_no_bias": (
        _build(lambda: nn.LSTM(3, 4, num_layers=3, bias=False, batch_first=True), 5),
        3,
    ),
    "gru": (_build(lambda: nn.Sequential(nn.GRU(3, 5, batch_first=True), nn.Linear(5, 2)), 6), 3),
    "gru_2_layers": (_build(lambda: nn.GRU(2, 4, num_layers=2, batch_first=True), 7), 2),
    "gru_no_bias": (_build(lambda: nn.GRU(2, 3, bias=False, batch_first=True), 8), 2),
    "conv1d_valid": (_build(lambda: nn.Conv1d(2, 4, 3, dilation=2), 9), 2),
    "conv1d_causal_padding": (_build(lambda: nn.Conv1d(2, 4, 3, dilation=2, padding=4), 10), 2),
    "conv1d_groups": (_build(lambda: nn.Conv1d(6, 3, 4, dilation=3, groups=3), 11), 6),
    "conv1d_depthwise_no_bias": (_build(lambda: nn.Conv1d(4, 4, 1, groups=4, bias=False), 12), 4),
    "conv_bn_prelu": (
        _build(
            lambda: nn.Sequential(
                nn.Conv1d(1, 8, 3),
                nn.BatchNorm1d(8),
                nn.PReLU(8),
                nn.Conv1d(8, 4, 2, dilation=4, groups=2),
                nn.Tanh(),
            ),
            13,
        ),
        1,
    ),
    "batchnorm_no_affine_shared_prelu": (
        _build(lambda: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, affine=False), nn.PReLU()), 14),
        3,
    ),
    "recurrent_stack": (
        _build(
            lambda: nn.Sequential(
                nn.Linear(1, 8),
                nn.Tanh(),
                nn.LSTM(8, 8, batch_first=True),
                nn.GRU(8, 8, batch_first=True),
                nn.Dropout(0.3),
                nn.Linear(8, 1),
                nn.Sigmoid(),
            ),
            15,
        ),
        1,
    ),
    "nested_with_identity": (
        _build(
            lambda: nn.Sequential(
                nn.Sequential(nn.Conv1d(2, 3, 2), nn.Identity(), nn.ReLU()),
                nn.Sequential(nn.GRU(3, 3, batch_first=True), nn.Sequential(nn.Linear(3, 2))),
            ),
            16,
        ),
        2,
    ),
    "export_order_time_major": (_build(LegacyRecurrent, 17), 2),
    # Activations that cannot fold: each becomes its own `activation` entry after the layer it follows.
    "standalone_activations": (
        _build(
            lambda: nn.Sequential(
                nn.LSTM(2, 5, batch_first=True),
                nn.Tanh(),
                nn.GRU(5, 4, batch_first=True),
                nn.ELU(),
                nn.BatchNorm1d(4),
                nn.Softmax(dim=-1),
                nn.PReLU(4),
                nn.ReLU(),
                nn.Conv1d(4, 3, 2, bias=False),
                nn.Sigmoid(),
                nn.Tanh(),
            ),
            18,
        ),
        2,
    ),
}


def inputs(width: int, steps: int = 64, seed: int = 0) -> np.ndarray:
    """Random [steps, width] inputs in a range that drives tanh/sigmoid gates out of their linear part."""
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=(steps, width))
