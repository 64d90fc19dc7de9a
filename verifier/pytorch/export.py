"""PyTorch module -> RTNeural keras-json (docs/format.md §14, the pitfalls of §15).

The exported document describes the module *as RTNeural streams it*: one time step per ``forward()``,
every recurrent and convolution layer carrying state from zero. In particular:

* An ``nn.Conv1d`` becomes a causal streaming convolution. With ``padding=0`` ("valid") PyTorch's output
  ``n`` is RTNeural's step ``n + (K-1)*d`` (the convolution's latency); with ``padding=(K-1)*d`` (pad both
  sides, keep the first T outputs: the usual causal idiom) the steps coincide. ``verifier.pytorch.run.stream``
  runs a module with that causal alignment, so it matches the export step for step.
* ``nn.LSTM`` / ``nn.GRU`` write one entry per stacked layer; standing directly in an ``nn.Sequential``,
  their output sequence feeds the next module (RNN state is never exported: RTNeural starts from zero).
* BatchNorm uses the running statistics (eval behaviour) and dropout writes nothing: the export is always
  the eval-mode model, whatever mode the module is in. The module itself is never modified.

Only modules of exactly the supported classes are exported: a subclass may override ``forward`` and
compute something the weights alone do not describe. A custom container declares the order of its
submodules with an ``export_order`` attribute; it is trusted to run them as a plain chain (in the streaming
sense above). ``verifier.pytorch.rebuild`` declares its layout wrappers (causal padding around an
``nn.Conv1d``, the output sequence of a batch-first ``nn.LSTM``/``nn.GRU``, the feature axis of
``nn.BatchNorm1d`` and ``nn.PReLU``) this way, which is why ``export(reference(doc))`` gives back ``doc``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from verifier.errors import ExportError

__all__ = ["Leaf", "check_exportable", "document_bytes", "export", "leaf_modules"]

# Activation modules RTNeural names directly (docs/format.md §4); ELU and Softmax are checked separately.
_ACTIVATION_NAMES: dict[type[nn.Module], str] = {
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.Sigmoid: "sigmoid",
    nn.ELU: "elu",
    nn.Softmax: "softmax",
}
_NO_OPS = (nn.Identity, nn.Dropout, nn.Dropout1d)  # dropout is the identity in eval
# Entry types whose own `activation` RTNeural applies (docs/format.md §3.4); folding targets.
_FOLDABLE = ("dense", "conv1d")

# Modules people reach for that have no keras-json form, with what to do instead.
_REFUSED: dict[type[nn.Module], str] = {
    nn.RNN: "a vanilla nn.RNN has no RTNeural JSON layer (only lstm and gru exist); use nn.GRU or nn.LSTM",
    nn.LeakyReLU: (
        "RTNeural's JSON activations are tanh, relu, sigmoid, softmax and elu(alpha=1); LeakyReLU is not one "
        "of them (an nn.PReLU whose alpha is fixed to the negative slope computes the same function)"
    ),
    nn.GELU: "RTNeural's JSON activations are tanh, relu, sigmoid, softmax and elu(alpha=1); GELU is not one",
    nn.SiLU: "RTNeural's JSON activations are tanh, relu, sigmoid, softmax and elu(alpha=1); SiLU is not one",
    nn.ConvTranspose1d: (
        "ConvTranspose1d has no keras-json layer; RTNeural runs it only from C++ through "
        "torch_helpers::loadConvTranspose1D with a zero-stuffed input (docs/format.md §16.2)"
    ),
    nn.Conv2d: "nn.Conv2d export is out of scope of this exporter (its time/feature layout is ambiguous)",
}
_SUPPORTED = (
    "nn.Linear, nn.LSTM, nn.GRU, nn.Conv1d, nn.BatchNorm1d, nn.PReLU, nn.Tanh, nn.ReLU, nn.Sigmoid, "
    "nn.Softmax(dim=-1), nn.ELU(alpha=1), nn.Identity, nn.Dropout, nn.Sequential, or a module declaring "
    "`export_order`"
)


@dataclass(frozen=True)
class Leaf:
    """One module of the exported chain, in forward order."""

    name: str  # qualified name inside the exported module ("0", "encoder.lstm"); class name for the root
    module: nn.Module
    in_sequential: bool  # stands directly in an nn.Sequential (RNN output sequence feeds the next module)


def export(
    module: nn.Module, path: str | os.PathLike[str] | None = None, *, in_size: int | None = None
) -> dict[str, Any]:
    """The keras-json document of ``module``; also written to ``path`` (deterministic bytes) when given.

    ``in_size`` is needed only when the first layer does not fix the input width (a model starting with an
    activation); when given it must agree with the first layer. Raises ExportError(module name, reason)
    for anything RTNeural cannot express.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"export expects a torch.nn.Module, got {type(module).__name__}")
    if in_size is not None and (isinstance(in_size, bool) or not isinstance(in_size, int) or in_size < 1):
        raise ExportError(_root_name(module), f"in_size must be a positive integer, got {in_size!r}")
    entries: list[dict[str, Any]] = []
    first_width: int | None = in_size
    width = in_size
    for leaf in leaf_modules(module):
        new_entries, width = _convert(leaf, width)
        entries.extend(new_entries)
        if first_width is None:
            first_width = _entry_in_width(leaf, width)
    if not entries:
        raise ExportError(
            _root_name(module),
            "nothing to export: the module holds no layer RTNeural can run (an empty JSON model crashes "
            "RTNeural's forward())",
        )
    doc = {"in_shape": [None, None, first_width], "layers": _fold_activations(entries)}
    if path is not None:
        with open(path, "wb") as handle:
            handle.write(document_bytes(doc))
    return doc


