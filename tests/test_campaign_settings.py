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


def _campaign(tmp_path: Path, name: str, workers: list[str]) -> str:
    """Digests (tools/campaign_digest.py) of the examples a small seeded thorough campaign tried."""
    import subprocess
    import sys

    storage = tmp_path / name
    env = {
        **os.environ,
        "HYPOTHESIS_PROFILE": "thorough",
        "VERIFIER_THOROUGH_EXAMPLES": "15",
        "VERIFIER_HYPOTHESIS_DB": str(tmp_path / f"{name}-db"),
        "HYPOTHESIS_STORAGE_DIRECTORY": str(storage),
        "HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER": "1",
    }
    properties = [
        "tests/test_properties.py::test_engine_stream_equals_torch_stream",
        "tests/test_properties.py::test_every_known_export_mistake_is_detected",
        "tests/test_properties.py::test_reset_restores_the_initial_state",
    ]
    run = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-seed=11",
        *properties,
    ]
    run += workers
    done = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    digest = subprocess.run(
        [sys.executable, "tools/campaign_digest.py", str(storage)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return digest.stdout


def test_a_seeded_thorough_campaign_tries_the_same_examples_serially_and_on_two_workers(tmp_path):
    serial = _campaign(tmp_path, "serial", [])
    assert len(serial.splitlines()) == 10  # 2 dtypes + 7 mistakes + 1: every property observed
    assert _campaign(tmp_path, "parallel", ["-n", "2"]) == serial


def test_under_thorough_every_property_is_collected_before_the_fixed_cases():
    # With --dist worksteal (tox -e thorough) the short fixed cases then fill the workers' idle ends.
    import subprocess
    import sys

    import test_properties
    import test_rule_book

    properties = {
        name
        for module in (test_properties, test_rule_book)
        for name, function in vars(module).items()
        if getattr(function, "is_hypothesis_test", False)
    }
    files = ["tests/test_properties.py", "tests/test_rule_book.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env={**os.environ, "HYPOTHESIS_PROFILE": "thorough"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    nodes = [line for line in done.stdout.splitlines() if "::" in line]
    kinds = [node.split("::")[1].split("[")[0] in properties for node in nodes]
    assert sum(kinds) == 18  # every property: 10 functions, 3 parametrized (2 dtypes, 7 mistakes)
    assert kinds == sorted(kinds, reverse=True)  # all properties, then all fixed cases
