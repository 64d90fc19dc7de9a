"""The five production models, as PyTorch modules with seeded weights, and the writer of their exports.

The definitions live in the package (not under ``fixtures/``) because the installed CLI needs them at run
time: ``fixtures/production/manifest.json`` names each model's factory
(``verifier.production:emotion_recognizer``) so that ``verify --manifest ...`` can compare the shipped JSON
with the torch module it came from, and a wheel does not carry ``fixtures/``.

Each model is one call of the plugin: PyTorch runs it on a single step from a zero LSTM state. ``forward``
also accepts a sequence ``[B, T, in]`` (batch first), which it runs as one stream from zero state — the
convention ``verifier.pytorch.run`` uses — so a one-step call is ``model(x[None, None, :])``.

Weights come from ``numpy.random.default_rng(seed)`` with PyTorch's default bounds (``±1/sqrt(fan_in)`` for
Linear, ``±1/sqrt(H)`` for LSTM) rather than from ``torch.manual_seed``: NumPy's PCG64 stream is documented
as stable, so ``verify-production --write fixtures/production/models`` regenerates the
exports (too large to commit) byte for byte on any machine, as the manifest's SHA-256 pins them.

The layer tables are the design document's; the parameter counts it claims are kept, wrong as they are, in
``fixtures/production/claimed.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

# One seed per model so that adding a model never changes another one's weights.
SEEDS = {
    "EmotionRecognizer": 1001,
    "MelodyTransformer": 1002,
    "HarmonyPredictor": 1003,
    "DynamicsEngine": 1004,
    "GroovePredictor": 1005,
}

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "softmax": lambda: nn.Softmax(dim=-1),
}


class _Chain(nn.Module):
    """Linear/LSTM layers run in ``export_order``; an LSTM's ``(output, state)`` tuple is unwrapped.

    Subclasses only build their submodules; ``export_order`` (the contract with ``verifier.pytorch.export``)
    is the single statement of the forward order, so the module and its export cannot disagree.
    """

    export_order: Sequence[str] = ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeeze = x.dim() == 1
        if squeeze:  # one step of one call: [in] -> [1, 1, in]
            x = x[None, None, :]
        for name in self.export_order:
            layer = getattr(self, name)
            x = layer(x)
            if isinstance(layer, nn.LSTM):
                x = x[0]  # zero initial state: PyTorch's h0 = c0 = None
        return x[0, 0] if squeeze else x


def _add(model: _Chain, order: list[str], name: str, layer: nn.Module, activation: str | None) -> None:
    setattr(model, name, layer)
    order.append(name)
    if activation is not None:
        setattr(model, f"{name}_act", _ACTIVATIONS[activation]())
        order.append(f"{name}_act")


class EmotionRecognizer(_Chain):
    """128 -> Linear 512 tanh -> Linear 256 tanh -> LSTM 128 -> Linear 64 tanh."""

    def __init__(self) -> None:
        super().__init__()
        order: list[str] = []
        _add(self, order, "fc1", nn.Linear(128, 512), "tanh")
        _add(self, order, "fc2", nn.Linear(512, 256), "tanh")
        _add(self, order, "lstm", nn.LSTM(256, 128, batch_first=True), None)
        _add(self, order, "fc3", nn.Linear(128, 64), "tanh")
        self.export_order = tuple(order)


class MelodyTransformer(_Chain):
    """64 -> Linear 256 relu -> LSTM 256 -> Linear 256 relu -> Linear 128 sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        order: list[str] = []
        _add(self, order, "fc1", nn.Linear(64, 256), "relu")
        _add(self, order, "lstm", nn.LSTM(256, 256, batch_first=True), None)
        _add(self, order, "fc2", nn.Linear(256, 256), "relu")
        _add(self, order, "fc3", nn.Linear(256, 128), "sigmoid")
        self.export_order = tuple(order)