# Set by check_exportable: every check of export() runs (types, options, widths, finite values), but no weight
# is turned into Python numbers -- the costly part for a large model (640k weights: about a second).
_CHECK_ONLY: ContextVar[bool] = ContextVar("check_only", default=False)


def check_exportable(module: nn.Module, *, in_size: int | None = None) -> None:
    """Raise the :class:`ExportError` :func:`export` would raise for ``module``, without building the
    document (no weight is converted to Python numbers)."""
    token = _CHECK_ONLY.set(True)
    try:
        export(module, in_size=in_size)
    finally:
        _CHECK_ONLY.reset(token)


def document_bytes(doc: dict[str, Any]) -> bytes:
    """The file form of a document: compact, key order as built, so one module always gives one file; each
    layer starts a line of its own, so a finding's line:column points at its layer (a one-line file puts
    every finding on line 1), for one byte per layer."""
    parts = []
    for key, value in doc.items():
        if key == "layers" and isinstance(value, list) and value:
            value_text = "[\n" + ",\n".join(_compact(layer) for layer in value) + "\n]"
        else:
            value_text = _compact(value)
        parts.append(f"{_compact(key)}:{value_text}")
    return ("{" + ",".join(parts) + "}\n").encode("utf-8")


def _compact(value: Any) -> str:
    return json.dumps(value, indent=None, separators=(",", ":"), allow_nan=False)


# --- walking the module tree -----------------------------------------------------------------------------


def leaf_modules(module: nn.Module) -> list[Leaf]:
    """The modules of ``module`` in forward order, containers flattened (what export and stream walk)."""
    return list(_walk(module, "", in_sequential=False))


def _walk(module: nn.Module, name: str, in_sequential: bool) -> Iterator[Leaf]:
    order = getattr(module, "export_order", None)
    if order is not None:
        yield from _walk_declared(module, name, order)
    elif isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
        for child_name, child in module.named_children():
            yield from _walk(child, _join(name, child_name), in_sequential=True)
    else:
        yield Leaf(name or type(module).__name__, module, in_sequential)


