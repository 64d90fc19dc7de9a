"""The JSON's own reference: keras-json rebuilt as stock torch modules (``reference(source)``).


``reference(source)`` reads the JSON and undoes every format transform (dense transpose, GRU z,r,n ->
r,z,n, one LSTM bias, conv kernel permutation) to build stock torch layers, so it shares no code and no
layout with the C++ engine: when both agree, neither has misread the format in the same way.

The rebuild is itself a module ``verifier.pytorch.export`` accepts, so ``export(reference(doc)) == doc`` for
every document ``export`` writes: each JSON entry becomes exactly the stock module ``export`` turns back into
that entry (``nn.Linear`` without bias when the JSON has none, ``nn.BatchNorm1d`` with ``affine`` only for
four arrays, one single-layer ``nn.LSTM``/``nn.GRU`` per entry, an activation module after a dense or
conv1d entry, which ``export`` folds back). Where PyTorch's layout or alignment is not RTNeural's, a small
wrapper (causal padding, RNN output sequence, feature axis) holds the stock module and declares it with
``export_order``, the exporter's ordinary protocol for a container whose forward is the RTNeural stream of
its submodules. Conv2d and batchnorm2d entries, which ``export`` never writes, are rebuilt by wrappers that
the exporter refuses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from verifier.errors import ModelFormatError
from verifier.format.findings import Limits
from verifier.format.loaders.state_dict import (
    STATE_DICT_KEYS,
    check_state_dict,
    declared,
    is_state_dict,
    refuse_on_error,
)
from verifier.format.loaders.torch_helpers import check_torch_helpers, is_torch_helpers
from verifier.format.loaders.torch_helpers import layers as declared_layers
from verifier.format.reader.document import is_numeric_array, read
from verifier.format.validate import KEY_ORDER

__all__ = ["ReferenceModel", "reference"]

# The stock modules `export` names exactly these activations (nn.Softmax only with dim=-1, nn.ELU only
# with alpha=1), so each one exports back to its name.
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "softmax": lambda: nn.Softmax(dim=-1),  # over the layer vector of one step
    "elu": lambda: nn.ELU(alpha=1.0),
}
# Entry types whose `activation` RTNeural applies; on the others it is ignored (docs/format.md §3.4).
_APPLIES_ACTIVATION = ("dense", "time-distributed-dense", "conv1d", "conv2d", "activation")


# --- reading the document --------------------------------------------------------------------------------


class _Place:
    """A JSON pointer into the document being rebuilt, for errors that say where."""

    def __init__(self, source: str, pointer: str = "") -> None:
        self.source = source
        self.pointer = pointer

    def at(self, key: str | int) -> _Place:
        token = str(key).replace("~", "~0").replace("/", "~1")
        return _Place(self.source, f"{self.pointer}/{token}")

    def error(self, message: str, expected: str | None = None, found: Any = None) -> ModelFormatError:
        shown = None if found is None else _short(found)
        return ModelFormatError(self.pointer, message, expected=expected, found=shown, source=self.source)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(obj: Any, key: str | int, place: _Place) -> tuple[Any, _Place]:
    inner = place.at(key)
    if is_numeric_array(obj):  # an array indexed into (a prelu's row of alphas): small, made a list
        obj = obj.to_numpy().tolist()
    if isinstance(key, str):
        if not isinstance(obj, dict) or key not in obj:
            raise inner.error(f"missing key {key!r}")
        return obj[key], inner
    if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
        raise inner.error("missing array element", expected=f"an array with element {key}", found=obj)
    return obj[key], inner


def _last_int(value: Any, place: _Place) -> int:
    """RTNeural reads sizes as a number or the last element of a list ("[3]" from Keras)."""
    if isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise place.error("expected a positive integer (or a list ending in one)", found=value)
    return int(value)


def _width(shape: Any, place: _Place) -> int:
    if not isinstance(shape, list) or not shape:
        raise place.error("expected a non-empty array", found=shape)
    if len(shape) == 4:
        return _last_int(shape[2], place.at(2)) * _last_int(shape[3], place.at(3))
    return _last_int(shape[-1], place.at(len(shape) - 1))


def _array(value: Any, place: _Place, dims: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    try:
        if is_numeric_array(value):
            tensor = torch.from_numpy(value.to_numpy()).to(dtype)
        else:
            tensor = torch.tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        raise place.error("expected a rectangular array of numbers", found=value) from None
    if tuple(tensor.shape) != dims:
        raise place.error(
            "array has the wrong shape", expected=str(list(dims)), found=str(list(tensor.shape))
        )
    return tensor


# --- the rebuilt layers (all take and give [batch, time, features]) --------------------------------------
# A wrapper with `export_order` computes exactly what verifier.pytorch.run.stream computes for the stock
# module it names, so export() may read it as that module.


class _Causal(nn.Module):
    """A stock Conv1d run causally: left-pad the time axis with (K-1)*d zeros (RTNeural's zero history)."""

    export_order = ("conv",)  # padding 0: export's causal streaming convolution

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        self.conv = conv
        self.latency = (conv.kernel_size[0] - 1) * conv.dilation[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x.transpose(1, 2), (self.latency, 0))
        return self.conv(padded).transpose(1, 2)


class _Recurrent(nn.Module):
    """A stock batch-first LSTM/GRU from zero state; its output sequence feeds the next layer."""

    export_order = ("rnn",)

    def __init__(self, rnn: nn.LSTM | nn.GRU) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]  # zero initial state


