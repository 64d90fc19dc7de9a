"""Where RTNeural's own builds give different answers on a model, so no single answer is "RTNeural's".

RTNeural has several implementations of each layer (Eigen, xsimd, STL backends; a dynamic ``Model`` or a
compile-time ``ModelT``), and they do not add a gate's terms in the same order (docs/format.md §15.24):

* GRU: the Eigen builds form ``W·x + b0`` and ``U·h + b1`` apart and add them; the dynamic STL and xsimd
  builds sum ``W·x + U·h``, then ``b0``, then ``b1``; the compile-time ``GRULayerT`` (STL, xsimd) pre-sums the
  z/r biases and adds ``U·h + b`` to ``W·x``; this engine pre-sums them too and adds ``W·x``, then ``U·h``.
* LSTM: the Eigen builds (one product over ``[x; h; 1]``) and the dynamic STL/xsimd ones add ``W·x + U·h``,
  then the bias; the compile-time ``LSTMLayerT`` (STL, xsimd) adds the bias between the two products; this
  engine starts from the bias.

At ordinary magnitudes these orders agree to round-off. When a gate's terms are large and cancel (biases of
±1e20 around a result of order one, or ±1e9 in float32) each order keeps a different part of the small
terms, and the builds give different outputs: then a plugin's output depends on how it was built, and the
engine under test can only reproduce one of them. :func:`check_builds` finds such layers on the run's own
inputs: every step of every recurrent layer is recomputed, from the engine's own layer inputs and state, in
each build's order in the run's type; the spread is widened by one rounding at the scale of the gate's
largest terms (``u · Σ|term|``: the order inside each dot product differs between builds too), carried
through the cell, and compared with the stream tolerance. On ordinary models that spread is far inside the
tolerance: at most 1% of it on every recurrent model of fixtures/good, fixtures/production and the
conformance corpus (float32 and float64, 256 random steps). A NaN reaching ``relu`` is another case: Eigen
propagates it, the STL builds (and this engine) output 0 (§15.25). A sum whose terms can overflow the run's
type (a dense, convolution or recurrent gate's) is the last: each order of additions gives inf, -inf or NaN.

A finding is a ``warn``: the engine's answer is one of the answers RTNeural gives, but a pass (or a failure)
of the numeric checks then says nothing about the build a plugin ships.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.checks.results import PASS, SKIP, WARN, Check

__all__ = ["BUILD_ORDERS", "Spread", "check_builds", "explain_failure", "gru_spread", "lstm_spread"]

NAME = "rtneural-builds"
ENGINE = "this engine"

# The builds whose addition order differs, by layer type (names as a report shows them).
BUILD_ORDERS: dict[str, tuple[str, ...]] = {
    "gru": ("Eigen GRULayer/GRULayerT", "STL/xsimd GRULayer", "STL GRULayerT", "xsimd GRULayerT", ENGINE),
    "lstm": ("Eigen LSTMLayer/LSTMLayerT", "STL/xsimd LSTMLayer", "STL/xsimd LSTMLayerT", ENGINE),
}


@dataclass(frozen=True)
class Spread:
    """How far apart the builds can be on one recurrent layer's outputs over a stream.

    ``excess`` is the largest ratio of the spread to the tolerance (above 1: the builds disagree beyond it),
    at ``step``/``unit``; ``values`` the output each build's order gives there; ``terms`` and ``result`` the
    size of the cancelling gate's terms (Σ|term|) and of its pre-activation there.
    """

    excess: float
    step: int
    unit: int
    width: float
    values: dict[str, float]
    terms: float
    result: float


def _sigmoid(v: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(v, np.float64)))


class _Type:
    """Arithmetic in the run's type: every value rounded into it as the builds hold it."""

    def __init__(self, dtype: str) -> None:
        self.dtype = np.dtype(dtype)
        self.u = float(np.finfo(self.dtype).eps) / 2  # one rounding, relative

    def __call__(self, v: Any) -> np.ndarray:
        return np.asarray(v, np.float64).astype(self.dtype)

    def sigmoid(self, v: np.ndarray) -> np.ndarray:
        return self(_sigmoid(v))

    def tanh(self, v: np.ndarray) -> np.ndarray:
        return self(np.tanh(np.asarray(v, np.float64)))


def _previous(hs: np.ndarray, t: _Type) -> np.ndarray:
    """The state each step starts from: zero, then the engine's output of the step before."""
    hs = np.asarray(hs, np.float64)
    return t(np.vstack([np.zeros((1, hs.shape[1])), hs[:-1]]))