def _walk_declared(module: nn.Module, name: str, order: Any) -> Iterator[Leaf]:
    here = name or type(module).__name__
    if isinstance(order, str) or not isinstance(order, Sequence):
        raise ExportError(here, f"export_order must be a sequence of submodule names, got {order!r}")
    for sub in order:
        if not isinstance(sub, str):
            raise ExportError(here, f"export_order entries must be submodule names (str), got {sub!r}")
        try:
            child = module.get_submodule(sub)
        except AttributeError:
            raise ExportError(here, f"export_order names {sub!r}, which is not a submodule") from None
        yield from _walk(child, _join(name, sub), in_sequential=False)
    _refuse_unlisted_weights(module, name, order)


def _refuse_unlisted_weights(module: nn.Module, name: str, order: Sequence[str]) -> None:
    # A JSON model is a plain chain: weights outside the declared chain (a residual branch, a parameter
    # used in forward) would be silently dropped, giving a file that computes something else.
    own = [n for n, p in module.named_parameters(recurse=False) if p is not None]
    if own:
        raise ExportError(
            name or type(module).__name__, f"holds its own parameters {own}, which export_order cannot place"
        )
    for child_name, child in module.named_children():
        listed = any(s == child_name or s.startswith(child_name + ".") for s in order)
        if not listed and any(True for _ in child.parameters()):
            raise ExportError(
                _join(name, child_name),
                "has weights but is not in its parent's export_order; a keras-json model is a single "
                "chain, so a branch such as a residual path cannot be exported",
            )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _root_name(module: nn.Module) -> str:
    return type(module).__name__


# --- one module -> entries -------------------------------------------------------------------------------


def _convert(leaf: Leaf, width: int | None) -> tuple[list[dict[str, Any]], int | None]:
    m = leaf.module
    kind = type(m)
    # Exact types, not isinstance: a subclass may override forward() with maths the entry cannot express.
    if kind is nn.Linear:
        return _linear(leaf.name, cast(nn.Linear, m), width)
    if kind is nn.LSTM or kind is nn.GRU:
        return _recurrent(leaf, width)
    if kind is nn.Conv1d:
        return _conv1d(leaf.name, cast(nn.Conv1d, m), width)
    if kind is nn.BatchNorm1d:
        return _batchnorm(leaf.name, cast(nn.BatchNorm1d, m), width)
    if kind is nn.PReLU:
        return _prelu(leaf.name, cast(nn.PReLU, m), width)
    if kind in _ACTIVATION_NAMES:
        return _activation(leaf.name, m, width)
    if kind in _NO_OPS:
        return [], width
    if kind in _REFUSED:
        raise ExportError(leaf.name, _REFUSED[kind])
    raise ExportError(
        leaf.name,
        f"unsupported module type {kind.__module__}.{kind.__qualname__}; supported: {_SUPPORTED} "
        "(subclasses are refused because their forward may differ)",
    )


def _entry_in_width(leaf: Leaf, width_after: int | None) -> int | None:
    """The input width fixed by the first module that writes an entry (None for a no-op)."""
    m = leaf.module
    if isinstance(m, nn.Linear):
        return m.in_features
    if isinstance(m, (nn.LSTM, nn.GRU)):
        return m.input_size
    if isinstance(m, nn.Conv1d):
        return m.in_channels
    if type(m) in _NO_OPS:
        return None
    return width_after  # width-preserving modules


def _known_width(name: str, width: int | None) -> int:
    if width is None:
        raise ExportError(
            name,
            "the model starts with a module that does not fix the input width; "
            "pass it as export(module, in_size=...)",
        )
    return width


def _expect_width(name: str, needed: int, width: int | None) -> None:
    if width is not None and width != needed:
        raise ExportError(name, f"expects {needed} input features but gets {width}")


def _entry(kind: str, width: int, weights: list[Any], **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "activation": "", "shape": [None, None, width]}
    entry.update(extra)
    entry["weights"] = weights
    return entry


def _values(name: str, tensor: torch.Tensor, what: str) -> Any:
    """Nested lists of Python floats holding the tensor's exact values (float64 keeps float32 exact)."""
    data = tensor.detach().to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(data).all()):
        raise ExportError(name, f"{what} contains NaN or infinity, which JSON cannot carry")
    return None if _CHECK_ONLY.get() else data.tolist()


