"""The tolerance an engine run is held to against the float64 PyTorch reference (docs/tolerance.md).

``tolerance_for(model, dtype, steps=None) -> (atol, rtol)``; an element passes when
``|actual - expected| <= atol + rtol * |expected|``. Both are the same number::

    tol = C * eps(dtype) * depth * sqrt(width) * sqrt(max(1, steps / 24) if the model is recurrent else 1)

* ``eps`` is the unit round-off of the engine's type. Weights and inputs are exact in both types (the
  exporter writes float32 values), so the only error is the engine's own arithmetic, which is relative:
  hence rtol, and atol for outputs near zero whose terms were not.
* ``sqrt(width)``: a dot product of ``n`` rounded terms errs like ``sqrt(n)`` (random walk); ``width`` is the
  longest dot product in the model (an RNN gate sums ``in + hidden`` terms, a conv1d ``K * in/groups``).
* ``depth`` counts the entries that compute (a dense/conv1d activation counts too). Errors can add once per
  layer; the measured error does not grow with depth on generated models (their layers contract), so this
  factor is the safe side, not a fit.
* ``sqrt(steps / 24)``: an LSTM/GRU state integrates its own round-off over a stream (random walk again);
  the coefficient was fitted on streams of at most 24 steps (the schema's ``$defs/stream`` bound) and the
  growth was measured on 2000-step streams.
* ``C = 32`` is the largest measured ratio ``err / (eps * depth * sqrt(width) * (1 + |expected|))`` over
  four runs of 2000 generated models (2.17, float32), times a safety factor of 8, rounded up to a power of
  two. Measurement: ``python tools/measure.py tolerance --models 2000``.

Takes a keras-json document or an architecture spec (verifier.testing.strategies); never imports torch, so the
CLI can use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CALIBRATED_STEPS", "COEFFICIENT", "Shape", "model_shape", "tolerance_for"]

# Fitted (docs/tolerance.md): worst measured ratio 2.17 (float32; 1.77 in float64) over four runs of 2000
# generated models, x8 safety, rounded up to a power of two. One coefficient for both types: the ratio is
# in units of each type's own round-off, and the per-type fits are within a factor 2 of each other.
COEFFICIENT: dict[str, float] = {"float32": 32.0, "float64": 32.0}
# Longest stream of the calibration run (the schema's $defs/stream steps maximum when COEFFICIENT was
# fitted; tests/test_strategies.py pins that they still agree). Longer streams widen the tolerance of
# recurrent models.
CALIBRATED_STEPS = 24

_EPS = {"float32": float(np.finfo(np.float32).eps) / 2, "float64": float(np.finfo(np.float64).eps) / 2}


@dataclass(frozen=True)
class Shape:
    """What the tolerance depends on: computing entries (depth) and the longest dot product (width)."""

    depth: int
    width: int
    recurrent: bool = False  # has an LSTM/GRU, whose state carries round-off from step to step


def tolerance_for(
    model: Mapping[str, Any], dtype: str = "float32", steps: int | None = None
) -> tuple[float, float]:
    """(atol, rtol) for comparing an engine run of *model* (keras-json document or architecture spec) in
    *dtype* ("float32" | "float64") with the float64 reference, over a stream of *steps* steps (None: at
    most CALIBRATED_STEPS, or frame by frame)."""
    if dtype not in _EPS:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    shape = model_shape(model)
    tol = COEFFICIENT[dtype] * _EPS[dtype] * shape.depth * math.sqrt(shape.width)
    if shape.recurrent and steps is not None and steps > CALIBRATED_STEPS:
        tol *= math.sqrt(steps / CALIBRATED_STEPS)
    return tol, tol


def model_shape(model: Mapping[str, Any]) -> Shape:
    """Depth and effective width of a keras-json document (has ``in_shape``) or an architecture spec."""
    if "in_shape" in model:
        return _document_shape(model)
    return _spec_shape(model)


def _document_shape(doc: Mapping[str, Any]) -> Shape:
    in_shape = doc.get("in_shape") or [1]
    width = _int(in_shape[-1], 1)
    depth = 0
    widest = width
    for entry in doc.get("layers", []):
        if not isinstance(entry, Mapping):
            continue
        kind = entry.get("type")
        out = _int((entry.get("shape") or [1])[-1], 1)
        terms = width
        if kind in ("lstm", "gru"):
            terms = width + out  # kernel and recurrent products are summed into one gate
        elif kind == "conv1d":
            kernel = _int(_last(entry.get("kernel_size", 1)), 1)
            groups = max(_int(entry.get("groups", 1), 1), 1)
            terms = kernel * max(width // groups, 1)
        depth += 1 + (1 if kind in ("dense", "conv1d") and entry.get("activation") else 0)
        widest = max(widest, terms, out)
        if kind in ("dense", "time-distributed-dense", "conv1d", "lstm", "gru"):
            width = out
    layers = doc.get("layers", [])
    recurrent = any(isinstance(e, Mapping) and e.get("type") in ("lstm", "gru") for e in layers)
    return Shape(max(depth, 1), max(widest, 1), recurrent)


def _spec_shape(spec: Mapping[str, Any]) -> Shape:
    width = int(spec["in_size"])
    depth = 0
    widest = width
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind in ("lstm", "gru"):
            out = int(layer["hidden"])
            n = int(layer.get("num_layers", 1))
            depth += n
            widest = max(widest, width + out, 2 * out if n > 1 else 0)
        elif kind in ("dense", "conv1d"):
            out = int(layer["out"])
            terms = width
            if kind == "conv1d":
                terms = int(layer["kernel_size"]) * max(width // int(layer.get("groups", 1)), 1)
            depth += 1 + (1 if layer.get("activation") else 0)
            widest = max(widest, terms, out)
        else:
            out = width
            depth += 1
        width = out
    recurrent = any(layer["type"] in ("lstm", "gru") for layer in spec["layers"])
    return Shape(max(depth, 1), max(widest, 1), recurrent)


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list) and value else value


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
