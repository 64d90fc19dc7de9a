"""The one place a file's tolerance is resolved: the command line, else the manifest, else the tolerance
model of :mod:`verifier.checks.tolerance` (from the model's depth and width), per frame and per stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.checks.run.manifest import Manifest, ModelEntry
from verifier.checks.run.options import Options
from verifier.checks.tolerance import tolerance_for
from verifier.format.loaders import state_dict, torch_helpers
from verifier.format.reader.document import read
from verifier.format.validate import KEY_ORDER


@dataclass(frozen=True)
class Tolerances:
    frame: tuple[float, float]  # (atol, rtol) per frame
    stream: tuple[float, float]  # (atol, rtol) over the whole stream
    origin: str


def resolve_tolerances(
    options: Options, manifest: Manifest | None, entry: ModelEntry | None, dtype: str, source: Any
) -> Tolerances:
    """The tolerances ``source`` (a file loaded already) is held to. The tolerance model has no fallback: an
    error in it is the verifier's own (the run's internal error, exit 3), never a silently looser or
    tighter figure."""
    if options.atol is not None or options.rtol is not None:
        given = (options.atol or 0.0, options.rtol or 0.0)
        return Tolerances(given, given, "command line")
    declared = manifest.tolerance_for(entry, dtype) if manifest is not None else None
    if declared is not None:
        return Tolerances(declared, declared, "manifest")
    # The declarations only: weight arrays stay in C++ (a full Python tree of a 200 MB file is gigabytes).
    document = read(source)
    if entry is not None and entry.torch_helpers is not None and "layers" not in document.outline():
        document = torch_helpers.declared(document, entry.torch_helpers)
    # A state_dict file is held to the tolerance of the layers its plugin builds from it.
    doc = state_dict.converted(document) or torch_helpers.converted(document) or document.skeleton(KEY_ORDER)
    # A stream of a recurrent model integrates round-off: its tolerance widens with the steps
    # (docs/tolerance.md); a frame is one step from zero state.
    return Tolerances(
        tolerance_for(doc, dtype),
        tolerance_for(doc, dtype, steps=options.steps),
        "verifier.checks.tolerance (model depth and width)",
    )
