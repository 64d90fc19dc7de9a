"""A torch module as a chain of *units*, each run on its own: the reference side of layer-by-layer diagnosis.

A unit is the smallest piece of a module whose output a keras-json entry can be compared with: one
``nn.Linear``, one activation module, one layer of a (possibly stacked) ``nn.LSTM``/``nn.GRU``, one
``nn.Conv1d``... They are the modules ``verifier.pytorch.export`` walks (``leaf_modules``: ``export_order``
for custom containers, ``nn.Sequential`` children), with a stacked RNN split into single-layer copies so that
each exported ``lstm``/``gru`` entry has its own output to compare.

Units are run exactly as :func:`verifier.pytorch.run.stream` runs the whole module (causal conv1d,
batch-first RNN output sequences, the feature axis of BatchNorm1d/PReLU): running all units in order gives
the streamed output, and the output of every unit along the way. Each unit has a ``key`` ((kind, width), the
same vocabulary :func:`entry_keys` gives a JSON entry) used to line the two chains up.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from verifier.errors import ExportError
from verifier.pytorch.export import Leaf, leaf_modules
from verifier.pytorch.run import run_leaf

__all__ = ["Unit", "entry_fingerprint", "entry_keys", "fingerprint", "run_units", "units"]

_ACTIVATION_KINDS: dict[type[nn.Module], str] = {
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.Sigmoid: "sigmoid",
    nn.ELU: "elu",
    nn.Softmax: "softmax",
}
_NO_OPS = (nn.Identity, nn.Dropout, nn.Dropout1d)  # eval mode: no entry of their own
_STATEFUL = frozenset({"lstm", "gru", "conv1d", "conv2d"})
# Entry types whose own `activation` RTNeural applies (docs/format.md §3.4); on the others it is not read.
_APPLIES_ACTIVATION = frozenset({"dense", "time-distributed-dense", "conv1d", "conv2d", "activation"})

Key = tuple[str, int]


@dataclass(frozen=True)
class Unit:
    """One step of the reference chain: the module to run, its name in the user's module, its key."""

    name: str  # qualified name in the user's module ("fc2", "encoder.lstm[l1]")
    module: nn.Module
    key: Key  # (kind, output width): ("dense", 256), ("tanh", 256), ("lstm", 128)...
    in_sequential: bool
    fingerprint: str | None = None  # of its input kernel's values (see `fingerprint`); None: no kernel

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
        layers = [_single_layer(m, k) for k in range(m.num_layers)]
        return [
            Unit(
                f"{leaf.name}[l{k}]",
                one,
                (_kind(m), m.hidden_size),
                leaf.in_sequential,
                fingerprint(one.get_parameter("weight_ih_l0")),
            )
            for k, one in enumerate(layers)
        ]
    kind = _kind(m)
    if kind == "identity" and not isinstance(m, _NO_OPS):
        raise ExportError(
            leaf.name, f"{type(m).__name__} is not a module the export knows; no layer to compare"
        )
    return [Unit(leaf.name, m, (kind, _out_width(m, width)), leaf.in_sequential, _unit_fingerprint(m, kind))]


def _unit_fingerprint(m: nn.Module, kind: str) -> str | None:
    """What :func:`entry_fingerprint` gives for this module's export."""
    if kind in ("lstm", "gru"):
        return fingerprint(m.get_parameter("weight_ih_l0"))
    if kind in ("dense", "conv1d", "prelu"):
        return fingerprint(m.get_parameter("weight"))
    if isinstance(m, nn.BatchNorm1d) and m.running_mean is not None and m.running_var is not None:
        arrays: list[torch.Tensor | None] = [m.weight, m.bias] if m.affine else []
        arrays += [m.running_mean, m.running_var]
        return fingerprint(torch.cat([a.detach().reshape(-1) for a in arrays if a is not None]))
    return None


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


def fingerprint(values: Any) -> str | None:
    """The multiset of an array's values at float32, hashed: the same for a kernel transposed, flipped or
    with its gate blocks reordered (every known export mistake keeps it), different for another layer's
    weights. None when ``values`` is not a numeric array."""
    try:
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        with np.errstate(over="ignore"):  # a weight beyond float32 fingerprints as inf, like any other
            array = np.sort(np.asarray(values, dtype=np.float64).astype(np.float32).ravel())
    except (TypeError, ValueError):
        return None
    return hashlib.blake2b(array.tobytes(), digest_size=8).hexdigest()


def entry_fingerprint(entry: Mapping[str, Any]) -> str | None:
    """The fingerprint of a JSON entry's input kernel (``weights[0]``; for prelu and batchnorm, all its
    numbers), for the kinds that have one. Biases are left out: two known mistakes change them."""
    weights = entry.get("weights")
    if not isinstance(weights, list) or not weights:
        return None
    kind = entry.get("type")
    if kind in ("dense", "time-distributed-dense", "lstm", "gru", "conv1d"):
        return fingerprint(weights[0])
    if kind in ("prelu", "batchnorm"):
        try:
            return fingerprint(np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in weights]))
        except (TypeError, ValueError):
            return None
    return None


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
            x = run_leaf(unit.module, x)
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
