"""Differential property: random models run through our engine and through the real RTNeural must agree.

Models are drawn from the architecture schema: every entry type and activation RTNeural's dynamic loader
builds (the exporter's, and time-distributed-dense, conv2d and batchnorm2d written directly), with widths
into the hundreds, weight arrays rescaled across float32's whole range, and inputs of any float32
magnitude with NaN and ±inf mixed in; each runs in float32 and float64, streamed and frame by frame.

What counts as agreement, for each output value:

* both files are refused, or both load: the engine refuses exactly what RTNeural refuses. Documents the
  validator says would crash RTNeural are never handed to it (recorded as an event), and a document refused
  because RTNeural would compute it silently wrong must load in RTNeural.
* the same value, both NaN, or within ENGINE_VS_RTNEURAL_ATOL (absolute, and relative to the value: the
  documented figure is measured at outputs of order one) plus ``SLACK`` times the model's own rounding
  spread: how far the engine's output moves when every weight and input is moved by ``ULPS`` units in the
  last place. Two correct implementations that add in different orders are apart by about that much; a
  misread weight or a wrong gate is apart by far more.
* streamed, only over the steps before a chaotic model's horizon (checks/diagnose/sensitivity.py).
* otherwise RTNeural's own builds disagree on the model (GRU/LSTM cancellation, a NaN into relu): then
  check_builds must warn, which is what ``verify`` shows the user. Anything else is a failure.

The same agreement is checked against RTNeural's compile-time ``ModelT`` in tests/test_differential_modelt.py
(:func:`check_agreement`).

Under the default profiles a short sample (``NORMAL_EXAMPLES`` per dtype, and ``PER_TYPE_EXAMPLES`` per
entry type and dtype at ordinary magnitudes); under ``thorough`` the profile's count
($VERIFIER_THOROUGH_EXAMPLES). ``pytest --hypothesis-show-statistics`` prints the events (loads, refusals,
entry types met, build-dependent cases, chaotic horizons) and, as the target score, the worst
``|engine - other| / (atol + rtol·|other|)`` over the values held to agreement (with ``atol = rtol`` the
score times ``atol`` is ``|engine - other| / (1 + |other|)``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings, target
from hypothesis import strategies as st
from test_rtneural_backend import DTYPES, ENGINE_VS_RTNEURAL_ATOL, rtneural  # noqa: F401 (a fixture)

from verifier.checks.builds import check_builds
from verifier.checks.diagnose.sensitivity import stream_horizon
from verifier.checks.results import WARN
from verifier.engine.backends import load_backend
from verifier.errors import ModelFormatError
from verifier.format.reader.float32 import FLOAT32_MAX
from verifier.format.validate import validate
from verifier.testing.strategies import (
    ALL_LAYER_TYPES,
    Range,
    architectures,
    bounds,
    describe,
    documents,
    inputs,
    rescaled,
)

NORMAL_EXAMPLES = 25
EXAMPLES = (
    settings.default.max_examples
    if os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
    else min(NORMAL_EXAMPLES, settings.default.max_examples)
)

# Widest layer drawn, in tiers (shrinking towards the schema's own): a few wide models keep the sample fast.
WIDTH_TIERS = (bounds().width.hi, 64, 300)
ULPS = 4  # size of the perturbation that measures a model's rounding spread, in units in the last place
PERTURBED_RUNS = 2
# Random-sign perturbations of every term measure the spread an order of additions can give to within a
# small factor; a real mistake (a transposed kernel, a swapped gate) is orders of magnitude beyond.
SLACK = 8.0


@st.composite
def cases(
    draw: st.DrawFn, required: str | None = None, *, ordinary: bool = False
) -> tuple[dict[str, Any], dict[str, Any], np.ndarray]:
    """(spec, keras-json document, input stream); the spec holds a layer of type *required* (default: a
    drawn type, so that a short sample still meets every type, conv2d as often as dense, not only the types
    a uniform draw per layer happens to reach). *ordinary*: see :func:`weights_and_inputs`."""
    tier = draw(st.sampled_from(WIDTH_TIERS), label="widest")
    wide = dataclasses.replace(bounds(), width=Range(1, tier), in_size=Range(1, tier))
    if required is None:
        required = draw(st.sampled_from(ALL_LAYER_TYPES), label="required type")
    spec = draw(
        architectures(
            types=ALL_LAYER_TYPES,
            required=(required,),
            limits=wide,
            max_layers=None if tier == WIDTH_TIERS[0] else 3,
        ),
        label="spec",
    )
    doc, xs = draw(weights_and_inputs(spec, ordinary=ordinary), label="weights and inputs")
    return spec, doc, xs


@st.composite
def weights_and_inputs(
    draw: st.DrawFn, spec: dict[str, Any], *, ordinary: bool = False
) -> tuple[dict[str, Any], np.ndarray]:
    """The document of *spec*, its weight arrays rescaled across float32's range or not, and an input stream
    of ordinary or any float32 magnitude, with NaN and ±inf or without. *ordinary*: the weights as drawn and
    finite inputs of the schema's magnitude, where every layer's mistake shows in the outputs (a flipped
    kernel under weights of 1e-30 or inputs that saturate every tanh does not)."""
    doc = documents(spec)
    if not ordinary and draw(st.booleans(), label="rescaled"):
        doc = draw(rescaled(doc), label="doc")
    if ordinary:
        return doc, draw(inputs(spec["in_size"]), label="xs")
    magnitude = draw(st.sampled_from((bounds().magnitude, FLOAT32_MAX)), label="magnitude")
    xs = draw(inputs(spec["in_size"], magnitude=magnitude, non_finite=draw(st.booleans())), label="xs")
    return doc, xs


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=EXAMPLES)
@given(case=cases())
def test_engine_agrees_with_rtneural_or_rtneural_builds_disagree(
    rtneural: ModuleType,  # noqa: F811
    dtype: str,
    case: tuple[dict[str, Any], dict[str, Any], np.ndarray],
) -> None:
    _agrees_with_rtneural(rtneural, dtype, *case)


# A few examples per entry type at ordinary magnitudes: a mistake in any one layer type fails every CI run,
# whatever the short mixed sample above happens to draw.
PER_TYPE_EXAMPLES = 3


@pytest.mark.rtneural
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ALL_LAYER_TYPES)
@settings(max_examples=max(PER_TYPE_EXAMPLES, EXAMPLES // len(ALL_LAYER_TYPES)))
@given(data=st.data())
def test_engine_agrees_with_rtneural_on_every_entry_type_at_ordinary_magnitudes(
    rtneural: ModuleType,  # noqa: F811
    kind: str,
    dtype: str,
    data: st.DataObject,
) -> None:
    _agrees_with_rtneural(rtneural, dtype, *data.draw(cases(kind, ordinary=True), label="case"))


def _agrees_with_rtneural(
    native: ModuleType, dtype: str, spec: dict[str, Any], doc: dict[str, Any], xs: np.ndarray
) -> None:
    try:
        engine = load_backend(doc, backend="engine", dtype=dtype)
    except ModelFormatError as refusal:
        _check_refused_by_rtneural(native, doc, dtype, refusal)
        return
    try:
        real = load_backend(doc, backend="rtneural", dtype=dtype)
    except ModelFormatError as error:
        pytest.fail(f"{dtype}: our engine loads {describe(spec)} and RTNeural does not: {error}")
    event("loaded by both")
    for kind in sorted({layer["type"] for layer in doc["layers"]}):
        event(f"loaded by both, with {kind}")

    def dynamic(pattern: str) -> np.ndarray:
        real.reset()
        return np.asarray(getattr(real, pattern)(xs), np.float64)

    check_agreement(engine, dynamic, doc, xs, dtype, spec, against="RTNeural")


PATTERNS = ("run", "run_frames")  # streamed, state carried; and a reset before every step


def check_agreement(
    engine: Any,
    theirs_for: Callable[[str], np.ndarray],
    doc: dict[str, Any],
    xs: np.ndarray,
    dtype: str,
    spec: dict[str, Any],
    *,
    against: str,
) -> None:
    """The engine (loaded from ``doc``) and another implementation whose outputs on ``xs`` for a pattern of
    :data:`PATTERNS` ``theirs_for`` gives agree, as the module docstring defines it, or RTNeural's builds
    disagree and check_builds warns; ``against`` names the other side in messages and statistics."""
    atol = rtol = ENGINE_VS_RTNEURAL_ATOL[dtype]
    for pattern in PATTERNS:
        engine.reset()
        with np.errstate(all="ignore"):
            ours = np.asarray(getattr(engine, pattern)(xs), np.float64)
            theirs = theirs_for(pattern)
        assert theirs.shape == ours.shape, f"{against} gives {theirs.shape} outputs, the engine {ours.shape}"
        bad = _disagreeing(ours, theirs, atol, rtol, 0.0)
        judged = np.ones_like(bad)
        if bad.any() and pattern == "run":
            judged[_horizon(doc, xs, dtype, atol, rtol) :] = False
            bad &= judged
        if bad.any():
            spread = _rounding_spread(doc, xs, dtype, pattern, ours)
            bad = bad & _disagreeing(ours, theirs, atol, rtol, spread)
        if bad.any():
            _check_builds_warn(engine, doc, xs, dtype, pattern, bad, ours, theirs, spec, against)
        else:  # the figure of what was held to agreement: not a chaotic tail, not a build-dependent case
            _record_worst(ours[judged], theirs[judged], atol, rtol, f"{against}, {dtype}, {pattern}")


def _check_refused_by_rtneural(
    native: ModuleType, doc: dict[str, Any], dtype: str, refusal: ModelFormatError
) -> None:
    """What our engine refuses, RTNeural refuses too, or would crash on, or reads into wrong numbers, as
    the validator's findings on the file say."""
    errors = [f for f in validate(doc, dtype=dtype) if f.severity == "error"]
    assert errors, f"the engine refuses ({refusal}) but the validator finds no error"
    outcomes = {f.rtneural for f in errors}
    rules = ", ".join(sorted({f.rule for f in errors}))
    if "crash" in outcomes:
        event(f"refused; RTNeural would crash ({rules}): not handed to it")
        return
    model_class = native.ModelFloat32 if dtype == "float32" else native.ModelFloat64
    text = json.dumps(doc, allow_nan=False)
    if "exception" in outcomes:
        try:
            model_class(text)
        except ValueError:
            event(f"refused by both ({rules})")
            return
        pytest.fail(f"our engine refuses ({refusal}) and RTNeural loads it", pytrace=False)
    model_class(text)  # "silently wrong": RTNeural loads it; the engine refuses to compute wrong numbers
    event(f"refused by us; RTNeural loads it and computes it wrong ({rules})")


