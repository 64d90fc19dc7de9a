"""Per-frame latency of the five production models against the memory floor, and against the real RTNeural.

One forward step must read every weight once, so no engine runs a step faster than
``weight bytes / read bandwidth``. The bandwidth is measured in the same run, at each model's own weight
size (``_engine.read_bandwidth``: one core reading a cache-warm array of that many bytes, with and without
software prefetch, the faster of the two), so every figure is printed as a ratio to that floor:
``p50 step / (weight bytes / bandwidth)``. Weight bytes are the numbers the JSON carries times the element
size; after ``reset()`` the engine still runs the full recurrent product on the zero state (no shortcut), so
"reset" and "stream" read the same bytes.

Two kinds of row, both pytest-benchmark (benchmarks, never timed assertions):
* ``test_production_model_step``: one model, one dtype, one call pattern, one backend; pytest-benchmark
  times blocks of ``BLOCK`` steps through the backend's own C++ loop (``run_frames`` = reset before every
  step, ``run`` = a stream); ``extra_info`` holds the per-step p50/p99 from ``time_forward`` (steady_clock
  inside C++, the figure the latency budget uses), the floor and the ratio.
* ``test_all_five_side_by_side``: every model, engine and (when built) RTNeural measured one after the
  other in a single test, with the totals; the table is printed and kept in ``extra_info``.

Run: ``pytest tests/bench/test_engine_speed.py --benchmark-enable --benchmark-only``; every row prints
its line as it ends. The RTNeural rows need ``_verifier_rtneural``
(``RTNEURAL_DIR=... pip install --no-build-isolation -e .``) and are skipped without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _verifier_engine as _engine
import numpy as np
import pytest

from verifier.checks.run.manifest import load_manifest
from verifier.engine.backends import available_backends, load_backend

MANIFEST = Path(__file__).resolve().parents[2] / "fixtures" / "production" / "manifest.json"
ENTRIES = load_manifest(MANIFEST).models
NAMES = [e.name for e in ENTRIES]
DTYPES = ["float32", "float64"]
PATTERNS = ["reset", "stream"]  # reset before every step (the plugin's per-frame call) / one stream
BACKENDS = ["engine", "rtneural"]
STEPS, WARMUP = 5000, 500  # per time_forward call; p50 varied by about 3 % between runs here
BLOCK = 200
BANDWIDTH_REPEATS = 300


@dataclass(frozen=True)
class StepFigures:
    model: str
    dtype: str
    pattern: str
    backend: str
    p50_ns: float
    p99_ns: float
    weight_bytes: int
    bandwidth_gbps: float
    floor_ns: float

    @property
    def over_floor(self) -> float:
        return self.p50_ns / self.floor_ns

    def line(self) -> str:
        return (
            f"{self.model:<18} {self.dtype:<7} {self.pattern:<6} {self.backend:<8} "
            f"p50 {self.p50_ns / 1e3:8.2f} us  p99 {self.p99_ns / 1e3:8.2f} us  "
            f"floor {self.floor_ns / 1e3:7.2f} us ({self.weight_bytes / 1e6:5.2f} MB at "
            f"{self.bandwidth_gbps:5.1f} GB/s)  x{self.over_floor:5.2f} floor"
        )


@pytest.fixture(scope="session")
def production_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped exports, or freshly written ones when the fixtures are not there."""
    if all(e.file.is_file() for e in ENTRIES):
        return {e.name: e.file for e in ENTRIES}
    from verifier.production import write_exports

    return {w.model: w.path for w in write_exports(tmp_path_factory.mktemp("production"))}


@pytest.fixture(scope="session")
def loaded(production_files: dict[str, Path]) -> Callable[[str, str, str], Any]:
    """Loads each (model, dtype, backend) once per session: parsing the large exports dominates otherwise."""
    models: dict[tuple[str, str, str], Any] = {}

    def get(name: str, dtype: str, backend: str) -> Any:
        key = (name, dtype, backend)
        if key not in models:
            models[key] = load_backend(production_files[name], backend=backend, dtype=dtype)
        return models[key]

    return get


