"""Latency of the five production models in our engine and in the real RTNeural, side by side.

Each benchmark times a block of ``BLOCK`` steps through the backend's own C++ loop (``run_frames`` for the
plugin's per-frame call with a reset before each step, ``run`` for a stream), so that pytest-benchmark puts
the engine and RTNeural of one model in the same group and its relative figures are the engine/RTNeural
ratio measured in one run. ``extra_info`` holds per-step p50/p99 from ``time_forward`` (steady_clock inside
C++, the figures the latency budget uses) and, on the RTNeural rows, the engine's p50 measured right after
in the same test with the ratio of the two.

Run: ``RTNEURAL_DIR=... pip install --no-build-isolation -e .`` then
``pytest tests/bench/test_rtneural_bench.py --benchmark-enable --benchmark-only``.
Skips the RTNeural rows when ``_verifier_rtneural`` is not built.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from verifier.engine.backends import available_backends, load_backend

PRODUCTION = Path(__file__).resolve().parents[2] / "fixtures" / "production"
BLOCK = 200
PATTERNS = ("frame", "stream")


def _manifest() -> dict[str, Any]:
    return json.loads((PRODUCTION / "manifest.json").read_text())


def _model_names() -> list[str]:
    return [m["name"] for m in _manifest()["models"]]


def _load(name: str, backend: str) -> Any:
    manifest = _manifest()
    entry = next(m for m in manifest["models"] if m["name"] == name)
    return load_backend(PRODUCTION / entry["file"], backend=backend, dtype=manifest["dtype"])


def _percentiles(model: Any, pattern: str) -> tuple[float, float]:
    latency = _manifest()["latency"]
    ns = model.time_forward(latency["steps"], latency["warmup"], pattern == "frame", 0)
    return float(np.percentile(ns, 50)), float(np.percentile(ns, 99))


@pytest.mark.parametrize("backend", ["engine", "rtneural"])
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("name", _model_names())
def test_production_model_latency(benchmark, name: str, pattern: str, backend: str) -> None:
    if backend not in available_backends():
        pytest.skip("RTNeural backend not built: install with RTNEURAL_DIR=/path/to/RTNeural to compare")
    model = _load(name, backend)
    xs = np.random.default_rng(0).uniform(-1.0, 1.0, (BLOCK, model.in_size)).astype(model.dtype)
    call = model.run_frames if pattern == "frame" else model.run

    benchmark.group = f"{name} {pattern} ({BLOCK} steps)"
    benchmark.pedantic(call, args=(xs,), rounds=50, warmup_rounds=5)

    p50, p99 = _percentiles(model, pattern)
    benchmark.extra_info.update({"backend": backend, "p50_ns_per_step": p50, "p99_ns_per_step": p99})
    if backend == "rtneural":
        _rtneural = import_module("_verifier_rtneural")
        engine_p50, _ = _percentiles(_load(name, "engine"), pattern)
        benchmark.extra_info.update(
            {
                "rtneural_build": f"{_rtneural.backend}{' avx' if _rtneural.avx else ''}",
                "engine_p50_ns_per_step": engine_p50,
                "engine_over_rtneural_p50": engine_p50 / p50,
            }
        )
