"""The known export mistakes (docs/format.md §15) as transforms of one JSON entry, and their undoing.

A diverging layer is only a place; these say what went wrong there. Each correction is the inverse of one
mistake, applied to the entry a failure starts at: when the corrected entry makes that layer agree with the
reference, the mistake is the likely cause (:func:`verifier.checks.diagnose.diverge.first_divergence`).
Three mistakes are their own inverse (a transposed kernel, GRU gate blocks in PyTorch's order, a flipped
conv kernel); the two bias mistakes are undone with the reference module's recurrent bias, which the JSON
lost. ``verifier.testing.mistakes`` makes the mistakes with these same transforms.

Every function is pure: the entry passed in is never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The likely cause named for each mistake, in the words of the report.
CAUSES: dict[str, str] = {
    "transposed_kernel": "dense kernel written as PyTorch's weight [out][in]; the JSON wants [in][out] "
    "(weight.T)",
    "lstm_bias_unsummed": "LSTM bias is b_ih alone; the JSON wants the sum b_ih + b_hh",
    "gru_gates_not_reordered": "GRU gate blocks in PyTorch's order (r, z, n); "
    "the JSON wants Keras's (z, r, h)",
    "gru_biases_summed": "GRU biases summed into one row; the JSON wants b_ih and b_hh as two rows (the "
    "candidate's recurrent bias is scaled by the reset gate, so it cannot be folded into b_ih)",
    "conv_kernel_flipped": "conv1d kernel reversed in time; the JSON wants PyTorch's taps in their order",
}


def transposed(kernel: Any) -> list[Any]:
    """A 2-D kernel transposed (a dense kernel written [out][in], and its undoing)."""
    return np.asarray(kernel, dtype=np.float64).T.tolist()


def flipped(kernel: Any) -> list[Any]:
    """A conv1d kernel with its time axis (the first) reversed (the mistake, and its undoing)."""
    return np.asarray(kernel, dtype=np.float64)[::-1].tolist()


def swap_gate_blocks(a: np.ndarray, hidden: int) -> np.ndarray:
    """The first two gate blocks of the last axis exchanged: PyTorch's (r, z, n) <-> Keras's (z, r, h)."""
    b = a.copy()
    b[..., :hidden], b[..., hidden : 2 * hidden] = a[..., hidden : 2 * hidden], a[..., :hidden]
    return b


def gru_gates_swapped(weights: list[Any]) -> list[Any]:
    """A GRU entry's ``[kernel, recurrent kernel, [bias row, bias row]]`` with the r and z blocks exchanged
    in every array."""
    hidden = np.asarray(weights[1]).shape[0]
    kernel, recurrent = (swap_gate_blocks(np.asarray(a, dtype=np.float64), hidden) for a in weights[:2])
    rows = [swap_gate_blocks(np.asarray(row, dtype=np.float64), hidden).tolist() for row in weights[2]]
    return [kernel.tolist(), recurrent.tolist(), rows]


def gru_bias_rows_summed(rows: Any) -> list[Any]:
    """A GRU's two bias rows as one exporter writes them: their sum in row 0, zeros in row 1."""
    both = np.asarray(rows, dtype=np.float64)
    return [(both[0] + both[1]).tolist(), [0.0] * both.shape[1]]


@dataclass(frozen=True)
class Correction:
    """One mistake's undoing on an entry: the corrected entry, and the cause to name if it fits."""

    mistake: str
    cause: str
    entry: dict[str, Any]


def corrections(entry: Mapping[str, Any], module: Any = None) -> Iterator[Correction]:
    """The entry as it would be without each known mistake its type can have (those that change it).

    ``module`` is the torch module the entry is compared with (one ``nn.LSTM``/``nn.GRU`` layer for a
    recurrent entry), or None; the bias mistakes need it, since the JSON no longer holds ``b_hh``."""
    for mistake, undo in _UNDO.get(str(entry.get("type")), ()):
        try:
            fixed = copy.deepcopy(dict(entry))
            weights = fixed.get("weights")
            if not isinstance(weights, list) or not undo(weights, module):
                continue
        except (TypeError, ValueError, IndexError, AttributeError):  # not the arrays this mistake makes
            continue
        if fixed != entry:
            yield Correction(mistake, CAUSES[mistake], fixed)


def _untranspose(weights: list[Any], _module: Any) -> bool:
    weights[0] = transposed(weights[0])
    return True


def _unflip(weights: list[Any], _module: Any) -> bool:
    weights[0] = flipped(weights[0])
    return True


def _reorder_gates(weights: list[Any], _module: Any) -> bool:
    weights[:] = gru_gates_swapped(weights)
    return True


def _add_lstm_recurrent_bias(weights: list[Any], module: Any) -> bool:
    b_hh = _recurrent_bias(module)
    if b_hh is None:
        return False
    weights[2] = (np.asarray(weights[2], dtype=np.float64) + b_hh).tolist()
    return True


def _split_gru_bias_rows(weights: list[Any], module: Any) -> bool:
    b_hh = _recurrent_bias(module)
    rows = np.asarray(weights[2], dtype=np.float64)
    if b_hh is None or rows.shape != (2, b_hh.size) or np.any(rows[1]):  # only the summed form has row 1 = 0
        return False
    b_hh = swap_gate_blocks(b_hh, b_hh.size // 3)  # the module's (r, z, n) in the JSON's order
    weights[2] = [(rows[0] - b_hh).tolist(), b_hh.tolist()]
    return True


def _recurrent_bias(module: Any) -> np.ndarray | None:
    bias = getattr(module, "bias_hh_l0", None)
    return None if bias is None else bias.detach().double().cpu().numpy()


_UNDO: dict[str, tuple[tuple[str, Callable[[list[Any], Any], bool]], ...]] = {
    "dense": (("transposed_kernel", _untranspose),),
    "lstm": (("lstm_bias_unsummed", _add_lstm_recurrent_bias),),
    "gru": (("gru_gates_not_reordered", _reorder_gates), ("gru_biases_summed", _split_gru_bias_rows)),
    "conv1d": (("conv_kernel_flipped", _unflip),),
}
