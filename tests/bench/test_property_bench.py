"""Throughput of the property suite's unit of work: one generated architecture verified end to end.

One iteration = build the torch module from a spec, export, validate, load (float32), and compare the engine
against torch as a 16-step stream and frame by frame. Reported by pytest-benchmark as OPS = architectures
per second; torch is held to one thread so the figure is per core. Target (issue 11): at least 200/s per
core, read as CPU time on a machine other jobs share (``--benchmark-timer time.process_time``)::

    pytest tests/bench/test_property_bench.py --benchmark-enable --benchmark-only \
        --benchmark-timer time.process_time
"""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from verifier.checks.compare import compare
from verifier.checks.tolerance import tolerance_for
from verifier.engine.model import load
from verifier.format.validate import validate
from verifier.pytorch.export import export
from verifier.pytorch.run import frames, stream
from verifier.testing.strategies import architectures, modules, smooth_inputs

STEPS = 16


def typical_mix(n: int = 100) -> list[dict]:
    """The first *n* architectures of the default strategy under a fixed seed: the mix the suite draws."""
    specs: list[dict] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=architectures())
    def collect(spec):
        specs.append(spec)

    collect()
    return specs


def verify_one(spec: dict) -> bool:
    module = modules(spec)
    doc = export(module, in_size=spec["in_size"])
    if any(f.severity == "error" for f in validate(doc)):
        return False
    model = load(doc, "float32")
    xs = smooth_inputs(spec["in_size"], STEPS, spec["seed"])
    atol, rtol = tolerance_for(doc, "float32")
    model.reset()
    ok = compare(stream(module, xs, dtype=torch.float64), model.run(xs), atol, rtol).passed
    return ok and compare(frames(module, xs, dtype=torch.float64), model.run_frames(xs), atol, rtol).passed


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_architectures_verified_per_second(benchmark, one_thread):
    specs = typical_mix()
    cycle = itertools.cycle(specs)
    failing = [spec for spec in specs if not verify_one(spec)]  # a fast wrong answer is no answer
    assert not failing, failing[:3]
    benchmark.pedantic(lambda: verify_one(next(cycle)), rounds=3 * len(specs), warmup_rounds=5)
    benchmark.extra_info["architectures_in_mix"] = len(specs)