@pytest.fixture(scope="session")
def bandwidth() -> Callable[[int], float]:
    """Read bandwidth at a weight size, measured once per size: every row of that size shares its floor."""
    measured: dict[int, float] = {}

    def get(weight_bytes: int) -> float:
        if weight_bytes not in measured:
            measured[weight_bytes] = _engine.read_bandwidth(weight_bytes, BANDWIDTH_REPEATS)
        return measured[weight_bytes]

    return get


def _require(backend: str) -> None:
    if backend not in available_backends():
        pytest.skip("_verifier_rtneural not built: install with RTNEURAL_DIR=/path/to/RTNeural to compare")


def _measure(
    loaded: Callable[[str, str, str], Any],
    bandwidth_at: Callable[[int], float],
    name: str,
    dtype: str,
    pattern: str,
    backend: str,
) -> StepFigures:
    weight_bytes = loaded(name, dtype, "engine").param_count * np.dtype(dtype).itemsize
    bandwidth = bandwidth_at(weight_bytes)
    ns = loaded(name, dtype, backend).time_forward(STEPS, WARMUP, pattern == "reset", 0)
    return StepFigures(
        model=name,
        dtype=dtype,
        pattern=pattern,
        backend=backend,
        p50_ns=float(np.percentile(ns, 50)),
        p99_ns=float(np.percentile(ns, 99)),
        weight_bytes=weight_bytes,
        bandwidth_gbps=bandwidth / 1e9,
        floor_ns=weight_bytes / bandwidth * 1e9,
    )


def _record(benchmark: Any, figures: StepFigures) -> None:
    benchmark.extra_info.update(asdict(figures))
    benchmark.extra_info["over_floor"] = figures.over_floor
    benchmark.extra_info["simd_level"] = _engine.simd_level()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_production_model_step(benchmark, capsys, loaded, bandwidth, name, dtype, pattern, backend):
    _require(backend)
    figures = _measure(loaded, bandwidth, name, dtype, pattern, backend)
    model = loaded(name, dtype, backend)
    xs = np.random.default_rng(0).uniform(-1, 1, (BLOCK, model.in_size)).astype(dtype)
    call = model.run_frames if pattern == "reset" else model.run
    benchmark.group = f"{name} {dtype} {pattern} ({BLOCK} steps)"
    benchmark.pedantic(call, args=(xs,), rounds=30, warmup_rounds=3)
    _record(benchmark, figures)
    with capsys.disabled():
        print("\n" + figures.line())


def test_all_five_side_by_side(benchmark, capsys, loaded, bandwidth):
    """Every model, both backends, both patterns, float32 (the plugin's type), measured in one test."""
    backends = [b for b in BACKENDS if b in available_backends()]
    for name in NAMES:  # loading is not what is measured
        for backend in backends:
            loaded(name, "float32", backend)

    def measure_all() -> list[StepFigures]:
        rows = []
        for name in NAMES:
            for backend in backends:
                for pattern in PATTERNS:
                    rows.append(_measure(loaded, bandwidth, name, "float32", pattern, backend))
        return rows

    rows = benchmark.pedantic(measure_all, rounds=1, iterations=1)
    lines = [f"simd level {_engine.simd_level()}; float32; p50 per step after {WARMUP} warm-up steps"]
    lines += [r.line() for r in rows]
    for backend in backends:
        for pattern in PATTERNS:
            chosen = [r for r in rows if r.backend == backend and r.pattern == pattern]
            p50 = sum(r.p50_ns for r in chosen)
            floor = sum(r.floor_ns for r in chosen)
            lines.append(
                f"{'all five':<18} float32 {pattern:<6} {backend:<8} p50 {p50 / 1e3:8.2f} us  "
                f"floor {floor / 1e3:7.2f} us  x{p50 / floor:5.2f} floor"
            )
    if "rtneural" in backends:
        for name in NAMES:
            for pattern in PATTERNS:
                ours, theirs = (
                    next(r for r in rows if (r.model, r.pattern, r.backend) == (name, pattern, b))
                    for b in ("engine", "rtneural")
                )
                lines.append(
                    f"{name:<18} {pattern:<6} engine / RTNeural p50 = {ours.p50_ns / theirs.p50_ns:5.2f}"
                )
    benchmark.extra_info["rows"] = [asdict(r) | {"over_floor": r.over_floor} for r in rows]
    benchmark.extra_info["simd_level"] = _engine.simd_level()
    with capsys.disabled():
        print("\n" + "\n".join(lines))
