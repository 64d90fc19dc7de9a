"""Torch modules the verdict tests name with ``--against verdict_modules:<factory>``.

Each factory seeds torch itself, so a module is the same in every process (``--jobs`` workers included).
"""

from __future__ import annotations

import os

import torch
from torch import nn


class Residual(nn.Module):
    """Declares the chain fc -> tanh, but its forward adds the input back: not what the export computes."""

    export_order = ("fc", "act")

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.fc(x))


class RecurrentResidual(nn.Module):
    """A batch-first LSTM whose output is added back to its (projected) input: stateful and not a chain."""

    export_order = ("lstm", "fc")

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, T, 4]
        return x + self.fc(self.lstm(x)[0])


class TimeMajorChain(nn.Module):
    """A faithful chain whose forward is time-major ([T, B, in]), like RTNeural's own torch test models."""

    export_order = ("gru", "fc")

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 5)
        self.fc = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, 3]
        return self.fc(self.gru(x)[0])


def residual() -> nn.Module:
    torch.manual_seed(0)
    return Residual().eval()


def recurrent_residual() -> nn.Module:
    torch.manual_seed(1)
    return RecurrentResidual().eval()


def time_major_chain() -> nn.Module:
    torch.manual_seed(2)
    return TimeMajorChain().eval()


def faithful() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))


class _RaisesWhenCounted(nn.Sequential):
    """Runs and exports like its layers, but raises when a check counts its parameters."""

    def parameters(self, recurse: bool = True):  # type: ignore[override]
        raise RuntimeError("parameters() raised inside the parameters check")


def raises_in_a_check() -> nn.Module:
    torch.manual_seed(3)
    return _RaisesWhenCounted(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))


def dies() -> nn.Module:
    """Kills the process that calls it (a worker dying mid-check, as a segfault in user code would)."""
    os._exit(7)


class ValidConv(nn.Module):
    """A faithful channels-first Conv1d with no padding: T - 2 outputs, and no output for one step alone."""

    export_order = ("conv", "act")

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, 3, T]
        return self.act(self.conv(x))


def valid_conv() -> nn.Module:
    torch.manual_seed(6)
    return ValidConv().eval()