def _linear(name: str, m: nn.Linear, width: int | None) -> tuple[list[dict[str, Any]], int]:
    _expect_width(name, m.in_features, width)
    weights = [_values(name, m.weight.T, "weight")]  # torch [out][in] -> JSON [in][out]
    if m.bias is not None:
        weights.append(_values(name, m.bias, "bias"))
    return [_entry("dense", m.out_features, weights)], m.out_features


def _recurrent(leaf: Leaf, width: int | None) -> tuple[list[dict[str, Any]], int]:
    m = cast("nn.LSTM | nn.GRU", leaf.module)
    name = leaf.name
    kind = "lstm" if isinstance(m, nn.LSTM) else "gru"
    if m.bidirectional:
        raise ExportError(name, f"bidirectional {kind} has no RTNeural counterpart (one direction only)")
    if getattr(m, "proj_size", 0):
        raise ExportError(name, f"proj_size={m.proj_size} has no RTNeural counterpart (no projection)")
    if leaf.in_sequential and not m.batch_first:
        raise ExportError(
            name,
            f"an nn.{type(m).__name__} standing in an nn.Sequential must have batch_first=True: with "
            "batch_first=False the chain's time axis is ambiguous (wrap it in a module declaring "
            "export_order if its forward handles the layout)",
        )
    _expect_width(name, m.input_size, width)
    if isinstance(m, nn.LSTM):
        layers = [_lstm_layer(name, m, k) for k in range(m.num_layers)]
    else:
        layers = [_gru_layer(name, m, k) for k in range(m.num_layers)]
    entries = [_entry(kind, m.hidden_size, weights) for weights in layers]
    return entries, m.hidden_size


def _layer_params(m: nn.LSTM | nn.GRU, k: int, gates: int) -> tuple[torch.Tensor, ...]:
    w_ih = getattr(m, f"weight_ih_l{k}")
    w_hh = getattr(m, f"weight_hh_l{k}")
    if m.bias:
        return w_ih, w_hh, getattr(m, f"bias_ih_l{k}"), getattr(m, f"bias_hh_l{k}")
    zeros = torch.zeros(gates * m.hidden_size, dtype=torch.float64)
    return w_ih, w_hh, zeros, zeros


def _lstm_layer(name: str, m: nn.LSTM, k: int) -> list[Any]:
    w_ih, w_hh, b_ih, b_hh = _layer_params(m, k, 4)
    # Gate order i,f,g,o is RTNeural's too; RTNeural has one bias, so PyTorch's two are summed (in float64,
    # the exact sum of the module's values, rounded once by the engine at load).
    bias = b_ih.detach().double() + b_hh.detach().double()
    return [
        _values(name, w_ih.T, f"weight_ih_l{k}"),
        _values(name, w_hh.T, f"weight_hh_l{k}"),
        _values(name, bias, f"bias_l{k}"),
    ]


def _zrn(t: torch.Tensor) -> torch.Tensor:
    """PyTorch's GRU row blocks r,z,n reordered as RTNeural's z,r,n (docs/format.md §8 gru)."""
    r, z, n = t.chunk(3, dim=0)
    return torch.cat([z, r, n], dim=0)


def _gru_layer(name: str, m: nn.GRU, k: int) -> list[Any]:
    w_ih, w_hh, b_ih, b_hh = _layer_params(m, k, 3)
    # Two bias rows (input, recurrent): the candidate's recurrent bias sits inside r * (...), so the two
    # biases must not be summed.
    return [
        _values(name, _zrn(w_ih).T, f"weight_ih_l{k}"),
        _values(name, _zrn(w_hh).T, f"weight_hh_l{k}"),
        [_values(name, _zrn(b_ih), f"bias_ih_l{k}"), _values(name, _zrn(b_hh), f"bias_hh_l{k}")],
    ]


