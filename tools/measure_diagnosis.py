"""The figures of docs/diagnose.md: what `verify` says about each known export mistake.

    python tools/measure_diagnosis.py            # prints the Markdown table docs/diagnose.md shows

One small seeded module holds every layer kind a mistake needs (a grouped causal conv1d, dense, a stacked
LSTM, a GRU). It is exported correctly, then each mistake of ``verifier.testing.mistakes`` is made on one
entry and the file is checked as a user would check it: ``verify FILE --against module.pt --no-timing``
(the module saved with ``torch.save``). For each mistake the table gives the check that fails first, the
largest output change against the module (per frame and streamed, in units of the check's atol), and the
layer the failure is traced to, which should be the entry the mistake was made on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The entry each mistake is made on when the model has several candidates: the second of the stacked
# LSTM's two entries for a dropped layer (the `_l1` an exporter walking `named_children` loses; its widths
# still chain, so only the comparison can see it).
DROPPED_ENTRY_TYPE = "lstm"
STEPS = 64


def showcase_module() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(23)
    module = nn.Sequential(
        nn.Conv1d(4, 6, 3, dilation=2, groups=2, padding=4),  # causal: padding (K-1)*d
        nn.Linear(6, 12),
        nn.Tanh(),
        nn.LSTM(12, 8, num_layers=2, batch_first=True),
        nn.GRU(8, 8, batch_first=True),
        nn.Linear(8, 3),
    )
    with torch.no_grad():  # nonzero recurrent biases, so that a bias mistake changes the maths
        for name, param in module.named_parameters():
            if "bias_hh" in name:
                param.uniform_(-0.5, 0.5)
    return module.eval()


def _entry(doc: dict[str, Any], mistake: str, module: Any) -> int:
    from verifier.testing import mistakes

    candidates = mistakes.candidate_layers(doc, mistake)
    if mistake == "dropped_layer":
        candidates = [i for i in candidates if doc["layers"][i]["type"] == DROPPED_ENTRY_TYPE][1:]
    for index in candidates:
        reason = mistakes.no_op_reason(doc, mistake, index)
        if reason is None and mistake == "lstm_bias_unsummed":
            reason = mistakes.lstm_bias_is_no_op(doc, index, module)
        if reason is None:
            return index
    raise RuntimeError(f"{mistake}: no entry of the showcase module where it changes the maths")


def _row(mistake: str, index: int, doc: dict[str, Any], result: Any) -> str:
    failing = [check for check in result.checks if check.failed]
    first = failing[0] if failing else None
    caught = "missed" if first is None else first.name
    if first is not None and first.name in ("validate", "load"):
        rules = sorted({f.get("rule", "") for f in first.figures.get("findings", [])} - {""})
        caught += f" ({', '.join(rules)})" if rules else ""
    changes, named = [], "-"
    for name in ("numeric-frame", "numeric-stream"):
        check = next((c for c in result.checks if c.name == name), None)
        if check is None or check.status == "skip":
            changes.append("-")
            continue
        figures = check.figures
        atol = figures.get("atol") or 0.0
        error = figures.get("max_abs_error")
        changes.append(
            "-" if error is None else f"{error:.2g} ({error / atol:.3g}x)" if atol else f"{error:.2g}"
        )
        layer = figures.get("diverging_layer")
        if named == "-" and layer:
            named = f"`{layer['pointer']}` ({layer['type']})"
            if not layer["cause"].startswith("its output leaves tolerance"):
                named += f": {layer['cause']}"
    entry = doc["layers"][index]["type"]
    return f"| {mistake} | `/layers/{index}` ({entry}) | {caught} | {changes[0]} | {changes[1]} | {named} |"


def measure(directory: Path) -> list[str]:
    import torch

    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_file
    from verifier.pytorch.export import export
    from verifier.testing import mistakes

    module = showcase_module()
    checkpoint = directory / "module.pt"
    torch.save(module, checkpoint)
    good = export(module)
    options = Options(against=str(checkpoint), timing=False, rss_copies=0, steps=STEPS)
    rows = []
    for mistake in mistakes.MISTAKES:
        index = _entry(good, mistake, module)
        path = directory / f"{mistake}.json"
        path.write_text(json.dumps(mistakes.corrupt(good, mistake, index, module)), encoding="utf-8")
        rows.append(_row(mistake, index, good, verify_file(str(path), options)))
    path = directory / "correct.json"
    path.write_text(json.dumps(good), encoding="utf-8")
    clean = verify_file(str(path), options)
    rows.append(
        f"| (none: the correct export) | - | {'FAILED' if clean.failed else 'every check passes'} | | | |"
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp))
    print(
        "| mistake | made on | first failing check | max change per frame (x atol) | streamed | traced to |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
