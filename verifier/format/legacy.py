"""Files that are not keras-json at all, recognised as a whole and reported as one finding: the team's
legacy export format (RTN-E007) and the other GuitarML plugins' model files (RTN-E008).

Both ``validate`` and ``verifier.load`` ask this before anything else looks at the layers, so that such a
file gets the one finding that says what it is and what to do, not a missing-key error about ``in_shape``.
"""

from __future__ import annotations

from typing import Any

from verifier.format.findings import Finding, finding

_LEGACY_LAYER_KEYS = frozenset({"in_size", "out_size", "weights_ih", "weights_hh", "bias_ih", "bias_hh"})
# Top-level keys only these formats write together (their public model files, tone libraries): a name, the
# keys that identify it, and what reads it. Keras-json has neither in_shape nor layers among them.
_OTHER_GUITARML = (
    ("SmartAmp's WaveNet model", frozenset({"dilations", "residual_channels", "variables"}), "SmartAmp"),
    (
        "SmartAmpPro's Keras weight dictionary",
        frozenset({"conv1d", "conv1d_stride", "lstm", "dense"}),
        "SmartAmpPro",
    ),
)


def legacy_format(doc: Any) -> Finding | None:
    """The one finding for the team's legacy export format or another GuitarML plugin's model file, or None
    (``verifier.load`` asks this too)."""
    if not isinstance(doc, dict):
        return None
    if "in_shape" not in doc and "layers" not in doc:
        for name, keys, plugin in _OTHER_GUITARML:
            if keys <= doc.keys():
                return finding(
                    "RTN-E008",
                    "",
                    f"this is {name} (the GuitarML {plugin} plugin's own format), not an RTNeural model "
                    "file: RTNeural's json_parser does not read it, and neither does this verifier; only "
                    f"{plugin} loads it. Retrain or convert the model to keras-json to use it with RTNeural",
                    expected="keras-json: in_shape and layers of {type, shape, weights}",
                    found=f"{name} (top-level keys {', '.join(sorted(keys))})",
                )
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