def _conv1d(name: str, m: nn.Conv1d, width: int | None) -> tuple[list[dict[str, Any]], int]:
    _expect_width(name, m.in_channels, width)
    (kernel,), (dilation,), (stride,) = m.kernel_size, m.dilation, m.stride
    if stride != 1:
        raise ExportError(
            name,
            f"stride={stride}: a JSON conv1d always has stride 1 (RTNeural's strided convolution exists "
            "only in C++, docs/format.md §16.3)",
        )
    if m.padding_mode != "zeros":
        raise ExportError(
            name, f"padding_mode={m.padding_mode!r}: RTNeural's causal history starts from zeros"
        )
    latency = (kernel - 1) * dilation
    if not _padding_is_streamable(m.padding, latency):
        raise ExportError(
            name,
            f"padding={m.padding!r} cannot be reproduced: RTNeural's conv1d is causal, which matches "
            f"PyTorch only with padding=0 ('valid', output n = RTNeural step n + {latency}) or "
            f"padding={latency} ((K-1)*dilation, keep the first T outputs)",
        )
    bias = m.bias if m.bias is not None else torch.zeros(m.out_channels)  # JSON conv1d bias is mandatory
    weights = [
        _values(name, m.weight.permute(2, 1, 0), "weight"),  # [out][in/g][K] -> [K][in/g][out], no flip
        _values(name, bias, "bias"),
    ]
    entry = _entry(
        "conv1d", m.out_channels, weights, kernel_size=[kernel], dilation=[dilation], groups=m.groups
    )
    return [entry], m.out_channels


def _padding_is_streamable(padding: str | tuple[int, ...], latency: int) -> bool:
    if padding == "valid":
        return True
    if padding == "same":
        return latency == 0
    return padding[0] in (0, latency)


def _batchnorm(name: str, m: nn.BatchNorm1d, width: int | None) -> tuple[list[dict[str, Any]], int]:
    _expect_width(name, m.num_features, width)
    if not m.track_running_stats or m.running_mean is None or m.running_var is None:
        raise ExportError(
            name,
            "track_running_stats=False normalises with batch statistics, which a one-step stream does "
            "not have; RTNeural needs running statistics",
        )
    stats = [_values(name, m.running_mean, "running_mean"), _values(name, m.running_var, "running_var")]
    if m.affine:
        weights = [_values(name, m.weight, "weight"), _values(name, m.bias, "bias"), *stats]
    else:
        weights = stats  # RTNeural reads any count other than 4 as [mean, var] with gamma 1, beta 0
    entry = _entry("batchnorm", m.num_features, weights, epsilon=float(m.eps))
    return [entry], m.num_features


def _prelu(name: str, m: nn.PReLU, width: int | None) -> tuple[list[dict[str, Any]], int]:
    count = m.num_parameters
    if width is None:
        if count == 1:
            _known_width(name, width)
        width = count
    if count not in (1, width):
        raise ExportError(name, f"has {count} alphas but the layer vector has {width} features")
    return [_entry("prelu", width, [[_values(name, m.weight, "weight")]])], width


def _activation(name: str, m: nn.Module, width: int | None) -> tuple[list[dict[str, Any]], int]:
    if isinstance(m, nn.ELU) and float(m.alpha) != 1.0:
        raise ExportError(name, f"ELU alpha={m.alpha}: RTNeural's JSON elu has alpha fixed at 1")
    if isinstance(m, nn.Softmax) and m.dim not in (-1, 2):
        raise ExportError(
            name,
            f"Softmax(dim={m.dim}) is not over the feature axis; RTNeural's softmax runs over the layer "
            "vector of one step (use dim=-1)",
        )
    known = _known_width(name, width)
    entry = _entry("activation", known, [])
    entry["activation"] = _ACTIVATION_NAMES[type(m)]
    return [entry], known


def _fold_activations(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put an activation on the dense/conv1d entry right before it when that entry has none."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        previous = out[-1] if out else None
        if (
            entry["type"] == "activation"
            and previous is not None
            and previous["type"] in _FOLDABLE
            and previous["activation"] == ""
        ):
            previous["activation"] = entry["activation"]
        else:
            out.append(entry)
    return out
