"""Any torch module run the way RTNeural runs its export (``stream``, ``frames``, ``run_module``).

``stream(module, xs)`` runs a torch module of the kind ``verifier.pytorch.export`` accepts the way RTNeural
runs its export: batch 1, the whole sequence from zero state, LSTM/GRU output sequences feeding the next
module, and every Conv1d *causal*: its input is left-padded with ``(K-1)*dilation`` zeros (or, for a module
with ``padding=(K-1)*dilation``, its first T outputs are kept), so step ``t`` of the result is RTNeural's
step ``t``. A module with ``padding=0`` on its own gives PyTorch output ``n`` = RTNeural step
``n + (K-1)*dilation``; ``stream`` instead shows the RTNeural alignment, including the first
``(K-1)*dilation`` steps computed from zero history. ``frames`` does the same with every step from zero
state (RTNeural reset before each ``forward()``). The step vector is the feature axis for every layer:
BatchNorm1d, PReLU and Softmax apply per feature of one step. A container declaring ``export_order`` is run
by its own ``forward()``, which is the model the export must reproduce; where it is not the chain it
declares (a residual branch, say) ``run_module`` reports a ``ChainMismatch``, since the export writes the
chain.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from verifier.pytorch.export import check_exportable

__all__ = ["ChainMismatch", "ModuleRun", "NoFrameLayout", "frames", "run_leaf", "run_module", "stream"]


@dataclass(frozen=True)
class ChainMismatch:
    """A container whose own ``forward()`` is not the chain its ``export_order`` declares.

    The export writes the declared chain, so the file computes something other than the module: a residual
    branch, a gate, a reordering in ``forward()`` that ``export_order`` does not say.
    """

    name: str  # qualified name of the container ("" for the module passed in)
    order: tuple[str, ...]  # its export_order
    pattern: str  # "frame" or "stream"
    max_abs: float  # largest |forward() - chain| over the compared outputs (inf when they have other shapes)
    step: int | None  # first step where they differ beyond the float64 bound

    def describe(self) -> str:
        where = f"{self.name}.forward()" if self.name else "forward()"
        at = f" from step {self.step}" if self.step is not None else ""
        return (
            f"forward() is not the chain export_order declares: {where} differs from "
            f"{' -> '.join(self.order)} by up to {self.max_abs:.3g}{at} ({self.pattern}); the export writes "
            "the chain, so the file does not compute the module"
        )


@dataclass(frozen=True)
class NoFrameLayout:
    """A container whose own ``forward()`` ran on none of the input layouts for one-step frames, while the
    stream shows it is not its declared chain: the frames cannot be compared with the module at all.

    (When the stream shows forward() is the chain, the chain's frames are the module's: an unpadded Conv1d
    needs K steps, and one step from zero history is the chain's warm-up. Then nothing is recorded.)
    """

    name: str
    order: tuple[str, ...]
    reason: str  # the last layout's exception
    pattern: str = "frame"
    max_abs: float = math.inf
    step: int | None = None

    def describe(self) -> str:
        where = f"{self.name}.forward()" if self.name else "forward()"
        return (
            f"{where} runs on none of the layouts [batch, time, features], [time, batch, features], "
            f"[batch, features, time] for one-step frames ({self.reason}), and on the stream it is not the "
            f"chain {' -> '.join(self.order)}: the frames could not be compared with the module"
        )


@dataclass(frozen=True)
class ModuleRun:
    """A torch module run both ways on the same inputs: per frame from zero state, and as one stream."""

    frames: np.ndarray
    stream: np.ndarray
    mismatches: tuple[ChainMismatch | NoFrameLayout, ...]


def stream(module: nn.Module, xs: np.ndarray, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """``xs`` [T, in] through ``module`` from zero state, as one causal stream -> [T, out]."""
    return _run(module, _steps(xs, dtype).unsqueeze(0), dtype, [])[0].numpy()


def frames(module: nn.Module, xs: np.ndarray, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Every step of ``xs`` [T, in] from zero state (a batch of T one-step sequences) -> [T, out]."""
    return _run(module, _steps(xs, dtype).unsqueeze(1), dtype, [])[:, 0].numpy()


def run_module(module: nn.Module, xs: np.ndarray, dtype: torch.dtype = torch.float64) -> ModuleRun:
    """:func:`frames` and :func:`stream` of ``module``; each container whose forward() is not its chain
    (first those whose forward() could not run the frames at all, :class:`NoFrameLayout`)."""
    found: list[Any] = []
    x = _steps(xs, dtype)
    check_exportable(module, in_size=x.shape[-1])  # once for both runs: it walks every weight
    per_frame = _run(module, x.unsqueeze(1), dtype, found, "frame", checked=True)[:, 0].numpy()
    streamed = _run(module, x.unsqueeze(0), dtype, found, "stream", checked=True)[0].numpy()
    not_chain = {m.name for m in found if isinstance(m, ChainMismatch) and m.pattern == "stream"}
    # A frame fallback stands only where the stream confirms forward() is the chain.
    unrun = [m for m in found if isinstance(m, NoFrameLayout) and m.name in not_chain]
    return ModuleRun(per_frame, streamed, (*unrun, *(m for m in found if isinstance(m, ChainMismatch))))


def _steps(xs: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(xs), dtype=dtype)
    if x.dim() != 2:
        raise ValueError(f"xs must be [T, in], got shape {list(x.shape)}")
    return x


def _run(
    module: nn.Module,
    x: torch.Tensor,
    dtype: torch.dtype,
    found: list[Any],
    pattern: str = "",
    *,
    checked: bool = False,
) -> torch.Tensor:
    if not checked:  # refuses (ExportError) exactly what the exporter refuses
        check_exportable(module, in_size=x.shape[-1])
    # The caller's module stays as it was, and each run starts from a fresh copy: a forward() that keeps
    # state in its module cannot carry it from the per-frame run into the stream.
    runnable = _private_copy(module, dtype)
    rnns = [m for m in runnable.modules() if type(m) in (nn.LSTM, nn.GRU) and "forward" not in vars(m)]
    for rnn in rnns:
        _reuse_outputs(rnn)
    try:
        with torch.no_grad():
            return _run_tree(runnable, "", x, found, pattern)
    finally:
        for rnn in rnns:  # the wrapper refers to its RNN: a cycle that would keep the copy for the collector
            del rnn.forward


def _private_copy(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A deep copy of ``module`` in eval mode, its floating-point parameters and buffers in ``dtype``: what
    ``copy.deepcopy(module).to(dtype)`` gives, with each tensor converted once (deepcopy would copy it and
    ``to`` convert the copy: ~20% more on the property suite's modules)."""
    memo: dict[int, Any] = {}
    for tensor in _own_tensors(module):
        if id(tensor) in memo:
            continue  # shared by two modules: one copy, shared as well
        plain = tensor.detach()
        converted = plain.to(dtype, copy=True) if plain.is_floating_point() else plain.clone()
        if isinstance(tensor, nn.Parameter):
            converted = nn.Parameter(converted, requires_grad=tensor.requires_grad)
        memo[id(tensor)] = converted
    return copy.deepcopy(module, memo).eval()


def _own_tensors(module: nn.Module) -> Iterator[torch.Tensor]:
    """Every parameter and buffer of ``module`` and its submodules, read from the registries ``nn.Module``
    keeps them in (as deepcopy sees them): ``parameters()`` is the module's code, which may do anything."""
    seen: set[int] = set()
    stack = [module]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        registries = vars(current)
        for name in ("_parameters", "_buffers"):
            yield from (t for t in registries.get(name, {}).values() if t is not None)
        stack.extend(m for m in registries.get("_modules", {}).values() if m is not None)


def _reuse_outputs(rnn: nn.Module) -> None:
    """Make ``rnn`` (a stock LSTM or GRU of a private copy) answer an input it has already run with the
    output it gave then.

    An RNN is most of a run's cost, and a container's forward() runs it again to be compared with the chain
    (MelodyTransformer: half of its reference time). A stock RNN in eval mode under no_grad is a function of
    its arguments alone, so an argument list equal (``torch.equal``: same shape, dtype and values) to one
    already run gets that run's output: what it would compute again. Anything else (other values, a NaN, a
    PackedSequence, keyword arguments) runs. Inputs and outputs are kept as clones and handed out as clones,
    so a forward() that changes a tensor in place changes neither what is compared nor what is reused.
    """
    run = rnn.forward
    seen: list[tuple[tuple[torch.Tensor | None, ...], Any]] = []

    def forward(*args: Any, **kwargs: Any) -> Any:
        keyed = not kwargs and all(a is None or type(a) is torch.Tensor for a in args)
        if keyed:
            for inputs, output in seen:
                if len(inputs) == len(args) and all(map(_same_tensor, inputs, args)):
                    return _cloned(output)
        output = run(*args, **kwargs)
        if keyed:
            seen.append((tuple(None if a is None else a.clone() for a in args), _cloned(output)))
        return output

    rnn.forward = forward


def _same_tensor(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def _cloned(value: Any) -> Any:
    """``value`` (a tensor, or tuples of them as an RNN returns) with every tensor cloned."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_cloned(v) for v in value)
    return value


def _run_tree(m: nn.Module, name: str, x: torch.Tensor, found: list[Any], pattern: str) -> torch.Tensor:
    """``m`` on [batch, time, features]: stock modules as RTNeural runs them, containers by forward()."""
    order = getattr(m, "export_order", None)
    if order is not None:  # export() has already checked that it names submodules
        chain = x
        for sub in order:
            chain = _run_tree(m.get_submodule(sub), f"{name}.{sub}" if name else sub, chain, found, pattern)
        return _own_forward(m, name, tuple(order), x, chain, found, pattern)
    if isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward:
        for child_name, child in m.named_children():
            x = _run_tree(child, f"{name}.{child_name}" if name else child_name, x, found, pattern)
        return x
    return run_leaf(m, x)


# The input layouts a container's forward() may expect, tried in this order: (to its layout, back to ours).
_Layout = Callable[[torch.Tensor], torch.Tensor]
_LAYOUTS: tuple[tuple[_Layout, _Layout], ...] = (
    (lambda t: t, lambda t: t),  # [batch, time, features]
    (lambda t: t.transpose(0, 1), lambda t: t.transpose(0, 1)),  # [time, batch, features] (nn.LSTM default)
    (lambda t: t.transpose(1, 2), lambda t: t.transpose(1, 2)),  # [batch, features, time] (nn.Conv1d)
)


def _own_forward(
    m: nn.Module,
    name: str,
    order: tuple[str, ...],
    x: torch.Tensor,
    chain: torch.Tensor,
    found: list[Any],
    pattern: str,
) -> torch.Tensor:
    """What ``m.forward()`` computes on ``x``, aligned with RTNeural's steps; a mismatch with ``chain`` is
    recorded in ``found``.

    The layout forward() expects is declared nowhere, so each plausible one is tried: a faithful module
    matches the chain in its own layout; an unfaithful one matches in none, and its output is then read in
    the layout its first RNN or Conv1d takes (the verdict is a failure either way). Steps forward() does
    not produce (an unpadded Conv1d gives ``T - latency`` outputs) are RTNeural's warm-up from zero
    history, which only the chain defines.
    """
    if type(m).forward is nn.Module.forward:  # no forward() of its own: export_order is the definition
        return chain
    bound = _SAME * (1.0 + float(chain.abs().max())) if chain.numel() else 0.0
    runs: list[tuple[float, torch.Tensor]] = []
    errors: list[str] = []
    for index in _layout_preference(m):
        to_layout, back = _LAYOUTS[index]
        try:
            y = m(to_layout(x))
        except Exception as exc:  # user code in a layout it does not take: try the next layout
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        aligned = _aligned(y, back, chain)
        if aligned is not None:
            gap = float(_gaps(aligned, chain).max()) if chain.numel() else 0.0
            if gap <= bound:
                return chain  # forward() is the chain: keep RTNeural's alignment of every step
            runs.append((gap, aligned))
    if not runs and pattern == "frame" and errors:
        # One step is too short for some forward()s (an unpadded Conv1d needs K steps); the stream, which it
        # does run, is where forward() and the chain are compared. Recorded: run_module keeps it as a
        # finding unless the stream shows forward() is the chain.
        found.append(NoFrameLayout(name, order, errors[-1]))
        return chain
    if not runs:
        reason = errors[-1] if errors else f"its output never has the chain's shape {list(chain.shape)}"
        raise ValueError(
            f"{name or type(m).__name__}.forward() runs on none of the layouts [batch, time, features], "
            f"[time, batch, features], [batch, features, time] ({reason})"
        )
    gap, aligned = runs[0]  # the layout its layers suggest (see _layout_preference)
    gaps = _gaps(aligned, chain)
    per_step = gaps.amax(dim=(0, 2)) if x.shape[0] == 1 else gaps.amax(dim=(1, 2))  # frames: axis 0
    step = int(torch.nonzero(per_step > bound)[0, 0])
    found.append(ChainMismatch(name, order, pattern, gap, step))
    return aligned


def _gaps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b| element-wise; the same NaN or infinity on both sides is no gap, a NaN on one side is inf."""
    same = (a == b) | (a.isnan() & b.isnan())
    return torch.where(same, torch.zeros_like(a), (a - b).abs().nan_to_num(nan=math.inf))


def _layout_preference(m: nn.Module) -> list[int]:
    """Indices into _LAYOUTS, most likely first: the layout the container's first RNN or Conv1d takes."""
    for sub in m.modules():
        if isinstance(sub, (nn.LSTM, nn.GRU)):
            return [0, 1, 2] if sub.batch_first else [1, 0, 2]
        if isinstance(sub, nn.Conv1d):
            return [2, 0, 1]
    return [0, 1, 2]


# float64 runs of the same operations agree to round-off; anything beyond this is a different computation.
_SAME = 1e-9


def _aligned(
    y: Any, back: Callable[[torch.Tensor], torch.Tensor], chain: torch.Tensor
) -> torch.Tensor | None:
    if isinstance(y, tuple) and y:  # (output, state), as nn.LSTM returns
        y = y[0]
    if not isinstance(y, torch.Tensor) or y.dim() != 3:
        return None
    y = back(y)
    batch, steps, width = chain.shape
    if y.shape[0] != batch or y.shape[2] != width or y.shape[1] < 1:
        return None
    if y.shape[1] > steps:  # padded on both sides: the first T outputs are the causal ones
        return y[:, :steps]
    if y.shape[1] < steps:
        return torch.cat([chain[:, : steps - y.shape[1]], y.to(chain.dtype)], dim=1)
    return y.to(chain.dtype)


def run_leaf(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One stock module on [batch, time, features]."""
    if isinstance(m, (nn.LSTM, nn.GRU)):
        if m.batch_first:
            return m(x)[0]
        return m(x.transpose(0, 1))[0].transpose(0, 1)
    if isinstance(m, nn.Conv1d):
        steps = x.shape[1]
        channels_first = x.transpose(1, 2)
        latency = (m.kernel_size[0] - 1) * m.dilation[0]
        if m.padding in ("valid", (0,)) and latency:
            channels_first = F.pad(channels_first, (latency, 0))
        # padding (K-1)*d pads both sides: the first T outputs are the causal ones
        return m(channels_first)[..., :steps].transpose(1, 2)
    if isinstance(m, (nn.BatchNorm1d, nn.PReLU)):  # channel axis 1 in torch; the step vector here
        return m(x.transpose(1, 2)).transpose(1, 2)
    return m(x)  # Linear, element-wise activations, Softmax(dim=-1), Identity, Dropout (eval)
