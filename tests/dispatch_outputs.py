"""Child process of tests/test_dispatch.py: runs models through the engine at the dispatch level the
environment forces (``RTV_DISPATCH``, read once when the engine module loads) and saves every output.

    python tests/dispatch_outputs.py corpus CORPUS_DIR OUT.npz
    python tests/dispatch_outputs.py generated OUT.npz

``corpus``: every keras-json case of the conformance corpus on its own input, in float32 and float64.
``generated``: seeded models whose widths straddle every vector width (4, 8, 16 float32 lanes; 2, 4, 8
float64 lanes) and the matrix panels, with every activation, on inputs that reach the activations' clamps
and saturation. The npz holds one array per model and type, and ``level``: the level the engine reports.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _verifier_engine as _engine
import numpy as np

from verifier.engine.model import load

DTYPES = ("float32", "float64")
WIDTHS = (1, 3, 5, 9, 17, 33, 65, 100)
ACTIVATIONS = ("", "tanh", "sigmoid", "elu", "relu", "softmax")


def _table(path: Path, layout: str, width: int) -> np.ndarray:
    with path.open(newline="") as handle:
        rows = [[float(v) for v in row] for row in csv.reader(handle) if row]
    table = np.array(rows, dtype=np.float64)
    if "transpose" in layout:
        table = table.T
    if table.shape[1] == 1 and width > 1:
        table = table.reshape(-1, width)
    return table


def corpus_models(root: Path) -> Iterator[tuple[str, Any, np.ndarray]]:
    manifest = json.loads((root / "manifest.json").read_text())
    for case in manifest["cases"]:
        if case["format"] != "keras-json":
            continue
        xs = _table(root / case["input"]["file"], case["input"]["layout"], case["in_size"])
        yield case["name"], json.loads((root / case["model"]).read_text()), xs


def _dense(rng: np.random.Generator, width: int, out: int, activation: str) -> dict[str, Any]:
    weights = [rng.normal(size=(width, out)).tolist(), rng.normal(size=out).tolist()]
    return {"type": "dense", "activation": activation, "shape": [None, None, out], "weights": weights}


def _recurrent(rng: np.random.Generator, kind: str, width: int, units: int) -> dict[str, Any]:
    gates = 4 if kind == "lstm" else 3
    kernel = rng.normal(size=(width, gates * units))
    recurrent = rng.normal(size=(units, gates * units)) / 2
    bias = rng.normal(size=gates * units) if kind == "lstm" else rng.normal(size=(2, gates * units))
    weights = [kernel.tolist(), recurrent.tolist(), bias.tolist()]
    return {"type": kind, "activation": "", "shape": [None, None, units], "weights": weights}


def _conv1d(rng: np.random.Generator, width: int, out: int) -> dict[str, Any]:
    weights = [rng.normal(size=(3, width, out)).tolist(), rng.normal(size=out).tolist()]
    return {
        "type": "conv1d",
        "activation": "tanh",
        "shape": [None, None, out],
        "kernel_size": [3],
        "dilation": [2],
        "weights": weights,
    }


def _inputs(rng: np.random.Generator, width: int) -> np.ndarray:
    # Ordinary values, then magnitudes that saturate tanh/sigmoid, overflow and underflow exp, and infinities.
    ordinary = rng.uniform(-3, 3, size=(24, width))
    extreme = rng.choice([-1e4, -100.0, -40.0, -9.0, 9.0, 40.0, 100.0, 1e4, -np.inf, np.inf], size=(8, width))
    return np.vstack([ordinary, extreme])


def generated_models(seed: int = 15) -> Iterator[tuple[str, Any, np.ndarray]]:
    rng = np.random.default_rng(seed)
    for width in WIDTHS:
        for activation in ACTIVATIONS:
            layers = [_dense(rng, 2, width, activation), _dense(rng, width, width, activation)]
            document = {"in_shape": [None, None, 2], "layers": layers}
            yield f"dense-{width}-{activation or 'linear'}", document, _inputs(rng, 2)
        for kind in ("lstm", "gru"):
            layers = [_recurrent(rng, kind, 3, width), _dense(rng, width, 2, "")]
            yield f"{kind}-{width}", {"in_shape": [None, None, 3], "layers": layers}, _inputs(rng, 3)
        layers = [_conv1d(rng, 4, width)]
        yield f"conv1d-{width}", {"in_shape": [None, None, 4], "layers": layers}, _inputs(rng, 4)


def main(argv: list[str]) -> int:
    if argv[0] == "corpus":
        models, out = corpus_models(Path(argv[1])), Path(argv[2])
    else:
        models, out = generated_models(), Path(argv[1])
    arrays: dict[str, np.ndarray] = {"level": np.array(_engine.simd_level())}
    for name, document, xs in models:
        for dtype in DTYPES:
            model = load(document, dtype)
            model.reset()
            with np.errstate(all="ignore"):  # the extreme inputs overflow on purpose
                arrays[f"{name}/{dtype}"] = model.run(xs.astype(dtype))
    np.savez(out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
