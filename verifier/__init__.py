"""rtneural-verifier: check PyTorch models exported to RTNeural's keras-json format before they ship.

The public API, in the order data flows through it::

    export(module) -> dict          # torch module -> keras-json       (verifier.export)
    validate(source) -> [Finding]   # schema + structural rules         (verifier.validate)
    load(source) -> Model           # the native engine                 (verifier.engine)
    reference(source) -> nn.Module  # the same JSON rebuilt in torch    (verifier.reference)
    compare(expected, actual, ...)  # error statistics                  (verifier.compare)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from verifier.errors import ExportError, ModelFormatError, VerifierError

__version__ = "0.1.0"

# Submodules are imported on first use so that `import verifier` stays cheap (torch is only imported by
# the parts that need it) and a CLI run that only validates never pays for torch.
_LAZY = {
    "load": "verifier.engine",
    "Model": "verifier.engine",
    "export": "verifier.export",
    "reference": "verifier.reference",
    "compare": "verifier.compare",
    "Comparison": "verifier.compare",
    "validate": "verifier.validate",
    "Finding": "verifier.validate",
}

__all__ = [
    "Comparison",
    "ExportError",
    "Finding",
    "Model",
    "ModelFormatError",
    "VerifierError",
    "__version__",
    "compare",
    "export",
    "load",
    "reference",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    return getattr(import_module(module), name)


if TYPE_CHECKING:  # pragma: no cover
    from verifier.compare import Comparison, compare
    from verifier.engine import Model, load
    from verifier.export import export
    from verifier.reference import reference
    from verifier.validate import Finding, validate
