"""Shared test configuration: Hypothesis profiles and the corpus location."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

# tests/corpus.py is a helper module, not a test: make it importable as `corpus` from every test file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The example database: every example that failed (and its shrunk form) is saved here, and replayed first by
# the next run of a profile that uses it, so a failure a long `thorough` campaign found is tried again by the
# next short `dev` run. $VERIFIER_HYPOTHESIS_DB names the directory (CI caches it between runs); the default
# is .hypothesis/examples in the checkout, whatever the working directory. One file per example: safe for
# pytest-xdist workers writing at once.
EXAMPLE_DATABASE = DirectoryBasedExampleDatabase(
    os.environ.get("VERIFIER_HYPOTHESIS_DB")
    or str(Path(__file__).resolve().parents[1] / ".hypothesis" / "examples")
)
# Examples per property in `thorough` ($VERIFIER_THOROUGH_EXAMPLES to fit a time budget).
THOROUGH_EXAMPLES = int(os.environ.get("VERIFIER_THOROUGH_EXAMPLES", "10000"))

# `ci` (the default) keeps the whole property suite to a few minutes on 2 cores and draws the same examples
# on every machine (derandomized, hence without the database); `dev` is quicker still for local iteration;
# `thorough` is the pre-release sweep (10,000 examples per property; `tox -e thorough -- -n auto` spreads
# the properties over the cores with pytest-xdist: each property runs whole in one worker).
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=20, deadline=None, print_blob=True, database=EXAMPLE_DATABASE)
settings.register_profile(
    "thorough",
    max_examples=THOROUGH_EXAMPLES,
    database=EXAMPLE_DATABASE,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    # A pytest-xdist worker shares the machine's cores with the others: torch's default of one thread per
    # core would run N workers x N threads on N cores, each worker slower than alone.
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under `thorough`, a property takes minutes and a fixed case milliseconds. Properties first, so that
    # with `--dist worksteal` (tox -e thorough) the short cases fill the workers' idle ends instead of one
    # worker being left with the last properties while the others wait. (pytest-xdist's default `load`
    # handed all the properties of one file to one worker: a `-n 2` run took as long as a serial one.)
    if os.environ.get("HYPOTHESIS_PROFILE") == "thorough":
        items.sort(key=lambda item: not getattr(getattr(item, "obj", None), "is_hypothesis_test", False))


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


@pytest.fixture(autouse=True)
def _checks_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """``verify`` run in this process checks every file unless a test says ``--cache``: a test that changes
    what a run computes (a patched engine, another module) must not be served an earlier test's result."""
    import verifier.cli

    monkeypatch.setattr(verifier.cli, "_wants_cache", lambda args: bool(args.cache))