class HarmonyPredictor(_Chain):
    """128 -> Linear 256 tanh -> Linear 128 tanh -> Linear 64 softmax."""

    def __init__(self) -> None:
        super().__init__()
        order: list[str] = []
        _add(self, order, "fc1", nn.Linear(128, 256), "tanh")
        _add(self, order, "fc2", nn.Linear(256, 128), "tanh")
        _add(self, order, "fc3", nn.Linear(128, 64), "softmax")
        self.export_order = tuple(order)


class DynamicsEngine(_Chain):
    """32 -> Linear 128 relu -> Linear 64 relu -> Linear 16 sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        order: list[str] = []
        _add(self, order, "fc1", nn.Linear(32, 128), "relu")
        _add(self, order, "fc2", nn.Linear(128, 64), "relu")
        _add(self, order, "fc3", nn.Linear(64, 16), "sigmoid")
        self.export_order = tuple(order)


class GroovePredictor(_Chain):
    """64 -> Linear 128 tanh -> Linear 64 tanh -> Linear 32 tanh."""

    def __init__(self) -> None:
        super().__init__()
        order: list[str] = []
        _add(self, order, "fc1", nn.Linear(64, 128), "tanh")
        _add(self, order, "fc2", nn.Linear(128, 64), "tanh")
        _add(self, order, "fc3", nn.Linear(64, 32), "tanh")
        self.export_order = tuple(order)


CLASSES: dict[str, type[_Chain]] = {
    "EmotionRecognizer": EmotionRecognizer,
    "MelodyTransformer": MelodyTransformer,
    "HarmonyPredictor": HarmonyPredictor,
    "DynamicsEngine": DynamicsEngine,
    "GroovePredictor": GroovePredictor,
}


def seed_weights(module: nn.Module, seed: int) -> nn.Module:
    """Overwrite every parameter with seeded uniform values in PyTorch's default ranges (in place)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            owner = module.get_submodule(name.rpartition(".")[0])
            if isinstance(owner, nn.LSTM):
                bound = 1.0 / math.sqrt(owner.hidden_size)
            elif isinstance(owner, nn.Linear):
                bound = 1.0 / math.sqrt(owner.in_features)
            else:
                raise TypeError(f"no initialisation rule for {type(owner).__name__}")
            values = rng.uniform(-bound, bound, size=tuple(param.shape)).astype(np.float32)
            param.copy_(torch.from_numpy(values))
    return module.eval()


def build(name: str, seed: int | None = None) -> _Chain:
    """The production model ``name`` with its seeded weights (``seed`` defaults to the model's own)."""
    if name not in CLASSES:
        raise KeyError(f"no production model {name!r}; known: {', '.join(CLASSES)}")
    return seed_weights(CLASSES[name](), SEEDS[name] if seed is None else seed)  # type: ignore[return-value]


# Factories by file stem, the names the manifest's "factory" entries use (module:factory).
def emotion_recognizer() -> nn.Module:
    return build("EmotionRecognizer")


def melody_transformer() -> nn.Module:
    return build("MelodyTransformer")


def harmony_predictor() -> nn.Module:
    return build("HarmonyPredictor")


def dynamics_engine() -> nn.Module:
    return build("DynamicsEngine")


def groove_predictor() -> nn.Module:
    return build("GroovePredictor")


FILE_STEMS = {
    "EmotionRecognizer": "emotion_recognizer",
    "MelodyTransformer": "melody_transformer",
    "HarmonyPredictor": "harmony_predictor",
    "DynamicsEngine": "dynamics_engine",
    "GroovePredictor": "groove_predictor",
}


@dataclass(frozen=True)
class WrittenFile:
    model: str
    path: Path


def write_exports(directory: str | Path) -> list[WrittenFile]:
    """Export the five models to ``directory/<stem>.json`` (deterministic bytes); returns what was written."""
    from verifier.pytorch.export import export

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stem in FILE_STEMS.items():
        path = out / f"{stem}.json"
        export(build(name), path)
        written.append(WrittenFile(name, path))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify-production",
        description="Regenerate the production fixtures (the five models' keras-json exports).",
    )
    parser.add_argument("--write", metavar="DIR", required=True, help="directory to write the exports to")
    args = parser.parse_args(argv)
    for item in write_exports(args.write):
        print(f"{item.model}: {item.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