def _disagreeing(
    ours: np.ndarray, theirs: np.ndarray, atol: float, rtol: float, spread: np.ndarray | float
) -> np.ndarray:
    with np.errstate(all="ignore"):
        allowed = atol + rtol * np.abs(theirs) + SLACK * np.where(np.isnan(spread), np.inf, spread)
        same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
        return ~(same | (np.abs(ours - theirs) <= allowed))


def _record_worst(ours: np.ndarray, theirs: np.ndarray, atol: float, rtol: float, where: str) -> None:
    finite = np.isfinite(ours) & np.isfinite(theirs)
    if finite.any():
        with np.errstate(all="ignore"):
            ratio = np.abs(ours - theirs)[finite] / (atol + rtol * np.abs(theirs[finite]))
        target(float(np.nan_to_num(ratio.max(), posinf=FLOAT32_MAX)), label=f"error / tolerance, {where}")


def _horizon(doc: dict[str, Any], xs: np.ndarray, dtype: str, atol: float, rtol: float) -> int:
    """The steps a chaotic recurrent model reproduces when streamed (all of them for any other model)."""
    if not any(layer["type"] in ("lstm", "gru") for layer in doc["layers"]):
        return len(xs)
    with np.errstate(all="ignore"):
        horizon = stream_horizon(doc, np.nan_to_num(xs), dtype, atol, rtol)
    if horizon.step is None:
        return len(xs)
    event("chaotic: streamed comparison up to its horizon")
    return int(horizon.step)


