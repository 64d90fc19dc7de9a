"""The team's legacy export format, recognised as a whole and reported as one finding (RTN-E007).

Both ``validate`` and ``verifier.load`` ask this before anything else looks at the layers, so that a legacy
file gets the one finding that says what it is and how to fix it, not a missing-key error.
"""

from __future__ import annotations

from typing import Any

from verifier.format.findings import Finding, finding

_LEGACY_LAYER_KEYS = frozenset({"in_size", "out_size", "weights_ih", "weights_hh", "bias_ih", "bias_hh"})


def legacy_format(doc: Any) -> Finding | None:
    """The one finding for the team's legacy export format, or None (``verifier.load`` asks this too)."""
    if not isinstance(doc, dict):
        return None
    layers = doc.get("layers")
    entries = [e for e in layers if isinstance(e, dict)] if isinstance(layers, list) else []
    legacy_layer = any(_LEGACY_LAYER_KEYS & e.keys() and "weights" not in e for e in entries)
    legacy_top = "metadata" in doc and "in_shape" not in doc and not any("weights" in e for e in entries)
    if not (legacy_layer or legacy_top):
        return None
    return finding(
        "RTN-E007",
        "",
        "this is the team's legacy export format (a top-level metadata block, in_size/out_size per layer, "
        "weights_ih/weights_hh and bias_ih/bias_hh split into per-gate lists), which RTNeural cannot read: "
        "re-export the torch module with verifier.export(module, path) to get keras-json",
        expected="keras-json: in_shape and layers of {type, shape, weights}",
        found="legacy export (" + ", ".join(sorted(_legacy_keys(doc, entries))) + ")",
    )


def _legacy_keys(doc: dict[str, Any], entries: list[dict[str, Any]]) -> set[str]:
    keys = {k for e in entries for k in _LEGACY_LAYER_KEYS & e.keys()}
    return keys | ({"metadata"} if "metadata" in doc else set())
