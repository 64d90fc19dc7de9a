"""The torch module a file's outputs are compared with: resolving ``--against`` / a manifest factory to a
callable, and describing the reference a report names."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.errors import VerifierError

if TYPE_CHECKING:
    from verifier.checks.run.manifest import Manifest
    from verifier.checks.run.options import Options


class ReferenceError(VerifierError):
    """``--against`` (or a manifest factory) does not name a usable torch module."""


def resolve_against(spec: str) -> Callable[[], Any]:
    """A zero-argument callable returning the torch module ``spec`` names (``module:factory`` or a file)."""
    if ":" in spec and not Path(spec).exists():
        module_name, _, attr = spec.partition(":")
        try:
            module = import_module(module_name)
        except ImportError as exc:
            raise ReferenceError(f"--against {spec}: cannot import {module_name!r}: {exc}") from None
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise ReferenceError(f"--against {spec}: {module_name!r} has no callable {attr!r}")
        return factory
    path = Path(spec)
    if not path.is_file():
        raise ReferenceError(f"--against {spec}: neither module:factory nor an existing checkpoint file")

    def load_checkpoint() -> Any:
        import torch

        # A whole pickled module (torch.save(module, path)); unpickling runs code: only files the user names.
        module = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(module, torch.nn.Module):
            raise ReferenceError(
                f"--against {spec}: the checkpoint holds a {type(module).__name__}, not a torch module "
                "(save the module itself, or give module:factory)"
            )
        return module

    return load_checkpoint


def describe_reference(spec: str | None, origin: str) -> dict[str, Any]:
    """What the numeric checks of a file compare the engine with (the report's ``reference``).

    ``module`` and ``checkpoint`` check the export (the torch model's own forward() against the file);
    ``json-rebuild`` only checks the engine against the JSON's torch rebuild, which an export mistake
    cannot fail, and the report says so.
    """
    if spec is None:
        return {
            "kind": "json-rebuild",
            "summary": "against the JSON's own rebuild: this checks the engine, not the export "
            "(give --against or a manifest factory to check the export)",
        }
    if ":" in spec and not Path(spec).exists():
        return {
            "kind": "module",
            "factory": spec,
            "origin": origin,
            "summary": f"against module {spec} (its own forward()), from {origin}",
        }
    return {
        "kind": "checkpoint",
        "path": spec,
        "origin": origin,
        "summary": f"against checkpoint {spec} (its own forward()), from {origin}",
    }


def reference_spec(path: str, options: Options, manifest: Manifest | None) -> str | None:
    """The torch module a file is compared with (``--against``, else its manifest factory), if any."""
    entry = manifest.entry_for(path) if manifest is not None else None
    return options.against or (entry.factory if entry is not None else None)