def _rounding_spread(doc: dict[str, Any], xs: np.ndarray, dtype: str, pattern: str, ours: np.ndarray) -> Any:
    """How far the engine's outputs move when every weight and input moves by ``ULPS`` units in the last
    place of ``dtype`` (random signs; towards zero where that would leave float32's range)."""
    rng = np.random.default_rng(0)
    u = float(np.finfo(np.dtype(dtype)).eps) / 2
    spread = np.zeros_like(ours)
    for _ in range(PERTURBED_RUNS):
        moved = {
            **doc,
            "layers": [
                {**layer, "weights": [_perturbed(w, rng, u) for w in layer.get("weights", [])]}
                for layer in doc["layers"]
            ],
        }
        model = load_backend(moved, backend="engine", dtype=dtype)
        with np.errstate(all="ignore"):
            out = np.asarray(getattr(model, pattern)(_perturbed(xs, rng, u, as_list=False)), np.float64)
            apart = np.where(np.isnan(ours) & np.isnan(out), 0.0, np.abs(out - ours))
        spread = np.maximum(spread, np.where(np.isnan(apart), np.inf, apart))
    return spread


def _perturbed(values: Any, rng: np.random.Generator, u: float, *, as_list: bool = True) -> Any:
    a = np.asarray(values, np.float64)
    with np.errstate(all="ignore"):
        up = a * (1.0 + ULPS * u * rng.choice((-1.0, 1.0), size=a.shape))
        out = np.where(np.abs(up) > FLOAT32_MAX, a * (1.0 - ULPS * u), up)
    return out.tolist() if as_list else out


def _check_builds_warn(
    engine: Any,
    doc: dict[str, Any],
    xs: np.ndarray,
    dtype: str,
    pattern: str,
    bad: np.ndarray,
    ours: np.ndarray,
    theirs: np.ndarray,
    spec: dict[str, Any],
    against: str,
) -> None:
    """A disagreement is allowed only where RTNeural's own builds disagree: check_builds must warn there,
    on the stream or on the failing frame (a frame is a one-step stream from a reset state)."""
    atol = rtol = ENGINE_VS_RTNEURAL_ATOL[dtype]
    step = int(np.flatnonzero(bad.any(axis=1))[0])
    stream = xs if pattern == "run" else xs[step : step + 1]
    builds = check_builds(engine, doc, stream, atol=atol, rtol=rtol)
    unit = int(np.flatnonzero(bad[step])[0])
    assert builds.status == WARN, (
        f"{pattern} ({dtype}) step {step}, output {unit}: engine {ours[step, unit]!r}, {against} "
        f"{theirs[step, unit]!r}, and RTNeural's builds agree ({builds.summary}); model {describe(spec)}"
    )
    kinds = sorted({f["kind"] for f in builds.figures["findings"]})
    event(f"{against}: build-dependent ({', '.join(kinds)}): check_builds warns")