def _interval(pres: list[np.ndarray], widen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stacked = np.stack([np.asarray(p, np.float64) for p in pres])
    return stacked.min(0) - widen, stacked.max(0) + widen


def gru_spread(
    xs: np.ndarray, hs: np.ndarray, weights: Sequence[Any], dtype: str, atol: float, rtol: float
) -> Spread:
    """The builds' spread on a GRU layer (Keras gate order z, r, candidate; two bias rows) given its inputs
    ``xs`` [T, in] and the engine's outputs ``hs`` [T, H], each step recomputed from the engine's state of
    the step before."""
    t = _Type(dtype)
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in weights)
    hidden = recurrent.shape[0]
    x, h = t(xs), _previous(hs, t)
    wx, uh = t(x @ kernel), t(h @ recurrent)  # each product rounded once into the run's type
    b0, b1 = t(bias[0]), t(bias[1])
    z, r, c = (slice(k * hidden, (k + 1) * hidden) for k in range(3))
    zr = slice(0, 2 * hidden)
    # Per build: (z and r pre-activations [T, 2H], the candidate's pre-activation given r).
    orders: dict[str, tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]] = {
        BUILD_ORDERS["gru"][0]: (
            (wx[:, zr] + b0[zr]) + (uh[:, zr] + b1[zr]),
            lambda g: (wx[:, c] + b0[c]) + g * (uh[:, c] + b1[c]),
        ),
        BUILD_ORDERS["gru"][1]: (
            ((wx[:, zr] + uh[:, zr]) + b0[zr]) + b1[zr],
            lambda g: (wx[:, c] + g * (uh[:, c] + b1[c])) + b0[c],
        ),
        BUILD_ORDERS["gru"][2]: (
            (uh[:, zr] + (b0[zr] + b1[zr])) + wx[:, zr],
            lambda g: (g * (uh[:, c] + b1[c]) + b0[c]) + wx[:, c],
        ),
        BUILD_ORDERS["gru"][3]: (  # a fused multiply-add: r * (U_c h + b1_c) + (b0_c + W_c x), rounded once
            (uh[:, zr] + (b0[zr] + b1[zr])) + wx[:, zr],
            lambda g: t(g.astype(np.float64) * (uh[:, c] + b1[c]) + (b0[c] + wx[:, c])),
        ),
        ENGINE: (
            (t(bias[0][zr] + bias[1][zr]) + wx[:, zr]) + uh[:, zr],  # pre-summed in double when loaded
            lambda g: (b0[c] + wx[:, c]) + g * (b1[c] + uh[:, c]),
        ),
    }
    values, pres = {}, []
    for name, (gates, candidate) in orders.items():
        update, reset = t.sigmoid(gates[:, :hidden]), t.sigmoid(gates[:, hidden:])
        cand_pre = candidate(reset)
        values[name] = t((1 - update) * t.tanh(cand_pre) + update * h)
        pres.append(np.hstack([gates, cand_pre]))

    terms = np.abs(x) @ np.abs(kernel) + np.abs(h) @ np.abs(recurrent) + np.abs(bias[0]) + np.abs(bias[1])
    lo, hi = _interval(pres, t.u * terms)
    # The candidate also moves with r inside its interval: c = a + r * b, with b = U_c h + b1_c.
    reach = np.abs(uh[:, c] + bias[1][c]) * (_sigmoid(hi[:, r]) - _sigmoid(lo[:, r]))
    candidates = (np.tanh(lo[:, c] - reach), np.tanh(hi[:, c] + reach))
    corners = [
        (1 - g) * k + g * h
        for g, k in itertools.product((_sigmoid(lo[:, z]), _sigmoid(hi[:, z])), candidates)
    ]
    return _spread(corners, values, hs, atol, rtol, terms, np.asarray(pres[-1], np.float64), hidden)


