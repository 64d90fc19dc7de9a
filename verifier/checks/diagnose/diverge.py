"""The first diverging layer of a numeric failure: where the engine's output first leaves the reference's.

Every JSON entry's output (``Model.layer_outputs``, one step at a time) is compared with the output of the
matching unit of the reference module (:mod:`verifier.pytorch.layerwise`), at the same tolerance as the
failing check. The layer named is the first one whose output leaves tolerance while its input (the previous
entry's output) is still within it -- coremltools' rule for the op that is the source of a failure -- with
the first step at which it does.

JSON entries and module units are lined up by their (kind, width) keys (``difflib``'s longest matching
blocks), so a module layer the export lost (docs/format.md §15.5) or an entry the module does not have
shows as a gap, and is named as the cause of the divergence right after it. A layer that diverges on its own
is tried against the known export mistakes (:mod:`verifier.checks.diagnose.mistakes`): when undoing one of
them on its entry makes its output agree with the reference, that mistake is named as the likely cause.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from verifier.checks.diagnose.mistakes import Correction, corrections
from verifier.checks.passrule import failing_steps
from verifier.checks.results import Check
from verifier.quoting import exception_text

FRAME, STREAM = "frame", "stream"
CHECK_PATTERN = {"numeric-frame": FRAME, "numeric-stream": STREAM}


@dataclass(frozen=True)
class Alignment:
    """JSON entries against module units.

    ``boundary[e]`` is how many units of the module have run when entry ``e`` has: entry ``e``'s output is
    compared with unit ``boundary[e] - 1``'s output (0: the model input); ``None`` when the entry has no
    counterpart. ``missing[e]`` lists the units the JSON lacks right before entry ``e`` (``len(entries)``:
    after the last one); ``extra`` the entries the module lacks.
    """

    boundary: tuple[int | None, ...]
    missing: Mapping[int, tuple[Any, ...]] = field(default_factory=dict)
    extra: tuple[int, ...] = ()

    def input_boundary(self, e: int) -> int | None:
        return 0 if e == 0 else self.boundary[e - 1]


def align(doc: Mapping[str, Any], chain: Sequence[Any]) -> Alignment:
    """Line up the entries of ``doc`` with the units ``chain`` (see :class:`Alignment`).

    Keys are (kind, width), refined by the fingerprint of each kernel's values, which every known export
    mistake keeps and which tells apart two layers of the same kind and width (which of two identical LSTMs
    was dropped). When the fingerprints match fewer entries (weights the export changed some other way),
    kind and width alone decide.
    """
    from verifier.format.structure import shape_width
    from verifier.pytorch.layerwise import entry_fingerprint, entry_keys

    entries = list(doc["layers"])
    width = shape_width(doc.get("in_shape"))
    plain: list[tuple[Any, ...]] = []
    printed: list[tuple[Any, ...]] = []
    owner: list[int] = []
    for e, entry in enumerate(entries):
        keys = entry_keys(entry, width) if isinstance(entry, dict) else []
        kernel = entry_fingerprint(entry) if isinstance(entry, dict) else None
        plain += keys
        printed += [(*key, kernel if k == 0 else None) for k, key in enumerate(keys)]
        owner += [e] * len(keys)
        width = keys[-1][1] if keys else width
    real = [i for i, u in enumerate(chain) if u.key[0] != "identity"]
    by_print = _align(
        printed, [(*chain[i].key, chain[i].fingerprint) for i in real], owner, real, chain, entries
    )
    by_kind = _align(plain, [chain[i].key for i in real], owner, real, chain, entries)
    matched = [sum(b is not None for b in a.boundary) for a in (by_print, by_kind)]
    return by_print if matched[0] >= matched[1] else by_kind


def _align(
    json_keys: Sequence[tuple[Any, ...]],
    module_keys: Sequence[tuple[Any, ...]],
    owner: Sequence[int],
    real: Sequence[int],
    chain: Sequence[Any],
    entries: Sequence[Any],
) -> Alignment:
    matcher = difflib.SequenceMatcher(None, list(json_keys), list(module_keys), autojunk=False)
    matched: dict[int, int] = {}  # JSON key position -> unit index
    missing: dict[int, list[Any]] = {}
    extra: set[int] = set()
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            matched.update({i1 + k: real[j1 + k] for k in range(i2 - i1)})
            continue
        if j2 > j1:  # module units with no entry: charged to the entry that follows the gap
            at = owner[i1] if i1 < len(owner) else len(entries)
            missing.setdefault(at, []).extend(chain[real[j]] for j in range(j1, j2))
        extra.update(owner[i] for i in range(i1, i2))
    boundary: list[int | None] = []
    previous: int | None = 0
    for e in range(len(entries)):
        positions = [p for p, o in enumerate(owner) if o == e]
        if not positions:  # computes nothing (empty activation): its output is its input
            boundary.append(previous)
        elif all(p in matched for p in positions):
            boundary.append(matched[positions[-1]] + 1)
        else:
            boundary.append(None)
        previous = boundary[-1]
    return Alignment(tuple(boundary), {k: tuple(v) for k, v in missing.items()}, tuple(sorted(extra)))


@dataclass(frozen=True)
class Divergence:
    """The layer a numeric failure starts at (``index`` None: no single layer could be named)."""

    pattern: str  # "frame" or "stream"
    index: int | None
    pointer: str | None = None
    type: str | None = None
    step: int | None = None  # first step at which this layer's output leaves tolerance
    module: str | None = None  # the reference units it is compared with
    max_abs_error: float | None = None  # this layer's worst error (all steps)
    input_max_abs_error: float | None = None  # its input's worst error up to `step`
    cause: str = ""
    # The module's own output change for a one-ulp input change, when it is outside tolerance: then the
    # failure is the model's sensitivity to rounding rather than this layer
    # (verifier.checks.diagnose.sensitivity).
    sensitivity: float | None = None
    # The known export mistake whose undoing makes this layer agree with the reference, and its sentence.
    mistake: str | None = None
    likely_cause: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "index": self.index,
            "pointer": self.pointer,
            "type": self.type,
            "step": self.step,
            "module": self.module,
            "max_abs_error": self.max_abs_error,
            "input_max_abs_error": self.input_max_abs_error,
            "cause": self.cause,
            "sensitivity": self.sensitivity,
            "mistake": self.mistake,
            "likely_cause": self.likely_cause,
        }

    def summary(self) -> str:
        if self.index is None:
            text = f"no single layer named: {self.cause}"
        else:
            against = f" against module {self.module}" if self.module else ""
            text = (
                f"first diverging layer {self.pointer} ({self.type}){against}, {self.pattern} step "
                f"{self.step}: {self.cause}"
            )
            if self.likely_cause:
                text += f"; likely cause: {self.likely_cause}"
        if self.sensitivity is not None:
            text += (
                f"; but the module itself moves its output by up to {self.sensitivity:.3g} when its inputs "
                "move by one float32 ulp: the failure is its sensitivity to rounding, not an export mistake"
            )
        return text


def engine_layer_outputs(model: Any, xs: np.ndarray, *, frame: bool) -> dict[int, np.ndarray]:
    """JSON entry index -> ``[T, width]``: every entry's output at every step (reset first, or per step)."""
    per_step: list[list[np.ndarray]] = []
    model.reset()
    for x in np.asarray(xs):
        if frame:
            model.reset()
        per_step.append(model.layer_outputs(x))
    model.reset()
    return {
        info.index: np.stack([step[k] for step in per_step]).astype(np.float64)
        for k, info in enumerate(model.layers)
    }


