"""Engine latency of the five production models in float32: one forward step, a reset, and a streamed run.

Run with ``tox -e bench`` or ``pytest tests/bench --benchmark-enable --benchmark-only``. These measure the
Python-visible cost (the call through pybind11 included); the in-engine per-step figures the budgets use come
from ``Model.time_forward`` (``verify --manifest fixtures/production/manifest.json ...``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verifier.checks.run.manifest import load_manifest
from verifier.engine.model import load

MANIFEST = Path(__file__).resolve().parents[2] / "fixtures" / "production" / "manifest.json"
ENTRIES = load_manifest(MANIFEST).models
STREAM_STEPS = 64


@pytest.fixture(scope="module", params=ENTRIES, ids=[e.name for e in ENTRIES])
def model(request):
    loaded = load(request.param.file, "float32")
    loaded.reset()
    return loaded


def _inputs(model, steps: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, size=(steps, model.in_size)).astype(np.float32)


def test_forward_step(benchmark, model):
    x = _inputs(model, 1)[0]
    out = benchmark(model.forward, x)
    assert out.shape == (model.out_size,)


def test_reset(benchmark, model):
    benchmark(model.reset)


def test_stream(benchmark, model):
    xs = _inputs(model, STREAM_STEPS)
    model.reset()
    out = benchmark(model.run, xs)
    assert out.shape == (STREAM_STEPS, model.out_size)
    benchmark.extra_info["steps"] = STREAM_STEPS


def test_frames_with_reset(benchmark, model):
    xs = _inputs(model, STREAM_STEPS)
    out = benchmark(model.run_frames, xs)
    assert out.shape == (STREAM_STEPS, model.out_size)
    benchmark.extra_info["steps"] = STREAM_STEPS
