"""The known PyTorch -> keras-json export mistakes (docs/format.md §15), as corruptions of a correct export.

Each mistake turns a correct document into the document a buggy exporter would have written, so a test can
check that the verifier notices it. A mistake that would change nothing on a given layer (transposing a 1x1
kernel, flipping a kernel of size 1, swapping two identical GRU gate blocks...) is reported by
:func:`no_op_reason` so the caller can exclude that case instead of counting it as detected.

All functions are pure: the document passed in is never modified. The transforms themselves are
``verifier.checks.diagnose.mistakes``, where the diagnosis of a failing layer undoes them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.checks.diagnose.mistakes import flipped, gru_bias_rows_summed, gru_gates_swapped, transposed

MISTAKES = (
    "transposed_kernel",  # §11.1 dense kernel written [out][in]
    "lstm_bias_unsummed",  # §11.2 only b_ih exported
    "gru_gates_not_reordered",  # §11.3 r,z,n kept in PyTorch order
    "gru_biases_summed",  # §11.4 b_ih + b_hh in row 0, zeros in row 1 (the form that loads)
    "conv_kernel_flipped",  # §11.7 kernel axis reversed by the exporter
    "missing_groups",  # §11.9 groups key omitted
    "dropped_layer",  # §11.5 an entry (e.g. a stacked RNN's _l1) missing
)

# The layer type each mistake applies to (the JSON entry type, which is also the architecture-spec layer
# type a generated model needs for the mistake to have somewhere to apply); None means any entry.
TARGET_TYPE: dict[str, str | None] = {
    "transposed_kernel": "dense",
    "lstm_bias_unsummed": "lstm",
    "gru_gates_not_reordered": "gru",
    "gru_biases_summed": "gru",
    "conv_kernel_flipped": "conv1d",
    "missing_groups": "conv1d",
    "dropped_layer": None,
}


def candidate_layers(doc: Mapping[str, Any], mistake: str) -> list[int]:
    """Indices of the entries of *doc* that *mistake* can be applied to (no-ops included)."""
    want = TARGET_TYPE[mistake]
    layers = doc["layers"]
    found = [i for i, entry in enumerate(layers) if want is None or entry.get("type") == want]
    if mistake == "missing_groups":
        found = [i for i in found if "groups" in layers[i]]
    if mistake == "dropped_layer" and len(layers) < 2:
        return []  # dropping the only entry leaves an empty model, a different (always refused) mistake
    return found


def no_op_reason(doc: Mapping[str, Any], mistake: str, index: int) -> str | None:
    """Why applying *mistake* to entry *index* would leave the maths unchanged, or None if it changes it."""
    entry = doc["layers"][index]
    w = entry.get("weights", [])
    if mistake == "transposed_kernel":
        k = np.asarray(w[0], dtype=np.float64)
        if k.shape[0] == k.shape[1] and np.array_equal(k, k.T):
            return f"dense kernel {k.shape[0]}x{k.shape[1]} is symmetric (1x1 too): transposing is a no-op"
        return None
    if mistake == "lstm_bias_unsummed":
        return None  # checked against the module's b_hh in corrupt()
    if mistake == "gru_gates_not_reordered":
        h = np.asarray(w[1]).shape[0]
        blocks = [np.asarray(a, dtype=np.float64) for a in (w[0], w[1], w[2][0], w[2][1])]
        if all(np.array_equal(a[..., :h], a[..., h : 2 * h]) for a in blocks):
            return "GRU z and r blocks are identical: swapping them is a no-op"
        return None
    if mistake == "gru_biases_summed":
        h = np.asarray(w[1]).shape[0]
        if not np.any(np.asarray(w[2][1], dtype=np.float64)[2 * h :]):
            return "GRU recurrent candidate bias is zero: summing the bias rows is a no-op"
        return None
    if mistake == "conv_kernel_flipped":
        k = np.asarray(w[0], dtype=np.float64)
        if np.array_equal(k, k[::-1]):
            return f"conv1d kernel (size {k.shape[0]}) is symmetric in time: flipping is a no-op"
        return None
    if mistake == "missing_groups":
        if int(_last(entry.get("groups", 1))) == 1:
            return "conv1d has one group: omitting groups is a no-op"
        return None
    if mistake == "dropped_layer":
        prev = doc["layers"][index - 1] if index > 0 else None
        if (
            entry.get("type") == "activation"
            and entry.get("activation") == "relu"
            and prev is not None
            and prev.get("activation") == "relu"
        ):
            return "a relu right after a relu is idempotent: dropping it is a no-op"
        if entry.get("type") == "activation" and entry.get("activation", "") == "":
            return "an empty activation entry computes nothing: dropping it is a no-op"
        passes_non_negative = entry.get("type") == "prelu" or (
            entry.get("type") == "activation" and entry.get("activation") == "relu"
        )
        if passes_non_negative and index > 0 and _non_negative_output(doc, index - 1):
            return "relu/prelu on an input that is never negative is the identity: dropping it is a no-op"
        return None
    raise ValueError(f"unknown mistake {mistake!r}; known: {', '.join(MISTAKES)}")


def corrupt(doc: Mapping[str, Any], mistake: str, index: int, module: Any = None) -> dict[str, Any]:
    """A copy of *doc* with *mistake* made on entry *index*.

    ``lstm_bias_unsummed`` needs the exported torch *module* (the JSON holds only the sum; the mistake
    writes ``b_ih`` alone), found as the k-th LSTM layer of the module for the k-th ``lstm`` entry.
    """
    if index not in candidate_layers(doc, mistake):
        raise ValueError(f"{mistake} does not apply to /layers/{index}")
    out = copy.deepcopy(dict(doc))
    entry = out["layers"][index]
    w = entry.get("weights", [])
    if mistake == "transposed_kernel":
        w[0] = transposed(w[0])
    elif mistake == "lstm_bias_unsummed":
        b_ih = _rnn_sublayer_param(module, "lstm", _ordinal(doc, index), "bias_ih")
        w[2] = _tolist(b_ih)
    elif mistake == "gru_gates_not_reordered":
        w[:] = gru_gates_swapped(w)
    elif mistake == "gru_biases_summed":
        w[2] = gru_bias_rows_summed(w[2])
    elif mistake == "conv_kernel_flipped":
        w[0] = flipped(w[0])
    elif mistake == "missing_groups":
        del entry["groups"]
    elif mistake == "dropped_layer":
        del out["layers"][index]
    return out


def lstm_bias_is_no_op(doc: Mapping[str, Any], index: int, module: Any) -> str | None:
    """Why writing ``b_ih`` alone equals the correct sum on this entry (``b_hh`` is zero), or None."""
    b_hh = _rnn_sublayer_param(module, "lstm", _ordinal(doc, index), "bias_hh")
    if not np.any(b_hh):
        return "LSTM b_hh is zero: exporting b_ih alone is a no-op"
    return None


def _non_negative_output(doc: Mapping[str, Any], index: int) -> bool:
    """Whether entry *index* can only output values >= 0 (its activation is relu/sigmoid/softmax, or it is a
    relu/prelu fed by such an entry)."""
    entry = doc["layers"][index]
    if entry.get("activation") in ("relu", "sigmoid", "softmax") and entry.get("type") not in (
        "lstm",
        "gru",
        "prelu",
        "batchnorm",  # their activation key is ignored (docs/format.md §3.4)
    ):
        return True
    if entry.get("type") == "prelu" and index > 0:
        return _non_negative_output(doc, index - 1)
    return False


def _ordinal(doc: Mapping[str, Any], index: int) -> int:
    kind = doc["layers"][index]["type"]
    return sum(1 for entry in doc["layers"][:index] if entry.get("type") == kind)


def _rnn_sublayer_param(module: Any, kind: str, ordinal: int, name: str) -> np.ndarray:
    from torch import nn

    cls = nn.LSTM if kind == "lstm" else nn.GRU
    if module is None:
        raise ValueError(f"mistake on a {kind} entry needs the exported module")
    seen = 0
    for sub in module.modules():
        if isinstance(sub, cls):
            for k in range(sub.num_layers):
                if seen == ordinal:
                    param = getattr(sub, f"{name}_l{k}", None)
                    if param is None:
                        return np.zeros(4 * sub.hidden_size)
                    return param.detach().double().numpy()
                seen += 1
    raise ValueError(f"module has no {kind} layer number {ordinal}")


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list) else value


def _tolist(a: np.ndarray) -> list:
    return a.tolist()


# --- is a corrupted export caught? -----------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """How the verifier's pipeline met one corrupted export.

    ``stage`` is the first step that rejected it: ``"validate"`` (an error finding), ``"load"``
    (ModelFormatError from the engine), ``"compare"`` (engine output outside the tolerance against the torch
    module, as a stream or frame by frame), or None. ``masked`` is set only when nothing rejected it and the
    float64 rebuild of the bad file matches the torch module too: the mistake has no visible effect on this
    model and input (e.g. a saturated layer downstream), so missing it is no fault of the comparison.
    """

    stage: str | None
    masked: bool = False
    margin: float | None = None  # caught by compare: the worst stream error in units of atol

    @property
    def detected(self) -> bool:
        return self.stage is not None


def detection(bad: Mapping[str, Any], module: Any, xs: np.ndarray, dtype: str = "float32") -> Detection:
    """Run a corrupted export *bad* of *module* through validate -> load -> compare on inputs *xs*."""
    import torch

    from verifier.checks.compare import compare
    from verifier.checks.tolerance import tolerance_for
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError
    from verifier.format.validate import validate
    from verifier.pytorch.rebuild import reference
    from verifier.pytorch.run import frames, stream

    bad = dict(bad)  # the readers take a dict (and never modify it)
    if any(f.severity == "error" for f in validate(bad)):
        return Detection("validate")
    try:
        model = load(bad, dtype)
    except ModelFormatError:
        return Detection("load")
    atol, rtol = tolerance_for(bad, dtype)
    expected = stream(module, xs, dtype=torch.float64)
    model.reset()
    actual = model.run(xs)
    if actual.shape != expected.shape:  # e.g. the last entry dropped: the output width itself differs
        return Detection("compare")
    streamed = compare(expected, actual, atol, rtol)
    framed = compare(frames(module, xs, dtype=torch.float64), model.run_frames(xs), atol, rtol)
    if not (streamed.passed and framed.passed):
        worst = max(streamed.max_abs_error, framed.max_abs_error)
        return Detection("compare", margin=worst / atol if atol > 0 else math.inf)
    with torch.no_grad():
        rebuilt = reference(bad)(torch.as_tensor(xs, dtype=torch.float64)).numpy()
    return Detection(None, masked=compare(expected, rebuilt, atol, rtol).passed)
