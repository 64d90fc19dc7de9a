"""Golden data carried inside a model file: ``input_batch`` and ``output_batch`` (the AIDA-X convention).

A file may carry, beside ``in_shape`` and ``layers``, a sequence of inputs and the outputs the model must
produce on them when streamed from zero state (state carried from step to step, as RTNeural runs it).
For a model one value wide the arrays are 1-D (one number per step, AIDA-X's form); otherwise they are
``[steps][width]``. RTNeural ignores both keys. ``verify`` checks a file that carries them against them
without any torch module (reference kind ``embedded``); ``verify --embed-golden DIR`` writes them into
copies of our exports. A file with AIDA-X's ``in_skip`` set recorded the output with the input added back
(the plugin's skip connection), so the input is subtracted before comparing with the network's output.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from verifier.errors import ModelFormatError

__all__ = ["INPUT_KEY", "OUTPUT_KEY", "embedded_data", "is_embedded_copy", "with_embedded", "write_embedded"]

INPUT_KEY = "input_batch"
OUTPUT_KEY = "output_batch"
#: The top-level keys embedded_data reads.
EMBEDDED_KEYS = (INPUT_KEY, OUTPUT_KEY, "in_skip")


def _steps(doc: Mapping[str, Any], key: str, width: int, source: str) -> np.ndarray:
    """``doc[key]`` as a ``[steps, width]`` float64 array, or a ModelFormatError at ``/key``."""
    pointer = f"/{key}"
    expected = (
        f"a list of numbers (width 1) or of {width}-number lists" if width == 1 else f"[steps][{width}]"
    )
    try:
        values = np.asarray(doc[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFormatError(pointer, "not a numeric array", expected=expected, source=source) from None
    if values.ndim == 1 and width == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != width or values.shape[0] == 0:
        found = f"shape {list(values.shape)}"
        raise ModelFormatError(
            pointer, "wrong shape for this model", expected=expected, found=found, source=source
        )
    if not np.all(np.isfinite(values)):
        raise ModelFormatError(pointer, "holds a non-finite number", source=source)
    return values


def embedded_data(
    doc: Mapping[str, Any], in_size: int, out_size: int, source: str = "<document>"
) -> tuple[np.ndarray, np.ndarray] | None:
    """(inputs ``[T, in_size]``, expected streamed outputs ``[T, out_size]``), or None when the file carries
    neither key. One key without the other, a shape that does not fit the model, or two lengths that differ
    raise :class:`ModelFormatError` naming the JSON pointer."""
    present = [key for key in (INPUT_KEY, OUTPUT_KEY) if key in doc]
    if not present:
        return None
    if len(present) == 1:
        missing = OUTPUT_KEY if present == [INPUT_KEY] else INPUT_KEY
        raise ModelFormatError(f"/{missing}", f"{present[0]} is present but {missing} is not", source=source)
    xs = _steps(doc, INPUT_KEY, in_size, source)
    ys = _steps(doc, OUTPUT_KEY, out_size, source)
    if len(xs) != len(ys):
        raise ModelFormatError(
            f"/{OUTPUT_KEY}",
            "not one output per input step",
            expected=f"{len(xs)} steps (as {INPUT_KEY})",
            found=f"{len(ys)} steps",
            source=source,
        )
    if _skip(doc) and in_size == out_size:
        # AIDA-X's trainer records the output of the whole network, skip connection included, and RTNeural
        # computes the network without it (the plugin adds the input back; docs/format.md §18.2).
        ys = ys - xs
    return xs, ys


def _skip(doc: Mapping[str, Any]) -> bool:
    value = doc.get("in_skip", 0)
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _plain(values: np.ndarray) -> list[Any]:
    """1-D for a width-1 sequence (AIDA-X's form), else ``[steps][width]``."""
    array = np.asarray(values, dtype=np.float64)
    return [float(v) for v in array[:, 0]] if array.shape[1] == 1 else array.tolist()


def with_embedded(doc: Mapping[str, Any], xs: np.ndarray, ys: np.ndarray) -> dict[str, Any]:
    """A copy of ``doc`` carrying ``xs`` as ``input_batch`` and ``ys`` as ``output_batch``."""
    out = copy.deepcopy(dict(doc))
    out[INPUT_KEY] = _plain(xs)
    out[OUTPUT_KEY] = _plain(ys)
    return out


def is_embedded_copy(target: str | os.PathLike[str], doc: Mapping[str, Any]) -> bool:
    """Whether the file ``target`` is what :func:`write_embedded` makes of ``doc``: ``doc`` carrying golden
    data (an earlier ``--embed-golden`` of the same model, the one file that may be replaced)."""
    from verifier.format.reader.document import read_document

    try:
        found, _ = read_document(Path(target))  # a Path: never read as JSON text
    except ModelFormatError:
        return False
    if INPUT_KEY not in found or OUTPUT_KEY not in found:
        return False
    golden = (INPUT_KEY, OUTPUT_KEY)
    return {k: v for k, v in found.items() if k not in golden} == {
        k: v for k, v in doc.items() if k not in golden
    }


def write_embedded(
    model_file: str | os.PathLike[str],
    target: str | os.PathLike[str],
    xs: np.ndarray,
    ys: np.ndarray,
) -> Path:
    """Write a copy of ``model_file`` carrying the golden data to ``target``: never over ``model_file``,
    and over an existing file only when it is an earlier copy of the same model (:func:`is_embedded_copy`)."""
    from verifier.format.reader.document import read_document
    from verifier.format.reader.guarded import write_file

    source, target = Path(model_file), Path(target)
    doc, _ = read_document(source)
    if (target.exists() or target.is_symlink()) and not is_embedded_copy(target, doc):
        raise ValueError(
            f"{target} exists and is not an earlier --embed-golden copy of {source}; not replacing it"
        )
    text = json.dumps(with_embedded(doc, xs, ys), allow_nan=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_file(target, text, inputs=[source], what="the golden copy")
    return target