def _max_abs(expected: np.ndarray, actual: np.ndarray) -> float:
    if expected.shape != actual.shape or not expected.size:
        return float("inf") if expected.shape != actual.shape else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    return float(np.nanmax(np.where(np.isnan(gap), np.inf, gap)))


def first_divergence(
    model: Any,
    doc: Mapping[str, Any],
    chain: Sequence[Any],
    xs: np.ndarray,
    *,
    atol: float,
    rtol: float,
    pattern: str,
) -> Divergence:
    """The first diverging layer of ``model`` (loaded from ``doc``) against ``chain`` on inputs ``xs``."""
    from verifier.pytorch.layerwise import run_units

    frame = pattern == FRAME
    alignment = align(doc, chain)
    actual = engine_layer_outputs(model, xs, frame=frame)
    reference = run_units(chain, xs, frame=frame)

    def expected_at(b: int) -> np.ndarray:
        return np.asarray(xs, np.float64) if b == 0 else reference[b - 1]

    entries = doc["layers"]
    first_fail: dict[int, int | None] = {}
    for e in range(len(entries)):
        b = alignment.boundary[e]
        if b is None or e not in actual:
            first_fail[e] = None
            continue
        bad = np.flatnonzero(failing_steps(expected_at(b), actual[e], atol, rtol))
        first_fail[e] = int(bad[0]) if bad.size else None

    for e in range(len(entries)):
        kind = entries[e].get("type") if isinstance(entries[e], dict) else None
        pointer = f"/layers/{e}"
        if alignment.boundary[e] is None:
            return Divergence(
                pattern,
                e,
                pointer,
                kind,
                0,
                None,
                None,
                None,
                "no layer of the reference module matches this entry (kind and width): the export and the "
                "module disagree on the architecture here",
            )
        step = first_fail[e]
        if step is None:
            continue
        input_b = alignment.input_boundary(e)
        input_error = 0.0
        if e > 0 and input_b is not None and e - 1 in actual:
            prior = first_fail.get(e - 1)
            if prior is not None and prior <= step:
                continue  # its input already left tolerance: not the source
            input_error = _max_abs(expected_at(input_b)[: step + 1], actual[e - 1][: step + 1])
        b = alignment.boundary[e]
        assert b is not None
        names = [u.name for u in chain[(input_b or 0) : b] if u.key[0] != "identity"]
        lost = alignment.missing.get(e, ())
        if lost:
            cause = (
                "the module's "
                + ", ".join(u.describe() for u in lost)
                + " has no entry in the JSON right before this one (a dropped layer, docs/format.md §15.5)"
            )
        else:
            cause = "its output leaves tolerance while its input is within it"
        found = Divergence(
            pattern,
            e,
            pointer,
            kind,
            step,
            ", ".join(names) or None,
            _max_abs(expected_at(b), actual[e]),
            input_error,
            cause,
        )
        if lost:
            return found
        compared = [u for u in chain[(input_b or 0) : b] if u.key[0] != "identity"]
        fix = likely_mistake(
            model.dtype,
            doc,
            e,
            compared[0].module if compared else None,
            xs,
            expected_at(b),
            atol,
            rtol,
            frame,
        )
        return found if fix is None else replace(found, mistake=fix.mistake, likely_cause=fix.cause)
    if len(entries) in alignment.missing:
        lost = alignment.missing[len(entries)]
        return Divergence(
            pattern,
            None,
            cause="the module's "
            + ", ".join(u.describe() for u in lost)
            + " after the last entry has no entry in the JSON",
        )
    return Divergence(pattern, None, cause="every layer's output is within tolerance of its module layer")


