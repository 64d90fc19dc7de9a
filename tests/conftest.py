"""Shared test configuration: Hypothesis profiles and the corpus location."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# tests/corpus.py is a helper module, not a test: make it importable as `corpus` from every test file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# `ci` (the default) keeps the whole property suite to a few minutes on 2 cores; `dev` is quicker still for
# local iteration; `thorough` is the pre-release sweep (10,000 examples per property).
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=20, deadline=None, print_blob=True)
settings.register_profile(
    "thorough",
    max_examples=10_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def production_exports() -> Path:
    """The five production exports in fixtures/production/models/, (re)generated unless they already have
    the bytes the manifest pins.

    They are too large to commit; ``verify-production --write fixtures/production/models``
    writes them byte for byte as the manifest's SHA-256 pins (checked by test_budgets).
    """
    from verifier.production import write_exports

    production = Path(__file__).resolve().parents[1] / "fixtures" / "production"
    entries = json.loads((production / "manifest.json").read_text())["models"]
    pinned = {e["file"]: e["sha256"] for e in entries}

    def current(relative: str) -> bool:
        path = production / relative
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == pinned[relative]

    if not all(current(relative) for relative in pinned):
        write_exports(production / "models")
    return production / "models"


@pytest.fixture(scope="module")
def load():
    """``verifier.load``, or a skip (a failure under CI) when the engine is not built."""
    try:
        from verifier.engine.model import load
    except ImportError as error:  # the extension is built by `pip install --no-build-isolation -e .`
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"engine not importable under CI: {error}", pytrace=False)
        pytest.skip(f"engine not built: {error}")
    return load
