"""The native engine: load a keras-json model and run it as RTNeural would (docs/format.md §5).

``load`` reads the document (:mod:`verifier.format.reader.document`), hands it to the C++ loader, which
refuses every
file RTNeural would refuse, crash on or silently misread, and wraps the result in :class:`Model`. Arrays
given to a model are checked here, so that a wrong shape or dtype is a ``ValueError`` naming what was
expected, never a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import _verifier_engine as _engine
except ImportError as missing:  # the usual cause: importing the source tree, which has no compiled engine
    raise ImportError(
        "the native engine (the extension module _verifier_engine) is not installed: install the package "
        "(`pip install .`, or `pip install --no-build-isolation -e .` for development)"
    ) from missing
from verifier.errors import ModelFormatError
from verifier.format.findings import Finding, Limits
from verifier.format.legacy import legacy_format
from verifier.format.loaders.state_dict import (
    STATE_DICT_KEYS,
    check_state_dict,
    is_state_dict,
    refuse_on_error,
    to_keras,
)
from verifier.format.loaders.torch_helpers import check_torch_helpers, is_torch_helpers
from verifier.format.loaders.torch_helpers import to_keras as helpers_keras
from verifier.format.reader.document import Document, read
from verifier.quoting import MAX_FIELD, shown, shown_pointer

_NATIVE = {"float32": _engine.Model32, "float64": _engine.Model64}

#: Whether ``time_forward(..., flush_to_zero=True)`` can set flush-to-zero on this CPU (x86 MXCSR FTZ+DAZ).
FLUSH_TO_ZERO_AVAILABLE: bool = bool(getattr(_engine, "FLUSH_TO_ZERO", False))


def timing_arguments(
    steps: int, warmup: int, reset_each: bool, seed: int, signal_steps: int | None, flush_to_zero: bool
) -> tuple[int, int, bool, int, int, bool]:
    """``time_forward``'s arguments checked and in the native order (``signal_steps`` None becomes -1, "all
    signal"); both backends' ``time_forward`` take them so."""
    counts = (("steps", steps), ("warmup", warmup), ("seed", seed))
    for name, value in (*counts, ("signal_steps", 0 if signal_steps is None else signal_steps)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if not isinstance(flush_to_zero, bool | np.bool_):
        raise ValueError(f"flush_to_zero must be True or False, got {flush_to_zero!r}")
    signal = -1 if signal_steps is None else int(signal_steps)
    return int(steps), int(warmup), bool(reset_each), int(seed), signal, bool(flush_to_zero)


@dataclass(frozen=True)
class LayerInfo:
    """One JSON layer entry as the engine built it."""

    index: int  # position in the JSON `layers` list
    type: str
    in_size: int
    out_size: int
    activation: str  # as written; "" when absent
    pointer: str  # "/layers/<index>"


class Model:
    """A loaded model: one ``forward`` per time step, state carried between steps until ``reset``.

    Thread safety: a model is one stateful stream. Every call that reads or changes its state (``forward``,
    ``reset``, ``run``, ``run_frames``, ``layer_outputs``, ``time_forward``) holds the model's own lock for
    its whole duration (taken after the GIL is released, so other Python threads keep running), so calls
    from several threads on one model take turns and never interleave inside a call. Their order between
    threads is whatever the threads make it: two threads streaming into one model still share its state,
    call by call. Give each thread its own model (``load`` twice) for independent streams.
    """

    def __init__(self, native: Any, source: str, dtype: str, reading: list[Finding] | None = None) -> None:
        self._native = native
        self._dtype = np.dtype(dtype)
        self.source = source
        self.dtype = dtype
        self.in_size: int = native.in_size
        self.out_size: int = native.out_size
        self.param_count: int = native.param_count
        self.bytes_held: int = native.bytes_held
        # (pointer, message) of each warning of reading and loading; the rule ids are in ``warning_rules``.
        notes = [(f.rule, f.pointer, f.message) for f in reading or []] + [
            (rule, shown_pointer(pointer), shown(message, MAX_FIELD))
            for rule, pointer, message in native.warnings
        ]
        self.warnings: list[tuple[str, str]] = [(pointer, message) for _, pointer, message in notes]
        self.warning_rules: list[str] = [rule for rule, _, _ in notes]
        self.layers: list[LayerInfo] = [LayerInfo(*entry) for entry in native.layers]

    def __repr__(self) -> str:
        return (
            f"Model({self.source!r}, dtype={self.dtype!r}, in_size={self.in_size}, out_size={self.out_size})"
        )

    def forward(self, x: Any) -> np.ndarray:
        """One step: ``x`` of shape ``(in_size,)``; returns the whole output vector (a copy)."""
        return self._native.forward(self._vector(x, "x"))

    def reset(self) -> None:
        """Zero all state (LSTM h and c, GRU h, convolution history)."""
        self._native.reset()

    def run(self, xs: Any) -> np.ndarray:
        """Stream ``xs`` of shape ``(T, in_size)`` from the current state; returns ``(T, out_size)``."""
        return self._native.run(self._matrix(xs), False)

    def run_frames(self, xs: Any) -> np.ndarray:
        """Each step from zero state (a reset before every step), like PyTorch calls without carried state."""
        return self._native.run(self._matrix(xs), True)

    def layer_outputs(self, x: Any) -> list[np.ndarray]:
        """One step (advancing state like ``forward``); the output of each JSON layer entry, after the
        entry's own activation."""
        return self._native.layer_outputs(self._vector(x, "x"))

    def time_forward(
        self,
        steps: int,
        warmup: int,
        reset_each: bool,
        seed: int = 0,
        *,
        signal_steps: int | None = None,
        flush_to_zero: bool = False,
        outputs: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-step latency of ``forward`` in ns, measured in C++ with steady_clock; ``reset_each`` resets
        before every step (outside the timed span). Leaves the model reset.

        Inputs are random in [-1, 1] for the first ``signal_steps`` steps, counting the ``warmup`` ones
        (``None``: every step), and exact zeros afterwards: ``signal_steps=warmup`` times silence after
        signal, the hidden states decaying towards zero (the subnormal case). ``flush_to_zero`` sets FTZ and
        DAZ around the timed loop only, as a plugin under ``ScopedNoDenormals`` runs (``ValueError`` where
        ``FLUSH_TO_ZERO_AVAILABLE`` is false). ``outputs``, a C-contiguous ``(steps, out_size)`` array of the
        model's dtype, receives each timed step's output."""
        arguments = timing_arguments(steps, warmup, reset_each, seed, signal_steps, flush_to_zero)
        return self._native.time_forward(*arguments, outputs)

    def _vector(self, x: Any, name: str) -> np.ndarray:
        array = real_array(x, name)
        if array.shape != (self.in_size,):
            raise ValueError(f"{name} must have shape ({self.in_size},) for this model, got {array.shape}")
        return np.ascontiguousarray(array, dtype=self._dtype)

    def _matrix(self, xs: Any) -> np.ndarray:
        array = real_array(xs, "xs")
        if array.ndim != 2 or array.shape[1] != self.in_size:
            raise ValueError(f"xs must have shape (T, {self.in_size}) for this model, got {array.shape}")
        return np.ascontiguousarray(array, dtype=self._dtype)


def load(
    source: str | os.PathLike[str] | dict[str, Any] | bytes | Document,
    dtype: str = "float32",
    *,
    limits: Limits | None = None,
) -> Model:
    """Load a keras-json model (path, JSON text, bytes, dict, or a :class:`Document` already read) into the
    engine. A ``Document`` read from text is loaded from its C++ tree: nothing is parsed again.

    Raises :class:`ModelFormatError` (with ``rule``, ``pointer``, ``expected``, ``found`` and ``source``) for
    every document RTNeural would refuse, crash on, or silently misread: the rule and pointer of the first
    error ``verifier.validate`` reports for it (at float32, a number float32 cannot hold is one: RTN-E208, as
    ``validate(..., dtype="float32")`` reports it). ``limits`` are the same :class:`Limits` ``validate`` takes
    (default ``Limits()``); nothing is allocated from a declared size before every declared size is
    checked against them.
    """
    name = np.dtype(dtype).name if isinstance(dtype, np.dtype | type) else dtype
    if name not in _NATIVE:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    limits = limits or Limits()
    document = read(source, limits)
    source_name = document.name
    legacy = legacy_format(document.outline())
    if legacy is not None:
        raise ModelFormatError(
            legacy.pointer,
            legacy.message,
            expected=legacy.expected,
            found=legacy.found,
            source=source_name,
            rule=legacy.rule,
        )
    if is_state_dict(document.outline()):
        return _load_state_dict(document, name, limits)
    if is_torch_helpers(document.outline()):
        return _load_torch_helpers(document, name, limits)
    try:
        native = _NATIVE[name](
            document.native if document.native is not None else document.tree,
            max_layer_width=limits.max_layer_width,
            max_total_parameters=limits.max_total_parameters,
            max_state_values=limits.max_state_values,
            max_depth=limits.max_depth,
        )
    except _engine.FormatError as error:
        rule, pointer, message, expected, found = error.args
        raise ModelFormatError(
            pointer, message, expected=expected or None, found=found or None, source=source_name, rule=rule
        ) from None
    return Model(native, source_name, name, list(document.warnings))


class PluginModel(Model):
    """A GuitarML state_dict file as its plugin runs it: the engine model the plugin builds, plus input 0
    added to every output when the file's ``skip`` is 1 (the residual lives in the plugin, not in RTNeural).
    ``layer_outputs`` gives the engine's layers, before that addition."""

    def __init__(self, native: Any, source: str, dtype: str, reading: list[Finding], skip: int) -> None:
        super().__init__(native, source, dtype, reading)
        self.skip = skip

    def forward(self, x: Any) -> np.ndarray:
        return self._with_skip(super().forward(x), self._vector(x, "x"))

    def run(self, xs: Any) -> np.ndarray:
        return self._with_skip(super().run(xs), self._matrix(xs))

    def run_frames(self, xs: Any) -> np.ndarray:
        return self._with_skip(super().run_frames(xs), self._matrix(xs))

    def _with_skip(self, out: np.ndarray, x: np.ndarray) -> np.ndarray:
        # The plugin adds in the precision it runs: the sum is rounded to the model's dtype.
        return out + x[..., :1] if self.skip else out


def _load_state_dict(document: Document, dtype: str, limits: Limits) -> PluginModel:
    doc = document.skeleton((), STATE_DICT_KEYS)
    findings = check_state_dict(doc, limits, float32=dtype == "float32")
    refuse_on_error(findings, document.name)
    keras, skip = to_keras(doc)
    native = _native(keras, dtype, limits, document.name, "state_dict")
    notes = [f for f in findings if f.severity != "error"]
    return PluginModel(native, document.name, dtype, [*document.warnings, *notes], skip)


def _load_torch_helpers(document: Document, dtype: str, limits: Limits) -> Model:
    """A state_dict file with a torch_helpers declaration: the layers its C++ caller fills."""
    doc = document.tree
    findings = check_torch_helpers(doc, limits, float32=dtype == "float32")
    refuse_on_error(findings, document.name)
    return Model(
        _native(helpers_keras(doc), dtype, limits, document.name, "torch_helpers declaration"),
        document.name,
        dtype,
        [*document.warnings, *(f for f in findings if f.severity != "error")],
    )


def _native(keras: dict[str, Any], dtype: str, limits: Limits, source: str, what: str) -> Any:
    try:
        return _NATIVE[dtype](
            keras,
            max_layer_width=limits.max_layer_width,
            max_total_parameters=limits.max_total_parameters,
            max_state_values=limits.max_state_values,
            max_depth=limits.max_depth,
        )
    except _engine.FormatError as error:  # the conversion is ours: a refusal here is our bug, said plainly
        rule, pointer, message, _, _ = error.args
        raise ModelFormatError(
            "",
            f"the keras-json converted from this {what} was refused at {pointer}: {message}",
            source=source,
            rule=rule,
        ) from None


def real_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a numeric array, or a ValueError naming it (booleans and strings are refused, not cast)."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise ValueError(f"{name} must be a numeric array: {error}") from None
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold real numbers (float or int), got dtype {array.dtype}")
    return array