def likely_mistake(
    dtype: str,
    doc: Mapping[str, Any],
    e: int,
    module: Any,
    xs: np.ndarray,
    expected: np.ndarray,
    atol: float,
    rtol: float,
    frame: bool,
) -> Correction | None:
    """The known export mistake whose undoing on entry ``e`` makes its output agree with ``expected`` (the
    reference's output there) at every step, or None. The entries before ``e`` are kept as they are (their
    outputs agree), the ones after it are left out (they cannot change entry ``e``'s output)."""
    from verifier.engine.model import load
    from verifier.errors import ModelFormatError

    entry = doc["layers"][e]
    if not isinstance(entry, dict):
        return None
    for fix in corrections(entry, module):
        trial = {**doc, "layers": [*doc["layers"][:e], fix.entry]}
        try:
            model = load(trial, dtype)
            outputs = engine_layer_outputs(model, xs, frame=frame)
        except (ModelFormatError, ValueError):  # the undoing does not load (a non-square kernel transposed)
            continue
        if e in outputs and not failing_steps(expected, outputs[e], atol, rtol).any():
            return fix
    return None


def annotate(
    checks: Sequence[Check],
    model: Any,
    source: Any,
    torch_module: Any | None,
    xs: np.ndarray,
    *,
    atol: float,
    rtol: float,
) -> list[Check]:
    """``checks`` with the first diverging layer added to every failing numeric check (figure
    ``diverging_layer`` and the summary), against ``torch_module`` or else the JSON's own torch rebuild.
    Never raises: a diagnosis that cannot run says why in the figure ``diverging_layer_error``."""
    failing = [c for c in checks if c.failed and c.name in CHECK_PATTERN]
    if not failing:
        return list(checks)
    try:
        from verifier.format.reader.document import read_document
        from verifier.pytorch.layerwise import units
        from verifier.pytorch.rebuild import reference

        doc = read_document(source)[0]
        chain = units(torch_module if torch_module is not None else reference(source), model.in_size)
    except Exception as exc:  # a module the layer walk cannot take apart: the check's verdict stands
        reason = exception_text(exc)
        return [
            replace(c, figures={**c.figures, "diverging_layer_error": reason}) if c in failing else c
            for c in checks
        ]
    out = []
    for check in checks:
        if check not in failing:
            out.append(check)
            continue
        try:
            from verifier.checks.diagnose.sensitivity import sensitivity

            pattern = CHECK_PATTERN[check.name]
            found = first_divergence(model, doc, chain, xs, atol=atol, rtol=rtol, pattern=pattern)
            if found.likely_cause is None:  # an undone mistake that makes the layer agree is the answer
                found = replace(
                    found, sensitivity=sensitivity(chain, xs, frame=pattern == FRAME, atol=atol, rtol=rtol)
                )
        except Exception as exc:
            out.append(
                replace(check, figures={**check.figures, "diverging_layer_error": exception_text(exc)})
            )
            continue
        out.append(
            replace(
                check,
                summary=f"{check.summary}; {found.summary()}",
                figures={
                    **check.figures,
                    "diverging_layer": found.to_dict(),
                    **({"likely_cause": found.likely_cause} if found.likely_cause else {}),
                },
            )
        )
    return out