def lstm_spread(
    xs: np.ndarray, hs: np.ndarray, weights: Sequence[Any], dtype: str, atol: float, rtol: float
) -> Spread:
    """The builds' spread on an LSTM layer (Keras gate order i, f, c, o; one bias) given its inputs ``xs``
    [T, in] and the engine's outputs ``hs`` [T, H]; the cell state, which the engine does not expose, is
    carried from zero in this engine's order."""
    t = _Type(dtype)
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in weights)
    hidden = recurrent.shape[0]
    x, h = t(xs), _previous(hs, t)
    wx, uh, b = t(x @ kernel), t(h @ recurrent), t(bias)
    orders = {
        BUILD_ORDERS["lstm"][0]: (wx + uh) + b,  # one product over [x; h; 1]: the bias column comes last
        BUILD_ORDERS["lstm"][1]: (wx + uh) + b,
        BUILD_ORDERS["lstm"][2]: (uh + b) + wx,
        ENGINE: (b + wx) + uh,
    }
    i, f, g, o = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
    cells = np.zeros((len(x), hidden), t.dtype)  # the cell state each step starts from
    state = np.zeros(hidden, t.dtype)
    for step, gates in enumerate(orders[ENGINE]):
        cells[step] = state
        state = t(t.sigmoid(gates[f]) * state + t.sigmoid(gates[i]) * t.tanh(gates[g]))

    values = {}
    for name, pre in orders.items():
        cell = t(t.sigmoid(pre[:, f]) * cells + t.sigmoid(pre[:, i]) * t.tanh(pre[:, g]))
        values[name] = t(t.sigmoid(pre[:, o]) * t.tanh(cell))

    terms = np.abs(x) @ np.abs(kernel) + np.abs(h) @ np.abs(recurrent) + np.abs(bias)
    lo, hi = _interval(list(orders.values()), t.u * terms)
    c64 = cells.astype(np.float64)
    # h = o * tanh(f c + i tanh(g)) is monotone in each pre-activation: its extremes are at the corners.
    corners = [
        _sigmoid(og) * np.tanh(_sigmoid(fg) * c64 + _sigmoid(ig) * np.tanh(gg))
        for ig, fg, gg, og in itertools.product(*[(lo[:, s], hi[:, s]) for s in (i, f, g, o)])
    ]
    return _spread(corners, values, hs, atol, rtol, terms, orders[ENGINE].astype(np.float64), hidden)


def _spread(
    corners: list[np.ndarray],
    values: dict[str, np.ndarray],
    engine: np.ndarray,
    atol: float,
    rtol: float,
    terms: np.ndarray,
    pre: np.ndarray,
    hidden: int,
) -> Spread:
    """The worst element of the spread (where the builds' own orders disagree most, if they do beyond the
    tolerance anywhere; else where the widened interval is widest), and the gate whose terms cancel most."""
    allowed = atol + rtol * np.abs(np.asarray(engine, np.float64))

    def ratio(arrays: list[np.ndarray]) -> np.ndarray:
        stacked = np.stack([np.asarray(a, np.float64) for a in arrays])
        with np.errstate(invalid="ignore"):
            width = stacked.max(0) - stacked.min(0)
        return np.where(np.isnan(width), np.inf, width) / allowed

    by_order = ratio(list(values.values()))
    widened = ratio(corners + list(values.values()))
    chosen = by_order if by_order.max() > 1 else widened
    step, unit = (int(k) for k in np.unravel_index(int(np.argmax(chosen)), chosen.shape))
    gates = range(unit, pre.shape[1], hidden)
    cancel = max(gates, key=lambda k: terms[step, k] / (abs(pre[step, k]) + np.finfo(np.float64).tiny))
    return Spread(
        excess=float(widened.max()),
        step=step,
        unit=unit,
        width=float(widened[step, unit] * allowed[step, unit]),
        values={name: float(v[step, unit]) for name, v in values.items()},
        terms=float(terms[step, cancel]),
        result=float(pre[step, cancel]),
    )


# --------------------------------------------------------------------------------------------- the check

_RECURRENT: dict[str, Callable[..., Spread]] = {"gru": gru_spread, "lstm": lstm_spread}
_DENSE = ("dense", "time-distributed-dense")
_CONVOLUTIONS = ("conv1d", "conv2d")
_IGNORE_ACTIVATION = ("lstm", "gru", "prelu", "batchnorm", "batchnorm2d")  # docs/format.md §3.4
_OVERFLOW = "the builds add its terms in different orders, so one gives inf, another -inf or NaN (inf - inf)"
_NAN_INTO_RELU = (
    "RTNeural's Eigen builds output NaN, its STL builds (and this engine) 0 (docs/format.md §15.25)"
)


