"""The checks ``verify`` runs, by their stable names (reports, baselines, SARIF rules and pytest items key
on them), in the order they run on a file, then the checks over the whole run."""

from __future__ import annotations

FILE_CHECKS: dict[str, str] = {
    "validate": "Schema and structural rules (the RTN-… findings).",
    "load": "The file loads in the engine, which refuses what RTNeural would refuse, crash on or misread.",
    "numeric-frame": "Engine vs PyTorch, one step from zero state per call.",
    "numeric-stream": "Engine vs PyTorch, state carried from step to step.",
    "plugin-state": "What the plugin's call pattern gets vs what PyTorch computes.",
    "rtneural-builds": "Where RTNeural's own builds (Eigen, xsimd, STL; Model, ModelT) disagree.",
    "parameters": "Parameter count: JSON vs PyTorch vs the manifest.",
    "widths": "Input, output and layer widths vs the manifest and PyTorch.",
    "latency": "Per-inference p99 (frame, stream, silence after signal) against the manifest's budget.",
    "memory": "Bytes the engine holds for the model (cross-checked with RSS).",
}
# Run only when asked for (``verify --long-streams``): not an item of every model under the pytest plugin.
OPTIONAL_CHECKS: dict[str, str] = {
    "long-streams": "Engine vs PyTorch over seconds of sweep, silence, DC, full scale at 48 kHz (ESR, dB).",
}
RUN_CHECKS: dict[str, str] = {
    "memory-total": "The manifest's models together against the memory budget.",
}
BASELINE_CHECK: dict[str, str] = {
    "baseline": "No regression against the baseline report (parameters, error, p50 latency).",
}
CHECKS: dict[str, str] = {**FILE_CHECKS, **OPTIONAL_CHECKS, **RUN_CHECKS, **BASELINE_CHECK}

# Seconds per case of ``verify --long-streams``: long enough for a recurrent state to drift and a tail to
# decay (96,000 steps), short enough to cost seconds on a small model.
LONG_STREAM_SECONDS = 2.0
