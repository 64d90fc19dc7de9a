"""Reports as strict JSON: NaN and infinities have no JSON literal, so they are written as ``null`` with the
value named beside it.

A figure ``{"max_abs_error": nan}`` becomes
``{"max_abs_error": null, "nonfinite": {"max_abs_error": "nan"}}``: a reader that knows nothing of this
still gets valid JSON (strict parsers refuse ``NaN``), and one that does can tell a missing figure from an
overflow. A list holding a non-finite number keeps its length (``null`` in place) and is named in
``nonfinite`` as ``"contains nan"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["NONFINITE_KEY", "strict"]

NONFINITE_KEY = "nonfinite"


def strict(value: Any) -> Any:
    """``value`` (dicts, lists, numbers, strings) with every NaN/inf replaced as the module docstring says."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        named: dict[str, str] = {}
        for key, item in value.items():
            name = _name(item)
            if name is not None:
                out[key], named[key] = None, name
                continue
            out[key] = strict(item)
            inside = _first_nonfinite(item) if isinstance(item, list | tuple) else None
            if inside is not None:
                named[key] = f"contains {inside}"
        if named:
            # A "nonfinite" of another shape (a hand-written report) gives way to the names: they are what
            # tells a reader that a null is a NaN.
            earlier = out.get(NONFINITE_KEY)
            out[NONFINITE_KEY] = {**(earlier if isinstance(earlier, dict) else {}), **named}
        return out
    if isinstance(value, list | tuple):
        return [None if _name(v) is not None else strict(v) for v in value]
    return value


def _name(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if hasattr(value, "item") and not isinstance(value, Mapping | list | tuple | str):  # numpy scalars
        try:
            return _name(float(value.item()))
        except (TypeError, ValueError):
            return None
    return None


def _first_nonfinite(items: Any) -> str | None:
    for item in items:
        name = _name(item) if not isinstance(item, list | tuple) else _first_nonfinite(item)
        if name is not None:
            return name
    return None
