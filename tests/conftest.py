"""Shared test configuration: Hypothesis profiles and the corpus location."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
