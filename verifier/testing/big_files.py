"""Model files of a chosen size for the cost-in-proportion-to-the-file benchmark (issue 16), written at bench
time into a temporary folder (never committed). Each class is a way a file makes the reader, ``validate``
or ``load`` do work out of proportion to its size:

- ``valid``: a correct model whose dense kernel fills the file;
- ``unknown``: a small correct model plus one large array of numbers under a key nobody reads;
- ``badshape``: a dense kernel with one row more than the input width (refused: RTN-E201), filling the file;
- ``rows``: one-element rows filling the file, under a declared input width beyond ``Limits.max_layer_width``
  (refused at in_shape, RTN-E303, before the rows are worth looking at).

``python -m verifier.testing.big_files DIR SIZE_MB...`` writes every class at every size into DIR.

:func:`long_string_text` makes the other kind of large file: a small model holding one string of megabytes
in a place a message may quote (the bounded-messages tests and tools/measure_message_sizes.py).
"""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

CLASSES = ("valid", "unknown", "badshape", "rows")
_NUMBER = "0.123456"  # every weight; 8 characters, as a float32 export writes most of them


def _row(count: int) -> str:
    return "[" + ",".join([_NUMBER] * count) + "]"


def _dense_model(width: int, rows: int, out: int, extra: str = "") -> str:
    """in_shape of ``width``, one dense layer whose kernel has ``rows`` rows of ``out`` numbers."""
    row = _row(out)
    kernel = "[" + ",".join([row] * rows) + "]"
    return (
        f'{{"in_shape": [null, null, {width}], "layers": [{{"type": "dense", "activation": "", '
        f'"shape": [null, null, {out}], "weights": [{kernel}, {_row(out)}]}}]{extra}}}'
    )


def model_text(kind: str, size: int) -> str:
    """A model of class ``kind`` about ``size`` bytes long."""
    per_number = len(_NUMBER) + 1
    if kind == "valid":
        side = max(2, math.isqrt(size // per_number))  # out == in: a square kernel, within every limit
        return _dense_model(side, side, side)
    if kind == "badshape":
        side = max(2, math.isqrt(size // per_number))
        return _dense_model(side, side + 1, side)
    if kind == "unknown":
        count = max(1, size // per_number)
        return _dense_model(4, 4, 4, extra=f', "extra": {_row(count)}')
    if kind == "rows":
        rows = max(1, size // (per_number + 2))
        width = max(rows, 65_537)  # beyond Limits.max_layer_width
        return _dense_model(width, rows, 1)
    raise ValueError(f"unknown class {kind!r}; one of {', '.join(CLASSES)}")


#: where :func:`long_string_text` puts its string
STRING_PLACES = ("duplicate-key", "activation", "layer-type", "unknown-key", "weight-string")


def long_string_text(place: str, doc: dict[str, Any], length: int = 10 * 1024 * 1024) -> str:
    """``doc`` (a model whose first layer is a dense one) as JSON text with one string of ``length``
    characters at ``place``: a key given twice, the first layer's activation or type, an unknown key of it,
    or its first weight. ``doc`` itself is left as it was."""
    big = "a" * length
    doc = copy.deepcopy(doc)
    first = doc["layers"][0]
    if place == "duplicate-key":
        return json.dumps(doc)[:-1] + f', "{big}": 1, "{big}": 2' + "}"
    if place == "activation":
        first["activation"] = big
    elif place == "layer-type":
        first["type"] = big
    elif place == "unknown-key":
        first[big] = 1
    elif place == "weight-string":
        first["weights"][0][0][0] = big
    else:
        raise ValueError(f"unknown place {place!r}; one of {', '.join(STRING_PLACES)}")
    return json.dumps(doc)


def write(folder: Path, kind: str, megabytes: int) -> Path:
    path = folder / f"{kind}-{megabytes}mb.json"
    path.write_text(model_text(kind, megabytes * 1_000_000), encoding="ascii")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for mb in sys.argv[2:]:
        for kind in CLASSES:
            print(write(target, kind, int(mb)))
