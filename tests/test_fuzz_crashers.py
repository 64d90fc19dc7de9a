"""Every input the fuzzer ever crashed on (fixtures/fuzz-crashers/), and its hand-made seeds, now pass its
check: validate answers, load loads or refuses with validate's first error, a loaded model runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fuzz"))

from readers import TARGETS, seeds  # noqa: E402 - tests/fuzz is not a package
from target import check  # noqa: E402

CRASHERS = HERE.parent / "fixtures" / "fuzz-crashers"
CASES = sorted(p for p in CRASHERS.iterdir() if p.name != "README.md") + sorted(
    (HERE / "fuzz" / "seeds").iterdir()
)


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_former_crasher_or_seed_passes_the_fuzz_check(path):
    check(path.read_bytes())


READER_SEEDS = [(target, name) for target in TARGETS for name in seeds(target)]


@pytest.mark.parametrize(("target", "name"), READER_SEEDS, ids=lambda v: str(v))
def test_each_reader_fuzz_target_answers_its_well_formed_seed(target, name):
    TARGETS[target](seeds(target)[name])
