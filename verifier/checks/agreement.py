"""Numeric agreement between the engine and a reference, per frame and streamed, and what the plugin gets.

Two call patterns exist and they differ for any model with state (LSTM, GRU, conv1d):

* **frame**: every call starts from zero state. This is how PyTorch runs a model called once per step with
  ``h0 = c0 = None``, and what RTNeural computes only when the plugin calls ``reset()`` before each
  ``forward()`` (``Model.run_frames``).
* **stream**: state carries from one call to the next. This is what RTNeural does by default
  (``Model.run`` after one ``reset()``), and what PyTorch computes on a whole sequence.

The engine is checked against the reference in both patterns (``numeric-frame``, ``numeric-stream``): those
two say whether the export and the engine are right. ``plugin-state`` then compares what the plugin gets
(its declared call pattern) with what the model was trained to compute (PyTorch's call pattern), and reports
the difference with its figure rather than hiding it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.checks.passrule import outside
from verifier.checks.results import FAIL, PASS, SKIP, WARN, Check

FRAME = "frame"
STREAM = "stream"
PLUGIN_CALLS = {"stream": STREAM, "reset-each-call": FRAME}


@dataclass(frozen=True)
class Outputs:
    """The four output sequences ``[T, out]`` a numeric check needs, for the same inputs."""

    expected_frame: np.ndarray
    expected_stream: np.ndarray
    actual_frame: np.ndarray
    actual_stream: np.ndarray


def random_inputs(steps: int, width: int, seed: int) -> np.ndarray:
    """``[steps, width]`` inputs uniform in [-1, 1] (the range audio features are normalised to)."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(steps, width))


def check_agreement(
    name: str, expected: np.ndarray, actual: np.ndarray, *, atol: float, rtol: float, dtype: str
) -> Check:
    """``actual`` (engine) against ``expected`` (reference) element by element."""
    from verifier.checks.compare import compare

    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    result = compare(e, a, atol, rtol)
    figures: dict[str, Any] = {
        "dtype": dtype,
        "atol": atol,
        "rtol": rtol,
        "max_abs_error": result.max_abs_error,
        "max_rel_error": result.max_rel_error,
        "worst_step": result.worst_step,
        "first_failing_step": result.first_failing_step,
        "n_failing": result.n_failing,
        "n_compared": result.n_compared,
    }
    # NaN and inf fail: a plugin fed a NaN outputs silence or noise (softmax of large logits overflows float32
    # in RTNeural's formula, which subtracts no maximum).
    nonfinite = [t for t in (_not_finite("engine", a), _not_finite("reference", e)) if t]
    if nonfinite:
        return Check(name, FAIL, f"{'; '.join(nonfinite)}; {result.summary()}", figures)
    return Check(name, PASS if result.passed else FAIL, result.summary(), figures)


def not_the_chain(check: Check, mismatches: Sequence[Any]) -> Check:
    """``check`` failed when the torch module's forward() is not the chain its export_order declares.

    The export writes the declared chain, so the file cannot compute the module; the comparison with the
    module's own forward() then fails too, but this names the cause. ``mismatches`` are
    ``verifier.pytorch.run.ChainMismatch`` values.
    """
    if not mismatches:
        return check
    first = mismatches[0]
    figures = {
        **check.figures,
        "forward_vs_chain": [
            {"module": m.name or "/", "pattern": m.pattern, "max_abs": m.max_abs, "step": m.step}
            for m in mismatches
        ],
    }
    return Check(check.name, FAIL, f"{first.describe()}; {check.summary}", figures)


