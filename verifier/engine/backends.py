"""One model file, two runtimes with the same surface: our engine, and optionally the real RTNeural.

``"engine"`` is :func:`verifier.load` (the native engine built from ``native/``). ``"rtneural"`` is a user's
own RTNeural checkout compiled into ``_verifier_rtneural`` when the package is installed with
``RTNEURAL_DIR`` pointing at it; RTNeural is never vendored here, so that backend exists only where the user
built it. Running both on the same file tells whether our engine and the library the plugin ships agree.

RTNeural crashes the process on some documents (an unknown activation name, an empty layer list; see
docs/format.md §13), so nothing reaches it that our own strict loader refuses: the document is loaded by the
engine first and only then handed to RTNeural as JSON text.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from verifier.engine.model import load, real_array, timing_arguments
from verifier.errors import ModelFormatError
from verifier.format.loaders.state_dict import is_state_dict, to_keras
from verifier.format.loaders.torch_helpers import is_torch_helpers
from verifier.format.loaders.torch_helpers import to_keras as helpers_keras
from verifier.format.reader.document import Document, read_document
from verifier.format.validate import validate

__all__ = [
    "BACKENDS",
    "BackendModel",
    "RTNeuralModel",
    "available_backends",
    "describe_backend",
    "load_backend",
]

BACKENDS = ("engine", "rtneural")

NOT_BUILT = (
    "the RTNeural backend (_verifier_rtneural) is not built: reinstall with RTNEURAL_DIR naming an RTNeural "
    "checkout, e.g. `RTNEURAL_DIR=/path/to/RTNeural pip install --no-build-isolation -e .`"
)


class BackendModel(Protocol):
    """The surface both backends share (``verifier.Model`` has more: layer outputs, bytes held)."""

    @property
    def in_size(self) -> int: ...
    @property
    def out_size(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def source(self) -> str: ...

    def forward(self, x: ArrayLike) -> np.ndarray: ...
    def reset(self) -> None: ...
    def run(self, xs: ArrayLike) -> np.ndarray: ...
    def run_frames(self, xs: ArrayLike) -> np.ndarray: ...
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
    ) -> np.ndarray: ...


def available_backends() -> list[str]:
    """``["engine"]``, plus ``"rtneural"`` when ``_verifier_rtneural`` was built and imports."""
    return ["engine"] + (["rtneural"] if _rtneural_module() is not None else [])


def load_backend(
    source: str | os.PathLike[str] | dict[str, Any] | bytes | Document,
    backend: str = "engine",
    dtype: str = "float32",
) -> BackendModel:
    """Load *source* into *backend* (``"engine"`` or ``"rtneural"``) as *dtype* (``"float32"``/``"float64"``).

    Raises :class:`ModelFormatError` for anything our loader refuses, whichever the backend; ``ValueError``
    for an unknown backend name; ``ImportError`` when ``"rtneural"`` is asked for but not built.
    """
    if backend == "engine":
        return load(source, dtype)
    if backend != "rtneural":
        raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    native = _rtneural_module()
    if native is None:
        raise ImportError(NOT_BUILT)
    doc, name = read_document(source)
    skip = 0
    if is_state_dict(doc):  # RTNeural gets what the plugin builds from it; the plugin's skip is added here
        _strict_gate(doc, name, dtype)
        doc, skip = to_keras(doc)
    elif is_torch_helpers(doc):  # RTNeural gets the layers the helpers fill (the same conversion)
        _strict_gate(doc, name, dtype)
        doc = helpers_keras(doc)
    gate = _strict_gate(doc, name, dtype)
    # The engine has normalised dtype (a numpy dtype or type is accepted too) to "float32" or "float64".
    model_class = native.ModelFloat32 if gate.dtype == "float32" else native.ModelFloat64
    try:
        model = model_class(json.dumps(doc, allow_nan=False))
    except ValueError as error:  # RTNeural threw or returned null on a file our loader accepted
        raise ModelFormatError(
            "", f"RTNeural refuses what our engine accepts: {error}", source=name
        ) from None
    if (model.in_size, model.out_size) != (gate.in_size, gate.out_size):
        raise ModelFormatError(
            "",
            "RTNeural reads the model's sizes differently from our engine",
            expected=f"in {gate.in_size}, out {gate.out_size} (our engine)",
            found=f"in {model.in_size}, out {model.out_size} (RTNeural)",
            source=name,
        )
    return RTNeuralModel(model, name, list(gate.layers), list(gate.warnings), skip=skip)


def describe_backend(backend: str = "engine") -> str:
    """One line naming the runtime that ``backend`` runs models on and how it was built, for reports."""
    if backend == "engine":
        try:
            engine = import_module("_verifier_engine")
        except ImportError:
            return "unavailable"
        level = engine.simd_level() if hasattr(engine, "simd_level") else "?"
        return f"_verifier_engine (our C++ engine, built from native/; kernels {level})"
    if backend != "rtneural":
        raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    native = _rtneural_module()
    if native is None:
        raise ImportError(NOT_BUILT)
    isa = "AVX2+FMA" if native.avx else "no AVX"
    flags = getattr(native, "build_flags", "flags not recorded")
    return (
        f"RTNeural ({native.backend} backend, alignment {native.alignment}, {isa}; {flags}; "
        f"headers from {native.rtneural_dir})"
    )


def rtneural_times_silence() -> bool:
    """Whether ``_verifier_rtneural`` is built and has the signal-then-silence and flush-to-zero timing (a
    module built before it has only the random-input patterns)."""
    module = _rtneural_module()
    return module is not None and hasattr(module, "FLUSH_TO_ZERO")


def _rtneural_module() -> ModuleType | None:
    try:
        return import_module("_verifier_rtneural")
    except ModuleNotFoundError:
        return None


def _strict_gate(doc: dict[str, Any], name: str, dtype: str) -> Any:
    """Our engine's loaded model, or the ModelFormatError it raised, now naming the file.

    The validator's "crash" findings are checked too: a document that would take the process down must
    not reach RTNeural even if the loader and the validator ever disagreed about it.
    """
    try:
        gate = load(doc, dtype)
    except ModelFormatError as error:
        raise error.with_source(name) from None
    for finding in validate(doc, dtype=gate.dtype):
        if finding.severity == "error" and finding.rtneural == "crash":
            raise ModelFormatError(
                finding.pointer,
                f"not handed to RTNeural, which would crash on it: {finding.message}",
                expected=finding.expected,
                found=finding.found,
                source=name,
                rule=finding.rule,
            )
    return gate


@dataclass(eq=False)
class RTNeuralModel:
    """A model running in the real RTNeural (``_verifier_rtneural``), with our engine's model surface.

    ``layers`` and ``warnings`` describe the JSON file and come from our loader, which read it first.
    """

    native: Any
    source: str
    layers: list[Any]
    warnings: list[tuple[str, str]]
    backend: str = "rtneural"
    skip: int = 0  # a GuitarML state_dict file's skip: input 0 added to every output, as its plugin does

    @property
    def in_size(self) -> int:
        return int(self.native.in_size)

    @property
    def out_size(self) -> int:
        return int(self.native.out_size)

    @property
    def dtype(self) -> str:
        return str(self.native.dtype)

    @property
    def bytes_held(self) -> int | None:
        """Heap bytes the loaded RTNeural model holds: the C allocator's growth over ``parseJson`` once its
        parsed document is freed (glibc ``mallinfo2``, which also sees Eigen's malloc'd matrices); None where
        the allocator cannot tell (not glibc, or a module built before this was measured)."""
        held = int(getattr(self.native, "bytes_held", -1))
        return None if held < 0 else held

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = real_array(x, "x")
        return self._with_skip(self.native.forward(x), x)

    def reset(self) -> None:
        self.native.reset()

    def run(self, xs: ArrayLike) -> np.ndarray:
        xs = real_array(xs, "xs")
        return self._with_skip(self.native.run(xs), xs)

    def run_frames(self, xs: ArrayLike) -> np.ndarray:
        xs = real_array(xs, "xs")
        return self._with_skip(self.native.run_frames(xs), xs)

    def _with_skip(self, out: np.ndarray, x: np.ndarray) -> np.ndarray:
        return out + x[..., :1].astype(out.dtype) if self.skip else out

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
        """As :meth:`verifier.Model.time_forward`; ``outputs`` receives RTNeural's own outputs (without a
        state_dict file's skip connection). ``TypeError`` from a module built before signal_steps existed."""
        arguments = timing_arguments(steps, warmup, reset_each, seed, signal_steps, flush_to_zero)
        if arguments[4:] == (-1, False) and outputs is None:  # the old call: any build of the module has it
            return self.native.time_forward(*arguments[:4])
        return self.native.time_forward(*arguments, outputs)
