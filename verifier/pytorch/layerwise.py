"""A torch module as a chain of *units*, each run on its own: the reference side of layer-by-layer diagnosis.

A unit is the smallest piece of a module whose output a keras-json entry can be compared with: one
``nn.Linear``, one activation module, one layer of a (possibly stacked) ``nn.LSTM``/``nn.GRU``, one
``nn.Conv1d``... They are the modules ``verifier.pytorch.export`` walks (``leaf_modules``: ``export_order``
for custom containers, ``nn.Sequential`` children), with a stacked RNN split into single-layer copies so that
each exported ``lstm``/``gru`` entry has its own output to compare.

Units are run exactly as :func:`verifier.pytorch.reference.stream` runs the whole module (causal conv1d,
batch-first RNN output sequences, the feature axis of BatchNorm1d/PReLU): running all units in order gives
the streamed output, and the output of every unit along the way. Each unit has a ``key`` ((kind, width), the
same vocabulary :func:`entry_keys` gives a JSON entry) used to line the two chains up.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from verifier.errors import ExportError
from verifier.pytorch.export import Leaf, leaf_modules
from verifier.pytorch.reference import _run_leaf

__all__ = ["Unit", "entry_keys", "run_units", "units"]

_ACTIVATION_KINDS: dict[type[nn.Module], str] = {
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.Sigmoid: "sigmoid",
    nn.ELU: "elu",
    nn.Softmax: "softmax",
}
_NO_OPS = (nn.Identity, nn.Dropout, nn.Dropout1d)  # eval mode: no entry of their own
_STATEFUL = frozenset({"lstm", "gru", "conv1d", "conv2d"})
# Entry types whose own `activation` RTNeural applies (FORMAT.md §2.3); on the others it is not read.
_APPLIES_ACTIVATION = frozenset({"dense", "time-distributed-dense", "conv1d", "conv2d", "activation"})

Key = tuple[str, int]


@dataclass(frozen=True)
class Unit:
    """One step of the reference chain: the module to run, its name in the user's module, its key."""

    name: str  # qualified name in the user's module ("fc2", "encoder.lstm[l1]")
    module: nn.Module
    key: Key  # (kind, output width): ("dense", 256), ("tanh", 256), ("lstm", 128)...
    in_sequential: bool

    @property
    def stateful(self) -> bool:
        return self.key[0] in _STATEFUL

    def describe(self) -> str:
        return f"`{self.name}` ({type(self.module).__name__})"


def units(module: nn.Module, in_size: int, dtype: torch.dtype = torch.float64) -> list[Unit]:
    """The units of ``module`` in forward order, as float64 (``dtype``) eval-mode copies."""
    runnable = copy.deepcopy(module).to(dtype).eval()
    found: list[Unit] = []
    width = in_size
    for leaf in leaf_modules(runnable):
        for unit in _split(leaf, width):
            found.append(unit)
            width = unit.key[1]
    return found


def _split(leaf: Leaf, width: int) -> list[Unit]:
    m = leaf.module
    if isinstance(m, (nn.LSTM, nn.GRU)) and m.num_layers > 1:
        return [
            Unit(f"{leaf.name}[l{k}]", _single_layer(m, k), (_kind(m), m.hidden_size), leaf.in_sequential)
            for k in range(m.num_layers)
        ]
    kind = _kind(m)
    if kind == "identity" and not isinstance(m, _NO_OPS):
        raise ExportError(
            leaf.name, f"{type(m).__name__} is not a module the export knows; no layer to compare"
        )
    return [Unit(leaf.name, m, (kind, _out_width(m, width)), leaf.in_sequential)]


def _single_layer(m: nn.LSTM | nn.GRU, k: int) -> nn.Module:
    cls = type(m)
    width = m.input_size if k == 0 else m.hidden_size
    one = cls(width, m.hidden_size, bias=m.bias, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            source = getattr(m, f"{name}_l{k}", None)
            if source is not None:
                getattr(one, f"{name}_l0").copy_(source)
    return one.to(m.get_parameter("weight_ih_l0").dtype).eval()


def _kind(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return "dense"
    if isinstance(m, nn.LSTM):
        return "lstm"
    if isinstance(m, nn.GRU):
        return "gru"
    if isinstance(m, nn.Conv1d):
        return "conv1d"
    if isinstance(m, nn.BatchNorm1d):
        return "batchnorm"
    if isinstance(m, nn.PReLU):
        return "prelu"
    for cls, name in _ACTIVATION_KINDS.items():
        if isinstance(m, cls):
            return name
    return "identity"  # Identity, Dropout (eval): no entry of their own


def _out_width(m: nn.Module, width: int) -> int:
    if isinstance(m, nn.Linear):
        return m.out_features
    if isinstance(m, (nn.LSTM, nn.GRU)):
        return m.hidden_size
    if isinstance(m, nn.Conv1d):
        return m.out_channels
    return width


def run_units(
    chain: Sequence[Unit], xs: np.ndarray, *, frame: bool, dtype: torch.dtype = torch.float64
) -> list[np.ndarray]:
    """``xs`` [T, in] through ``chain`` from zero state; the ``[T, width]`` output of every unit, in order.

    ``frame``: every step from zero state (a batch of T one-step sequences), else one stream.
    """
    x = torch.as_tensor(np.asarray(xs), dtype=dtype)
    x = x.unsqueeze(1) if frame else x.unsqueeze(0)
    outputs: list[np.ndarray] = []
    with torch.no_grad():
        for unit in chain:
            x = _run_leaf(Leaf(unit.name, unit.module, unit.in_sequential), x)
            outputs.append((x[:, 0] if frame else x[0]).numpy().copy())
    return outputs


def entry_keys(entry: Mapping[str, Any], width: int | None) -> list[Key]:
    """The unit keys a JSON entry computes, in order (dense with tanh: ``[("dense", w), ("tanh", w)]``)."""
    kind = entry.get("type")
    out = _entry_width(entry, width)
    keys: list[Key] = []
    if kind in ("dense", "time-distributed-dense"):
        keys.append(("dense", out))
    elif kind in ("lstm", "gru", "conv1d", "conv2d", "batchnorm", "batchnorm2d", "prelu"):
        keys.append((str(kind).replace("batchnorm2d", "batchnorm"), out))
    activation = entry.get("activation", "")
    if kind in _APPLIES_ACTIVATION and isinstance(activation, str) and activation:
        keys.append((activation, out))
    return keys


def _entry_width(entry: Mapping[str, Any], width: int | None) -> int:
    from verifier.format.structure import shape_width

    if entry.get("type") in ("activation", "prelu", "batchnorm", "batchnorm2d") and width is not None:
        return width  # RTNeural builds these with the width that flows in
    return shape_width(entry.get("shape")) or width or 0
