"""The property the fuzzer checks on every input, also replayed by tests/test_fuzz_crashers.py.

For any bytes: ``validate`` returns findings (never raises), ``load`` either loads or raises
ModelFormatError, with the rule and pointer of validate's first error, and a loaded model runs a few steps.
Anything else -- another exception, a disagreement, a native crash, a hang, memory exhaustion -- is a
finding of the fuzzer.
"""

from __future__ import annotations

import numpy as np

from verifier.engine.model import load
from verifier.errors import ModelFormatError
from verifier.format.validate import validate


class Disagreement(AssertionError):
    """load and validate disagree on a file (rule or pointer, or accept/refuse)."""


def check(data: bytes) -> None:
    errors = [f for f in validate(data) if f.severity == "error"]
    first = (errors[0].rule, errors[0].pointer) if errors else None
    try:
        model = load(data)
    except ModelFormatError as error:
        refusal = (error.rule, error.pointer)
    else:
        refusal = None
        model.run(np.linspace(-1, 1, 3 * model.in_size).reshape(3, model.in_size))
    if first != refusal:
        raise Disagreement(f"validate's first error {first}, load's refusal {refusal}")