def _not_finite(name: str, values: np.ndarray) -> str | None:
    """Where ``values`` first holds a NaN or an infinity, said in one clause (None when all are finite)."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    where = [int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), values.shape)]
    return f"the {name} output is not finite ({values.flat[int(np.flatnonzero(bad)[0])]} at {where})"


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if a.size else 0.0


def check_plugin_state(
    outputs: Outputs,
    *,
    atol: float,
    rtol: float,
    plugin_call: str | None,
    torch_call: str | None,
    disagreeing: Collection[str] = (),
) -> Check:
    """What the plugin gets (``plugin_call``) against what PyTorch computes (``torch_call``).

    ``plugin_call`` is ``"stream"`` (RTNeural's default: state kept between calls) or ``"reset-each-call"``;
    ``torch_call`` is ``"frame"`` (one step from zero state per call) or ``"stream"``. When either is unknown
    the difference between the two patterns is still measured and reported, but not judged.

    ``disagreeing`` names the patterns (``"frame"``, ``"stream"``) whose numeric check failed: when the
    engine already disagrees with PyTorch in the pattern the plugin gets or the one PyTorch computes, no
    call pattern can make them agree, so the check is skipped saying so, rather than advising a change of
    call pattern that would not help (and that may contradict the declared one).
    """
    divergence = _max_abs(outputs.actual_stream, outputs.actual_frame)
    figures: dict[str, Any] = {
        "plugin_call": plugin_call,
        "torch_call": torch_call,
        "stream_vs_frame_max_abs": divergence,
        "atol": atol,
        "rtol": rtol,
    }
    nonfinite = _not_finite("streamed", np.asarray(outputs.actual_stream, np.float64)) or _not_finite(
        "per-frame", np.asarray(outputs.actual_frame, np.float64)
    )
    if nonfinite:  # NaN - NaN is NaN, never "no difference": nothing can be said about state
        return Check("plugin-state", FAIL, f"{nonfinite}: the plugin gets no usable output", figures)
    if divergence == 0.0:
        return Check(
            "plugin-state",
            PASS,
            "stream and per-frame outputs are identical (no state): either call pattern is fine",
            figures,
        )
    gets = PLUGIN_CALLS.get(plugin_call or "stream", STREAM)
    compared = {gets} | ({torch_call} if torch_call in (FRAME, STREAM) else set())
    failing = sorted(compared & set(disagreeing), reverse=True)  # "stream" first
    if failing:
        names = " and ".join(f"numeric-{pattern}" for pattern in failing)
        verb = "fail" if len(failing) > 1 else "fails"
        return Check(
            "plugin-state",
            SKIP,
            f"not judged: the engine's output already disagrees with PyTorch ({names} {verb}), whatever the "
            "plugin's call pattern; judged again once that is fixed",
            figures,
        )
    plugin_text = (
        "the plugin gets the streamed output (RTNeural keeps state between calls)"
        if gets == STREAM
        else "the plugin gets per-frame output (it resets before every call)"
    )
    if torch_call is None:
        return Check(
            "plugin-state",
            PASS if plugin_call is None else WARN,
            f"streamed output differs from per-frame output by up to {divergence:.3g}; {plugin_text} "
            "unless it calls reset() before every forward()"
            if plugin_call is None
            else f"streamed output differs from per-frame output by up to {divergence:.3g}; {plugin_text}; "
            "PyTorch's call pattern is not declared",
            figures,
        )
    plugin_out = outputs.actual_stream if gets == STREAM else outputs.actual_frame
    torch_out = outputs.expected_frame if torch_call == FRAME else outputs.expected_stream
    gap = np.abs(np.asarray(plugin_out, np.float64) - np.asarray(torch_out, np.float64))
    figures["plugin_vs_torch_max_abs"] = float(gap.max()) if gap.size else 0.0
    torch_text = "one step from zero state per call" if torch_call == FRAME else "a continuous stream"
    if not outside(torch_out, plugin_out, atol, rtol).any():
        return Check(
            "plugin-state",
            PASS,
            f"{plugin_text}, matching PyTorch ({torch_text}); "
            f"streaming would differ by up to {divergence:.3g}",
            figures,
        )
    worst = float(gap.max())
    if gets == torch_call:  # the patterns are the same: no change of call pattern can close this gap
        return Check(
            "plugin-state",
            FAIL,
            f"{plugin_text}, as PyTorch computes ({torch_text}), yet outputs differ by up to {worst:.3g} "
            f"(tolerance {atol:g}): not a call-pattern problem; see numeric-{gets}",
            figures,
        )
    fix = "call reset() before every forward()" if gets == STREAM else "stop resetting between calls"
    return Check(
        "plugin-state",
        FAIL,
        f"{plugin_text}, but PyTorch computes {torch_text}: outputs differ by up to {worst:.3g} "
        f"(tolerance {atol:g}); to match, the plugin must {fix}",
        figures,
    )