class _Features(nn.Module):
    """A stock channel-axis module (BatchNorm1d, PReLU) applied to the feature vector of every step."""

    export_order = ("module",)

    def __init__(self, module: nn.BatchNorm1d | nn.PReLU) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.transpose(1, 2)).transpose(1, 2)  # torch's channel axis is 1


class _Affine(nn.Module):
    """Batchnorm2d maths written out: gamma * (x - mean) / sqrt(var + eps) + beta, per channel of a frame."""

    def __init__(
        self,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        mean: torch.Tensor,
        var: torch.Tensor,
        eps: float,
        channels: int,
    ) -> None:
        super().__init__()
        for name, value in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
            self.register_buffer(name, value)
        self.eps = eps
        self.channels = channels  # the frame is feature-major, channel-minor (batchnorm2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gamma, beta, mean, var = (self.get_buffer(n) for n in ("gamma", "beta", "mean", "var"))
        frames = x.unflatten(-1, (-1, self.channels))
        y = gamma * (frames - mean) / torch.sqrt(var + self.eps) + beta
        return y.flatten(-2)


class _Conv2d(nn.Module):
    """Conv2d over (time, feature) frames: causal 'valid' in time, valid/TF-'same' along features."""

    def __init__(self, conv: nn.Conv2d, features_in: int, channels_in: int, pad: tuple[int, int]) -> None:
        super().__init__()
        self.conv = conv
        self.features_in = features_in
        self.channels_in = channels_in
        self.pad = pad
        self.latency = (conv.kernel_size[0] - 1) * conv.dilation[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.unflatten(-1, (self.features_in, self.channels_in)).permute(0, 3, 1, 2)  # [B, C, T, F]
        padded = F.pad(frames, (self.pad[0], self.pad[1], self.latency, 0))
        y = self.conv(padded)  # [B, C_out, T, F_out]
        return y.permute(0, 2, 3, 1).flatten(-2)


class ReferenceModel(nn.Module):
    """The rebuilt chain. Input ``[T, in]`` or ``[B, T, in]``; output of the same rank, from zero state.

    ``layers`` is an ``nn.Sequential`` in JSON order, which is what ``export`` walks.
    """

    export_order = ("layers",)

    def __init__(
        self, layers: list[nn.Module], in_size: int, out_size: int, source: str, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.in_size = in_size
        self.out_size = out_size
        self.source = source
        self.dtype = dtype

    def forward(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=self.dtype)
        if x.dim() not in (2, 3) or x.shape[-1] != self.in_size:
            raise ValueError(
                f"{self.source}: input must be [T, {self.in_size}] or [B, T, {self.in_size}], "
                f"got {list(x.shape)}"
            )
        y = x if x.dim() == 3 else x.unsqueeze(0)
        with torch.no_grad():
            y = self.layers(y)
        return y if x.dim() == 3 else y.squeeze(0)

    def train(self, mode: bool = True) -> ReferenceModel:
        # The file's model has no training mode: batchnorm always uses the file's statistics (in train mode
        # nn.BatchNorm1d would use batch statistics and overwrite them).
        return super().train(False)


def reference(
    source: str | os.PathLike[str] | dict[str, Any] | bytes, dtype: torch.dtype = torch.float64
) -> ReferenceModel:
    """The keras-json model rebuilt from stock torch layers (see the module docstring)."""
    # Weight arrays arrive as views of the C++ document (one numpy copy each, no Python float per number).
    document = read(source)
    if is_state_dict(document.outline()):
        return _state_dict_reference(document, dtype)
    if is_torch_helpers(document.outline()):
        return _torch_helpers_reference(document, dtype)
    doc, name = document.skeleton(KEY_ORDER), document.name
    root = _Place(name)
    in_shape, place = _key(doc, "in_shape", root)
    in_size = _width(in_shape, place)
    entries, layers_place = _key(doc, "layers", root)
    if not isinstance(entries, list) or not entries:
        raise layers_place.error("expected a non-empty array of layers", found=entries)
    layers: list[nn.Module] = []
    width = in_size
    for index, entry in enumerate(entries):
        built, width = _build(entry, layers_place.at(index), width, dtype)
        layers.extend(built)
    return ReferenceModel(layers, in_size, width, name, dtype).eval()


class StateDictReference(ReferenceModel):
    """A GuitarML state_dict file as its training code computes it: PyTorch's own ``nn.LSTM``/``nn.GRU``
    (``rec``) and ``nn.Linear`` (``lin``) loaded from the file's state_dict, plus input 0 added to every
    output when ``skip`` is 1. Nothing of RTNeural's layout (transposes, GRU gate order, summed biases) is
    in it, so a mistake of the conversion cannot cancel out."""

    def __init__(
        self, layers: list[nn.Module], in_size: int, out_size: int, source: str, dtype: torch.dtype, skip: int
    ) -> None:
        super().__init__(layers, in_size, out_size, source, dtype)
        self.skip = skip

    def forward(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        y = super().forward(x)
        x = torch.as_tensor(x, dtype=self.dtype)
        return y + x[..., :1] if self.skip else y


def _state_dict_reference(document: Any, dtype: torch.dtype) -> StateDictReference:
    doc = document.skeleton((), STATE_DICT_KEYS)
    refuse_on_error(check_state_dict(doc, Limits(), float32=False), document.name)
    d = declared(doc)
    rnn = (nn.LSTM if d.unit_type == "LSTM" else nn.GRU)(d.input_size, d.hidden_size, batch_first=True)
    lin = nn.Linear(d.hidden_size, d.output_size)
    weights = doc["state_dict"]
    root = _Place(document.name).at("state_dict")
    with torch.no_grad():
        for module, prefix in ((rnn, "rec."), (lin, "lin.")):
            module.to(dtype)
            for name, tensor in module.state_dict().items():
                key = prefix + name
                tensor.copy_(_array(weights[key], root.at(key), tuple(tensor.shape), dtype))
    layers: list[nn.Module] = [_Recurrent(rnn), lin]
    return StateDictReference(layers, d.input_size, d.output_size, document.name, dtype, d.skip).eval()


def _torch_helpers_reference(document: Any, dtype: torch.dtype) -> ReferenceModel:
    """A state_dict file with a torch_helpers declaration as PyTorch computes it: stock ``nn.Linear``,
    ``nn.LSTM``, ``nn.GRU`` and ``nn.Conv1d`` (run causally) holding the file's arrays in PyTorch's own
    layout, with the declared activations between them. None of the helpers' transposes, gate swaps or
    summed biases is in it, so a mistake of the conversion cannot cancel out."""
    doc = document.tree
    refuse_on_error(check_torch_helpers(doc, Limits(), float32=False), document.name)
    chain = declared_layers(doc)
    modules: list[nn.Module] = []
    for kind, width, out, arrays, entry in chain:
        if kind == "activation":
            modules.append(_ACTIVATIONS[entry["activation"]]())
            continue
        if kind in ("loadLSTM", "loadGRU"):
            module: nn.Module = (nn.LSTM if kind == "loadLSTM" else nn.GRU)(width, out, batch_first=True)
            names = {f"{name}_l0": name for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        elif kind == "loadDense":
            module, names = nn.Linear(width, out), {"weight": "weight", "bias": "bias"}
        else:
            kernel = arrays["weight"].shape[2]
            groups, dilation = int(entry.get("groups", 1)), int(entry.get("dilation", 1))
            module = nn.Conv1d(width, out, kernel, dilation=dilation, groups=groups)
            names = {"weight": "weight", "bias": "bias"}
        module.to(dtype)
        with torch.no_grad():
            for parameter, name in names.items():
                module.get_parameter(parameter).copy_(torch.as_tensor(arrays[name], dtype=dtype))
        wrapped = {"loadLSTM": _Recurrent, "loadGRU": _Recurrent, "loadConv1D": _Causal}.get(kind)
        modules.append(wrapped(module) if wrapped else module)
    return ReferenceModel(modules, chain[0][1], chain[-1][2], document.name, dtype).eval()


@dataclass(frozen=True)
class _Entry:
    """One JSON layer entry being rebuilt: its fields, where it is, and the widths around it."""

    raw: dict[str, Any]
    place: _Place
    width: int  # input width (the previous layer's output)
    out: int  # output width from `shape`
    dtype: torch.dtype

    def weight(self, index: int, dims: tuple[int, ...]) -> torch.Tensor:
        weights, place = _key(self.raw, "weights", self.place)
        value, inner = _key(weights, index, place)
        return _array(value, inner, dims, self.dtype)

    def count(self) -> int:
        return len(self.raw["weights"])

    def size(self, key: str) -> int:
        return _last_int(_key(self.raw, key, self.place)[0], self.place.at(key))


def _build(raw: Any, place: _Place, width: int, dtype: torch.dtype) -> tuple[list[nn.Module], int]:
    kind, kind_place = _key(raw, "type", place)
    out = _width(_key(raw, "shape", place)[0], place.at("shape"))
    weights, weights_place = _key(raw, "weights", place)
    if not isinstance(weights, list):
        raise weights_place.error("expected an array", found=weights)
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise kind_place.error("unknown layer type (RTNeural would drop this layer silently)", found=kind)
    layer, out = builder(_Entry(raw, place, width, out, dtype))
    built = [layer] if layer is not None else []
    activation = raw.get("activation", "")
    if kind in _APPLIES_ACTIVATION and activation != "":
        if not isinstance(activation, str) or activation not in _ACTIVATIONS:
            raise place.at("activation").error(
                "unknown activation (RTNeural crashes on it)",
                expected='tanh, relu, sigmoid, softmax, elu or ""',
                found=activation,
            )
        built.append(_ACTIVATIONS[activation]())
    return built, out


_Built = tuple[nn.Module | None, int]


def _dense(e: _Entry) -> _Built:
    kernel = e.weight(0, (e.width, e.out))
    has_bias = e.count() > 1  # RTNeural: no bias array means a zero bias
    linear = nn.Linear(e.width, e.out, bias=has_bias, dtype=e.dtype)
    with torch.no_grad():
        linear.weight.copy_(kernel.T)  # JSON [in][out] -> torch [out][in]
        if has_bias:
            linear.bias.copy_(e.weight(1, (e.out,)))
    return linear, e.out


def _activation_entry(e: _Entry) -> _Built:
    return None, e.width  # the activation itself is appended by _build


def _lstm(e: _Entry) -> _Built:
    hidden = e.out
    kernel = e.weight(0, (e.width, 4 * hidden))
    recurrent = e.weight(1, (hidden, 4 * hidden))
    bias = e.weight(2, (4 * hidden,))
    lstm = nn.LSTM(e.width, hidden, batch_first=True, dtype=e.dtype)
    with torch.no_grad():  # same gate order i,f,g,o; the one bias goes to b_ih, b_hh adds nothing
        lstm.get_parameter("weight_ih_l0").copy_(kernel.T)
        lstm.get_parameter("weight_hh_l0").copy_(recurrent.T)
        lstm.get_parameter("bias_ih_l0").copy_(bias)
        # -0.0, not 0.0: x + (-0.0) is x bit for bit, even for x = -0.0, so export's b_ih + b_hh gives
        # back the JSON bias exactly (0.0 would turn a -0.0 bias into 0.0).
        lstm.get_parameter("bias_hh_l0").fill_(-0.0)
    return _Recurrent(lstm), hidden


def _rzn(t: torch.Tensor) -> torch.Tensor:
    """JSON z,r,n column blocks back to PyTorch's r,z,n (last axis)."""
    z, r, n = t.chunk(3, dim=-1)
    return torch.cat([r, z, n], dim=-1)


def _gru(e: _Entry) -> _Built:
    hidden = e.out
    kernel = e.weight(0, (e.width, 3 * hidden))
    recurrent = e.weight(1, (hidden, 3 * hidden))
    bias = e.weight(2, (2, 3 * hidden))  # rows: input bias, recurrent bias (inside r * (...))
    gru = nn.GRU(e.width, hidden, batch_first=True, dtype=e.dtype)
    with torch.no_grad():
        gru.get_parameter("weight_ih_l0").copy_(_rzn(kernel).T)
        gru.get_parameter("weight_hh_l0").copy_(_rzn(recurrent).T)
        gru.get_parameter("bias_ih_l0").copy_(_rzn(bias[0]))
        gru.get_parameter("bias_hh_l0").copy_(_rzn(bias[1]))
    return _Recurrent(gru), hidden


def _conv1d(e: _Entry) -> _Built:
    size, dilation = e.size("kernel_size"), e.size("dilation")
    groups = _last_int(e.raw.get("groups", 1), e.place.at("groups"))
    if e.width % groups or e.out % groups:
        raise e.place.at("groups").error(
            "groups must divide the input and output widths", found=f"{groups} for {e.width} -> {e.out}"
        )
    kernel = e.weight(0, (size, e.width // groups, e.out))
    bias = e.weight(1, (e.out,))
    conv = nn.Conv1d(e.width, e.out, size, dilation=dilation, groups=groups, dtype=e.dtype)
    with torch.no_grad():
        conv.weight.copy_(kernel.permute(2, 1, 0))  # [K][in/g][out] -> [out][in/g][K], no flip
        conv.get_parameter("bias").copy_(bias)
    return _Causal(conv), e.out


def _epsilon(e: _Entry) -> float:
    eps = _key(e.raw, "epsilon", e.place)[0]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise e.place.at("epsilon").error("expected a non-negative number", found=eps)
    return float(eps)


def _statistics(e: _Entry, channels: int) -> tuple[torch.Tensor, ...]:
    """[gamma, beta, mean, var] for four arrays, [mean, var] otherwise (RTNeural: gamma 1, beta 0)."""
    if e.count() == 4:
        return tuple(e.weight(i, (channels,)) for i in range(4))
    if e.count() >= 2:  # RTNeural takes any other count as [mean, var]
        return e.weight(0, (channels,)), e.weight(1, (channels,))
    raise e.place.at("weights").error("batchnorm needs 2 or 4 arrays", found=f"{e.count()} arrays")


def _batchnorm(e: _Entry) -> _Built:
    eps = _epsilon(e)
    arrays = _statistics(e, e.width)
    affine = len(arrays) == 4  # without gamma and beta, export writes [mean, var] back
    norm = nn.BatchNorm1d(e.width, eps=eps, affine=affine, dtype=e.dtype).eval()
    with torch.no_grad():
        if affine:
            norm.get_parameter("weight").copy_(arrays[0])
            norm.get_parameter("bias").copy_(arrays[1])
        norm.get_buffer("running_mean").copy_(arrays[-2])
        norm.get_buffer("running_var").copy_(arrays[-1])
    return _Features(norm), e.width


def _check_frame(e: _Entry, features: int, channels: int) -> None:
    if features * channels != e.width:
        raise e.place.error(
            "num_features_in * num_filters_in is not the input width",
            expected=str(e.width),
            found=f"{features} * {channels}",
        )


def _batchnorm2d(e: _Entry) -> _Built:
    channels = e.size("num_filters_in")
    _check_frame(e, e.size("num_features_in"), channels)
    arrays = _statistics(e, channels)
    if len(arrays) == 2:  # gamma 1, beta 0
        arrays = (torch.ones_like(arrays[0]), torch.zeros_like(arrays[0]), *arrays)
    gamma, beta, mean, var = arrays
    return _Affine(gamma, beta, mean, var, _epsilon(e), channels), e.width


def _prelu(e: _Entry) -> _Built:
    weights_place = e.place.at("weights")
    rows, rows_place = _key(e.raw["weights"], 0, weights_place)
    alphas, alpha_place = _key(rows, 0, rows_place)
    count = len(alphas) if isinstance(alphas, list) else 0
    if count not in (1, e.width):
        raise alpha_place.error(
            "expected one alpha or one per feature", expected=f"1 or {e.width}", found=f"{count} values"
        )
    prelu = nn.PReLU(count, dtype=e.dtype)
    with torch.no_grad():
        prelu.weight.copy_(_array(alphas, alpha_place, (count,), e.dtype))
    return _Features(prelu), e.width


def _conv2d(e: _Entry) -> _Built:
    k_time, k_feat = e.size("kernel_size_time"), e.size("kernel_size_feature")
    dilation, stride = e.size("dilation"), e.size("strides")
    c_in, f_in, c_out = e.size("num_filters_in"), e.size("num_features_in"), e.size("num_filters_out")
    _check_frame(e, f_in, c_in)
    if _key(e.raw, "padding", e.place)[0] == "valid":
        pad, f_out = (0, 0), math.ceil((f_in - k_feat + 1) / stride)
    else:  # RTNeural takes any other string as TensorFlow 'same' along the feature axis
        rem = f_in % stride
        total = max(k_feat - stride, 0) if rem == 0 else max(k_feat - rem, 0)
        pad, f_out = (total // 2, total - total // 2), math.ceil(f_in / stride)
    if f_out < 1 or f_out * c_out != e.out:
        raise e.place.at("shape").error(
            "conv2d output size disagrees with shape", expected=str(f_out * c_out), found=str(e.out)
        )
    kernel = e.weight(0, (k_time, k_feat, c_in, c_out))
    bias = e.weight(1, (c_out,))
    conv = nn.Conv2d(c_in, c_out, (k_time, k_feat), stride=(1, stride), dilation=(dilation, 1), dtype=e.dtype)
    with torch.no_grad():
        conv.weight.copy_(kernel.permute(3, 2, 0, 1))  # HWIO -> OIHW, no flip
        conv.get_parameter("bias").copy_(bias)
    return _Conv2d(conv, f_in, c_in, pad), e.out


_BUILDERS: dict[str, Callable[[_Entry], _Built]] = {
    "dense": _dense,
    "time-distributed-dense": _dense,
    "activation": _activation_entry,
    "lstm": _lstm,
    "gru": _gru,
    "conv1d": _conv1d,
    "batchnorm": _batchnorm,
    "batchnorm2d": _batchnorm2d,
    "prelu": _prelu,
    "conv2d": _conv2d,
}


# --- running a torch module as RTNeural streams its export ----------------------------------------------
