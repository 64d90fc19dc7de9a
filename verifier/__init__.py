"""rtneural-verifier: check PyTorch models exported to RTNeural's keras-json format before they ship.

The public API, in the order data flows through it::

    export(module) -> dict          # torch module -> keras-json       (verifier.export)
    validate(source) -> [Finding]   # schema + structural rules         (verifier.validate)
    load(source) -> Model           # the native engine                 (verifier.engine)
    reference(source) -> nn.Module  # the same JSON rebuilt in torch    (verifier.reference)
    compare(expected, actual, ...)  # error statistics                  (verifier.compare)
"""

from __future__ import annotations

from verifier.errors import ExportError, ModelFormatError, VerifierError

__version__ = "0.1.0"

from verifier.compare import Comparison, compare
from verifier.engine import Model, load
from verifier.export import export
from verifier.reference import reference
from verifier.validate import Finding, validate

# These are imported eagerly, not lazily: four of the public functions share their name with the module
# that defines them (verifier.compare.compare ...), and the import system rebinds a package attribute to
# the submodule the first time that submodule is imported -- a lazy `__getattr__` would then hand out the
# module instead of the function.

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
