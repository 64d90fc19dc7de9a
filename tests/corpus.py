"""Access to RTNeural's conformance corpus (kept outside the repository, never copied into it).

The corpus is read from ``$RTNEURAL_CONFORMANCE_DIR`` or ``../shared/conformance/rtneural`` next to the
checkout. Where it is absent the tests that need it skip with the reason -- except under CI (``CI=true``),
where a missing corpus fails the run, so that a green CI always means the corpus was checked.
Mutated probes are built in memory or in a temporary directory, never written into the repository.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path | None:
    named = os.environ.get("RTNEURAL_CONFORMANCE_DIR")
    candidate = Path(named) if named else REPO.parent / "shared" / "conformance" / "rtneural"
    return candidate if (candidate / "manifest.json").is_file() else None


def require_corpus() -> Path:
    """The corpus folder, or skip (fail under CI) saying where it was looked for."""
    found = corpus_dir()
    if found is not None:
        return found
    where = os.environ.get("RTNEURAL_CONFORMANCE_DIR") or "../shared/conformance/rtneural"
    reason = f"RTNeural conformance corpus not found at {where} (set RTNEURAL_CONFORMANCE_DIR)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI a missing corpus is a failure", pytrace=False)
    pytest.skip(reason)


@cache
def manifest() -> dict[str, Any]:
    """The parsed manifest, or an empty one when the corpus is absent (ids are collected either way)."""
    found = corpus_dir()
    if found is None:
        return {"cases": [], "negative_cases": []}
    return json.loads((found / "manifest.json").read_text())


def case_names(kind: str = "cases") -> list[str]:
    names = [entry["name"] for entry in manifest()[kind]]
    # Without a corpus, one placeholder id keeps the skip (or the CI failure) visible in the report.
    return names or ["corpus-missing"]


def case(name: str, kind: str = "cases") -> dict[str, Any]:
    require_corpus()
    return next(entry for entry in manifest()[kind] if entry["name"] == name)


def read_json(relative: str) -> Any:
    return json.loads((require_corpus() / relative).read_text())


def read_csv(relative: str) -> np.ndarray:
    with (require_corpus() / relative).open(newline="") as handle:
        rows = [[float(v) for v in row] for row in csv.reader(handle) if row]
    return np.array(rows, dtype=np.float64)


def steps(entry: dict[str, Any], which: str) -> np.ndarray:
    """Input or expected data of a case as a ``[steps, width]`` array, following its layout text."""
    spec = entry[which]
    table = read_csv(spec["file"])
    if "transpose" in spec["layout"]:
        table = table.T
    width = entry["in_size"] if which == "input" else entry["out_size"]
    if table.shape[1] == 1 and width > 1:  # a single column chunked into frames (conv2d)
        table = table.reshape(-1, width)
    return np.ascontiguousarray(table)


def aligned(entry: dict[str, Any], produced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ours, expected)`` steps to compare, per the case's ``compare`` block (README step 5): our step
    ``rtneural_first_step + n * rtneural_step_stride`` against expected step ``expected_first_step + n``."""
    expected = steps(entry, "expected")
    spec = entry["compare"]
    start, stride = spec["rtneural_first_step"], spec["rtneural_step_stride"]
    first = spec["expected_first_step"]
    count = len(expected) - first if spec["num_steps"] == "all" else spec["num_steps"]
    ours = produced[start : start + count * stride : stride]
    if spec["outputs"].startswith("output 0"):
        ours = ours[:, :1]  # what forward() returns; the expected file has one column
    return ours, expected[first : first + count]


# --- probe mutations (manifest "negative_cases") -------------------------------------------------------


def _split(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _parent(doc: Any, path: str) -> tuple[Any, str | int]:
    parts = _split(path)
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last: str | int = int(parts[-1]) if isinstance(node, list) else parts[-1]
    return node, last


def _swap_blocks_0_1(rows: list) -> list:
    def swap(row: list) -> list:
        h = len(row) // 3
        return row[h : 2 * h] + row[:h] + row[2 * h :]

    return [swap(r) for r in rows]


_TRANSFORMS = {
    "transpose_2d": lambda a: [list(col) for col in zip(*a, strict=True)],
    "swap_gate_blocks_0_1": _swap_blocks_0_1,
    "scale_by_0.5": lambda a: (np.asarray(a) * 0.5).tolist(),
    "take_row_0": lambda a: a[0],
    "sum_rows": lambda a: [[x + y for x, y in zip(a[0], a[1], strict=True)], [0.0] * len(a[1])],
}


def apply_mutation(doc: Any, mutation: list[dict[str, Any]]) -> Any:
    """A mutated deep copy of ``doc``; the corpus document itself is never modified."""
    out = copy.deepcopy(doc)
    for op in mutation:
        parent, key = _parent(out, op["path"])
        if op["op"] == "remove":
            del parent[key]
        elif op["op"] == "replace":
            parent[key] = copy.deepcopy(op["value"])
        elif op["op"] == "transform":
            name = op["transform"].split(" ")[0]
            parent[key] = _TRANSFORMS[name](parent[key])
        else:  # pragma: no cover - the manifest only uses the three ops above
            raise ValueError(f"unknown mutation op {op['op']!r}")
    return out


def negative_document(entry: dict[str, Any]) -> Any:
    """The JSON document of a negative case: the model itself, or its base model mutated."""
    if "mutation" in entry:
        return apply_mutation(read_json(entry["base_model"]), entry["mutation"])
    return read_json(entry["model"])
