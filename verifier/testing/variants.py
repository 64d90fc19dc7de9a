"""Production-sized models for the export mistakes the five production models have no layer for, and a
chaotic recurrent model.

The production models (:mod:`verifier.production`) hold only Linear and LSTM layers, so the GRU and conv1d
mistakes of :mod:`verifier.testing.mistakes` need models of the same size with those layers:

* ``melody_transformer_gru``: MelodyTransformer with its LSTM 256 replaced by a GRU 256 (64 -> 256 relu ->
  GRU 256 -> 256 relu -> 128 sigmoid, 640k parameters);
* ``groove_predictor_conv``: 64 -> Conv1d 128 (kernel 3, 4 groups) tanh -> Conv1d 128 (kernel 3, dilation 2)
  tanh -> LSTM 128 -> Linear 32 tanh (~190k parameters);
* ``chaotic_lstm``: 8 -> LSTM 64 with recurrent weights eight times PyTorch's scale -> Linear 4. Its
  streamed output amplifies rounding: float32 and float64 runs part after a few dozen steps, whatever the
  export. A verifier must say so rather than blame a layer.

Each is a factory (``module:factory`` for ``verify --against``) with weights drawn from a fixed seed.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["chaotic_lstm", "groove_predictor_conv", "melody_transformer_gru"]


class _Chain(nn.Module):
    """Submodules run in ``export_order``; a recurrent layer's ``(output, state)`` is unwrapped, a conv1d
    runs causally (left-padded), so ``forward`` on ``[B, T, in]`` is the stream RTNeural computes."""

    export_order: tuple[str, ...] = ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.export_order:
            layer = getattr(self, name)
            if isinstance(layer, nn.Conv1d):
                pad = (layer.kernel_size[0] - 1) * layer.dilation[0]
                x = layer(nn.functional.pad(x.transpose(1, 2), (pad, 0))).transpose(1, 2)
            elif isinstance(layer, (nn.LSTM, nn.GRU)):
                x = layer(x)[0]
            else:
                x = layer(x)
        return x


def _chain(layers: list[tuple[str, nn.Module]]) -> _Chain:
    model = _Chain()
    for name, layer in layers:
        setattr(model, name, layer)
    model.export_order = tuple(name for name, _ in layers)
    return model.eval()


def melody_transformer_gru() -> nn.Module:
    torch.manual_seed(2002)
    return _chain(
        [
            ("fc1", nn.Linear(64, 256)),
            ("fc1_act", nn.ReLU()),
            ("gru", nn.GRU(256, 256, batch_first=True)),
            ("fc2", nn.Linear(256, 256)),
            ("fc2_act", nn.ReLU()),
            ("fc3", nn.Linear(256, 128)),
            ("fc3_act", nn.Sigmoid()),
        ]
    )


def groove_predictor_conv() -> nn.Module:
    torch.manual_seed(2005)
    return _chain(
        [
            ("conv1", nn.Conv1d(64, 128, 3, groups=4)),
            ("conv1_act", nn.Tanh()),
            ("conv2", nn.Conv1d(128, 128, 3, dilation=2)),
            ("conv2_act", nn.Tanh()),
            ("lstm", nn.LSTM(128, 128, batch_first=True)),
            ("fc", nn.Linear(128, 32)),
            ("fc_act", nn.Tanh()),
        ]
    )


def chaotic_lstm() -> nn.Module:
    torch.manual_seed(0)
    lstm = nn.LSTM(8, 64, batch_first=True)
    with torch.no_grad():
        recurrent = lstm.get_parameter("weight_hh_l0")
        recurrent.copy_(torch.randn_like(recurrent) * 8.0 / 8.0)  # gain 8 over PyTorch's 1/sqrt(64)
    return _chain([("lstm", lstm), ("fc", nn.Linear(64, 4))])