def check_builds(model: Any, source: Any, xs: np.ndarray, *, atol: float, rtol: float) -> Check:
    """``warn`` when RTNeural's builds can give different answers on ``model`` (an engine
    :class:`~verifier.engine.model.Model` loaded from ``source``) streamed over ``xs``, beyond ``atol`` /
    ``rtol``: naming each such layer and the builds that disagree; ``pass`` otherwise."""
    layers = model.layers
    relu = [info for info in layers if info.activation == "relu" and info.type not in _IGNORE_ACTIVATION]
    recurrent = [info for info in layers if info.type in _RECURRENT]
    sums = [info for info in layers if info.type in _DENSE + _CONVOLUTIONS]
    if not relu and not recurrent and not sums:
        return Check(
            NAME,
            PASS,
            "no layer whose result depends on RTNeural's build (no GRU, LSTM, dense or convolution)",
            {},
        )
    if len(xs) == 0:
        return Check(NAME, SKIP, "no input steps to run the model on", {})
    outputs = _layer_streams(model, xs)
    entries = _entries(source)
    with np.errstate(all="ignore"):  # inf and NaN are findings here, not warnings on stderr
        findings = _findings(layers, xs, outputs, entries, model.dtype, atol, rtol)
    checked = f"{len(recurrent)} recurrent layer(s), {len(relu)} relu, {len(sums)} dense/convolution sums"
    if not findings:
        return Check(
            NAME,
            PASS,
            f"RTNeural's builds agree within the stream tolerance on this input ({checked} checked)",
            {"findings": []},
        )
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return Check(
        NAME,
        WARN,
        f"{findings[0]['summary']}{more}; which answer a plugin gets depends on its RTNeural build, so the "
        "numeric checks judge only this engine's",
        {"findings": findings},
    )


def explain_failure(check: Check, builds: Check) -> Check:
    """A failing numeric ``check`` with a note that RTNeural's builds disagree on the model (``builds`` is a
    ``warn`` of :func:`check_builds`): the failure may be the engine's order of additions, not the export."""
    if not check.failed or builds.status != WARN:
        return check
    layers = sorted({f["pointer"] for f in builds.figures["findings"]})
    note = (
        f"; RTNeural's own builds disagree on {', '.join(layers)} ({NAME}): with terms that cancel, any "
        "order of additions, this engine's included, can be this far from the reference without an export "
        "mistake"
    )
    return Check(check.name, check.status, check.summary + note, {**check.figures, "builds_disagree": layers})


def _findings(
    layers: Sequence[Any],
    xs: np.ndarray,
    outputs: list[np.ndarray],
    entries: list[dict[str, Any]],
    dtype: str,
    atol: float,
    rtol: float,
) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    for k, info in enumerate(layers):
        inputs = xs if k == 0 else outputs[k - 1]
        if info.type in _RECURRENT:
            weights = entries[info.index]["weights"]
            spread = _RECURRENT[info.type](inputs, outputs[k], weights, dtype, atol, rtol)
            if spread.excess > 1:
                findings.append(_spread_finding(info, spread, atol, rtol))
                continue
        if info.activation == "relu" and info.type not in _IGNORE_ACTIVATION:
            step = _nan_before_relu(info, inputs, entries, dtype)
            if step is not None:
                findings.append(
                    {"pointer": info.pointer, "type": info.type, "kind": "nan-into-relu", "step": step,
                     "summary": f"{info.pointer} ({info.type}): a NaN reaches relu at step {step}: "
                     f"{_NAN_INTO_RELU}"}
                )  # fmt: skip
                continue
        if info.type in _DENSE + _CONVOLUTIONS + tuple(_RECURRENT):
            step = _overflowing_sum(info, inputs, entries, dtype)
            if step is not None:
                findings.append(
                    {"pointer": info.pointer, "type": info.type, "kind": "overflow", "step": step,
                     "summary": f"{info.pointer} ({info.type}): its sum can overflow {dtype} at step {step}: "
                     f"{_OVERFLOW}"}
                )  # fmt: skip
    return findings


