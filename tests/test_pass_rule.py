"""The one pass rule (verifier/checks/passrule.py) and the C++ golden checker's own copy of it
(rtneural_verifier/golden.hpp) give the same verdict on every edge of the rule: the boundary itself, which
side rtol scales (|expected|, not |actual|), signs, zeros, NaN and infinities.

The C++ side is asked through tests/cpp/check_toy (output j = 2 * input j mod 2, in float32) on one-step
bundles whose every expected element is ``e`` and whose inputs make every output ``a``; the bundle passes
exactly when the element passes.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cpp_build import build_test_programs, toolchain_or_skip

from verifier.checks.compare import compare
from verifier.checks.passrule import failing_steps, outside

# (actual, expected, atol, rtol): actual / 2 is exact in float32, so the toy's output is exactly `actual`.
EDGES = [
    (1.0, 1.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 0.0),
    (1.0, 1.0 + 2**-40, 0.0, 0.0),  # any error fails a zero tolerance
    (1.5, 1.0, 0.5, 0.0),  # on the boundary: passes
    (1.5, 1.0, 0.49999999, 0.0),
    (2.5, 2.0, 0.0, 0.25),  # rtol on the boundary
    (2.5, 2.0, 0.0, 0.2499999),
    (2.0, 2.5, 0.0, 0.2),  # rtol scales |expected| (2.5 * 0.2 = 0.5 >= 0.5)...
    (2.5, 2.0, 0.0, 0.2),  # ...not |actual| (2.0 * 0.2 = 0.4 < 0.5)
    (3.0, 2.0, 0.5, 0.25),  # atol and rtol add up
    (3.25, 2.0, 0.5, 0.25),
    (-2.5, -2.0, 0.0, 0.25),  # signs: |expected|
    (2.5, -2.0, 0.0, 0.25),
    (0.0, math.nan, 1.0, 1.0),  # NaN never passes
    (math.inf, math.inf, 1.0, 1.0),  # inf - inf is NaN
    (1.0, math.inf, 1.0, 1.0),  # an infinite expectation is met by nothing (the allowance would be inf)
    (1.0, -math.inf, 0.0, 0.5),
    (1e30, 1.0000001e30, 0.0, 1e-6),
]


def python_passes(actual: float, expected: float, atol: float, rtol: float) -> bool:
    return not bool(outside(np.array([expected]), np.array([actual]), atol, rtol).any())


def _bundle(root: Path, actual: float, expected: float, atol: float, rtol: float) -> Path:
    x = actual / 2
    index = {
        "format": "rtneural-verifier-golden",
        "format_version": "1",
        "created_by": "tests/test_pass_rule.py",
        "model_sha256": hashlib.sha256(b"toy").hexdigest(),
        "in_size": "2",
        "out_size": "3",
        "reference": "torch",
        "patterns": "frame,stream",
        "cases": "edge",
        "case.edge.steps": "1",
        "tolerance.float32.atol": repr(atol),
        "tolerance.float32.rtol": repr(rtol),
        "tolerance.float64.atol": repr(atol),
        "tolerance.float64.rtol": repr(rtol),
    }
    (root / "inputs").mkdir(parents=True)
    (root / "expected").mkdir()
    (root / "index.txt").write_text("".join(f"{k}={v}\n" for k, v in index.items()))
    (root / "inputs" / "edge.csv").write_text(f"{x!r},{x!r}\n")
    for pattern in ("frame", "stream"):
        (root / "expected" / f"edge.{pattern}.csv").write_text(",".join([repr(expected)] * 3) + "\n")
    return root


@pytest.fixture(scope="module")
def check_toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toolchain_or_skip()
    build = tmp_path_factory.mktemp("pass-rule-toy")
    build_test_programs(build, "-DCMAKE_BUILD_TYPE=Release", target="check_toy")
    return build / "check_toy"


def test_the_edges_hold_both_verdicts():
    verdicts = [python_passes(*edge) for edge in EDGES]
    assert 5 <= sum(verdicts) <= len(EDGES) - 5


@pytest.mark.parametrize(
    "edge", EDGES, ids=[f"a={a!r},e={e!r},atol={t!r},rtol={r!r}" for a, e, t, r in EDGES]
)
def test_the_cpp_checker_and_the_python_rule_agree_on_an_edge(check_toy: Path, tmp_path: Path, edge) -> None:
    bundle = _bundle(tmp_path / "bundle", *edge)
    done = subprocess.run([str(check_toy), "2", "3", str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    assert (done.returncode == 0) == python_passes(*edge), done.stdout


@pytest.mark.parametrize("edge", EDGES)
def test_compare_and_failing_steps_judge_by_the_one_rule(edge) -> None:
    actual, expected, atol, rtol = edge
    passes = python_passes(*edge)
    assert compare([expected], [actual], atol, rtol).passed == passes
    assert bool(failing_steps(np.array([[expected]]), np.array([[actual]]), atol, rtol)[0]) == (not passes)
