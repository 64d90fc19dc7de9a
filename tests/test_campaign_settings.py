"""The property campaign's settings: where failing examples persist, and which profiles replay them."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = Path(__file__).resolve().parents[1]


def _documented_directory() -> Path:
    return Path(os.environ.get("VERIFIER_HYPOTHESIS_DB") or ROOT / ".hypothesis" / "examples")


def test_thorough_and_dev_share_the_example_database_in_the_documented_directory():
    # A failure a long thorough campaign finds must replay first in the next short dev run.
    for profile in ("thorough", "dev"):
        database = settings.get_profile(profile).database
        assert isinstance(database, DirectoryBasedExampleDatabase), profile
        assert Path(database.path) == _documented_directory(), profile


def test_the_ci_profile_draws_the_same_examples_everywhere():
    # Derandomized: a serial run and a pytest-xdist run of the ci profile test the same examples.
    assert settings.get_profile("ci").derandomize
