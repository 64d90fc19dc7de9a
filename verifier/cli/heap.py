"""How the ``verify`` command uses Python's cycle collector: torch's objects are frozen out of its scans.

``import torch`` leaves a few hundred thousand objects that live until the process exits. Every full
collection afterwards visits all of them, and the interpreter's finalization runs one more: for nothing,
since none of them is garbage. ``gc.freeze()`` moves every object alive at the time it is called into a
permanent generation that collections skip (reference counting still frees them; only the cycle collector
ignores them). The command calls it twice:

* once, right after torch's own import has finished (:func:`freeze_after_import`). What it freezes is
  torch's modules and what the run had built before: its parsed documents and loaded models, whose cycles
  (if any) are then kept to the end of the run, once. On one core this saves ~0.07 s of CPU on the README
  main job.
* once more at exit (``verifier.cli.console_main``), so that finalization skips what the run built.

Nothing is frozen in between: a run over many files makes garbage cycles (torch modules, their tensors) that
the collector must stay free to reclaim, or memory would grow with the number of files. (A larger young
generation saved ~0.1 s more but raised the production run's peak RSS by ~8 MB.) Only the console command
does any of this: ``verifier.cli.main`` called as a library leaves the caller's collector as it was.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _FreezeAfter(importlib.abc.MetaPathFinder):
    """A finder that finds nothing itself: at the first import of its module it takes itself off
    ``sys.meta_path`` and hands back the regular spec, with a loader that freezes the heap once the module
    has executed."""

    def __init__(self, name: str) -> None:
        self._name = name

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self._name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            gc.freeze()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def freeze_after_import(name: str) -> None:
    """Freeze the heap (``gc.freeze()``) right after the module ``name`` is first imported, whoever imports
    it; now, when it already is."""
    if name in sys.modules:
        gc.freeze()
    elif not any(isinstance(finder, _FreezeAfter) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FreezeAfter(name))
