"""The project a run belongs to: where its factories are imported from and what its manifest may name.

The project root is the nearest folder, from a starting folder upward, holding ``pyproject.toml``; else the
nearest holding ``.git``; else the starting folder itself. Factories are imported with the root first on
``sys.path`` (a team's own package resolves without PYTHONPATH, wherever its manifest lives), and a
manifest's ``file`` entries must stay inside the root of the project holding the manifest: a pull request's
manifest cannot point the gate at files elsewhere on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["escapes", "project_root"]


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The project root found upward from ``start`` (default: the current directory), as an absolute path.

    Symbolic links in ``start`` are kept: the project is where the user stands, not where a link leads.
    """
    here = Path(os.getcwd() if start is None else start).absolute()
    folders = (here, *here.parents)
    # Anything named pyproject.toml marks the root, even one that is not a regular file: its reader
    # (verifier.cli.config) refuses such a file with a message instead of quietly looking elsewhere.
    for marker in ("pyproject.toml", ".git"):
        for folder in folders:
            if os.path.lexists(folder / marker):
                return folder
    return here


def escapes(path: str | os.PathLike[str], root: Path) -> bool:
    """Whether ``path``, every symbolic link resolved, lies outside ``root`` (itself resolved)."""
    return not Path(path).resolve().is_relative_to(root.resolve())