def _overflowing_sum(info: Any, inputs: np.ndarray, entries: list[dict[str, Any]], dtype: str) -> int | None:
    """The first step at which a term of the layer's sum, or the sum of their sizes, reaches the largest
    number of the run's type (or an input is not finite), or None. Past it the result is inf, -inf or
    inf - inf = NaN according to the order of the additions, which differs between RTNeural's builds and
    this engine; below it every order gives a finite number."""
    with np.errstate(all="ignore"):
        x = np.abs(np.asarray(inputs, np.float64))
        arrays = entries[info.index]["weights"]
        weights = np.abs(np.asarray(arrays[0], np.float64))
        if info.type in _DENSE:
            size = x @ weights.reshape(x.shape[1], -1)  # [steps, outputs]: Σ |x_j| |w_jk|
        elif info.type in _RECURRENT:  # a gate's W·x, plus U·h (|h| <= 1 in both cells) and the bias(es)
            gates = weights.shape[1]
            reach = np.abs(np.asarray(arrays[1], np.float64)).sum(axis=0)
            bias = np.abs(np.asarray(arrays[2], np.float64)).reshape(-1, gates).sum(axis=0)
            size = x @ weights + reach + bias
        else:  # a convolution's sum over its window: bounded by its largest input times the kernel's Σ|w|
            size = x.max(axis=1, keepdims=True) * weights.sum()
        over = ~np.isfinite(x).all(axis=1) | (size >= np.finfo(dtype).max).any(axis=1)
    steps = np.flatnonzero(over)
    return int(steps[0]) if len(steps) else None


def _layer_streams(model: Any, xs: np.ndarray) -> list[np.ndarray]:
    """Each JSON layer's outputs [T, width] over the stream ``xs`` (the model is reset before and after)."""
    model.reset()
    try:
        steps = [model.layer_outputs(x) for x in np.asarray(xs)]
    finally:
        model.reset()
    return [np.stack([step[k] for step in steps]) for k in range(len(model.layers))]


def _entries(source: Any) -> list[dict[str, Any]]:
    from verifier.format.reader.document import read

    return list(read(source).skeleton(("type", "weights"))["layers"])


def _nan_before_relu(info: Any, inputs: np.ndarray, entries: list[dict[str, Any]], dtype: str) -> int | None:
    """The first step at which relu's input holds a NaN (for a dense entry, its own sum computed in the run's
    type: large terms of both signs overflow to inf - inf there), or None. A convolution's sum is not
    recomputed: its relu is counted as reached by a NaN from the first step whose input is not finite, or
    whose terms could overflow the run's type (|x| times the kernel's Σ|w|), where inf - inf can arise."""
    with np.errstate(all="ignore"):
        x = np.asarray(inputs, np.float64)
        nan = np.isnan(x).any(axis=1)
        if info.type in _DENSE:
            # A dense entry without a bias (one weight array) is a file RTNeural reads: bias 0.
            kernel, *bias = (
                np.asarray(w, np.float64).astype(dtype) for w in entries[info.index]["weights"][:2]
            )
            nan |= np.isnan(np.asarray(inputs).astype(dtype) @ kernel + sum(bias)).any(axis=1)
        elif info.type in _CONVOLUTIONS:
            terms = np.abs(np.asarray(entries[info.index]["weights"][0], np.float64)).sum()
            nan |= ~np.isfinite(x).all(axis=1) | (np.abs(x).max(axis=1) * terms >= np.finfo(dtype).max)
    steps = np.flatnonzero(nan)
    return int(steps[0]) if len(steps) else None


def _spread_finding(info: Any, spread: Spread, atol: float, rtol: float) -> dict[str, Any]:
    allowed = atol + rtol * abs(spread.values[ENGINE])
    groups: dict[float, list[str]] = {}
    for name, value in spread.values.items():
        key = next((k for k in groups if abs(k - value) <= allowed), value)
        groups.setdefault(key, []).append(name)
    if len(groups) > 1:
        builds = "; ".join(
            f"{_listed(names)} {'give' if len(names) > 1 else 'gives'} {value:.6g}"
            for value, names in groups.items()
        )
    else:
        builds = (
            f"their addition orders agree here ({spread.values[ENGINE]:.6g}), but builds that sum the dot "
            "products in another order (Eigen's vectorised products, the STL loops) can differ by that much"
        )
    summary = (
        f"{info.pointer} ({info.type}): RTNeural's builds can disagree by up to {spread.width:.3g} at step "
        f"{spread.step}, unit {spread.unit} (tolerance {allowed:.2g}); from the same state, {builds}; a "
        f"gate's terms of total size "
        f"{spread.terms:.3g} cancel to {spread.result:.3g}, and each order keeps a different part of them"
    )
    return {
        "pointer": info.pointer,
        "type": info.type,
        "kind": "addition-order",
        "step": spread.step,
        "unit": spread.unit,
        "spread": spread.width,
        "tolerance": allowed,
        "values": spread.values,
        "terms": spread.terms,
        "result": spread.result,
        "summary": summary,
    }


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
