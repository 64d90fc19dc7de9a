"""Where the C++ golden checker lives in this installation, for a plugin's build.

The checker is header-only (``include/rtneural_verifier/golden.hpp``) and ships inside this package, so the
same paths work from a source checkout and from an installed wheel. ``python -m verifier.cpp --includedir``
and ``--cmakedir`` print them, as ``python -m pybind11`` does for pybind11.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["cmake_dir", "include_dir"]

_HERE = Path(__file__).resolve().parent


def include_dir() -> Path:
    """The directory to add to the include path: it holds ``rtneural_verifier/golden.hpp``."""
    return _HERE / "include"


def cmake_dir() -> Path:
    """The CMake package directory: ``find_package(rtneural_verifier [VERSION] CONFIG)`` with
    ``rtneural_verifier_DIR`` set to it gives the targets ``rtneural_verifier::golden`` and
    ``rtneural_verifier::heap_counter`` and the function ``rtv_add_golden_test``; the package's version is
    ``verifier.__version__``, read from this package's ``__init__.py`` by the version file."""
    return _HERE / "cmake"
