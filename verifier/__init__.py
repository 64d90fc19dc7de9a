"""rtneural-verifier: check PyTorch models exported to RTNeural's keras-json format before they ship.

The public API, in the order data flows through it::

    export(module) -> dict          # torch module -> keras-json       (verifier.pytorch.export)
    validate(source) -> [Finding]   # schema + structural rules         (verifier.format.validate)
    load(source) -> Model           # the native engine                 (verifier.engine.model)
    reference(source) -> nn.Module  # the same JSON rebuilt in torch    (verifier.pytorch.rebuild)
    compare(expected, actual, ...)  # error statistics                  (verifier.checks.compare)
    verify(paths, module=...)       # every check, module in-process    (verifier.checks.run.verify)

Every name is imported on first use, so ``import verifier`` costs neither torch nor the compiled engine:
a validate-only caller never pays for torch. Each stage lives in its own subpackage, so no public name is
shadowed by a submodule of the same name.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from verifier.errors import ExportError, ModelFormatError, VerifierError

# The one place the version is written: pyproject.toml reads it from here (scikit-build-core's regex
# provider). importlib.metadata would cost more start-up time than the rest of the package.
__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "Comparison": "verifier.checks.compare",
    "compare": "verifier.checks.compare",
    "Model": "verifier.engine.model",
    "load": "verifier.engine.model",
    "export": "verifier.pytorch.export",
    "reference": "verifier.pytorch.rebuild",
    "Finding": "verifier.format.findings",
    "validate": "verifier.format.validate",
    "verify": "verifier.checks.run.verify",
}

if TYPE_CHECKING:
    from verifier.checks.compare import Comparison, compare
    from verifier.checks.run.verify import verify
    from verifier.engine.model import Model, load
    from verifier.format.findings import Finding
    from verifier.format.validate import validate
    from verifier.pytorch.export import export
    from verifier.pytorch.rebuild import reference


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    "verify",
]
