"""``python -m verifier.cpp --includedir | --cmakedir``: paths of the C++ golden checker for a build."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from verifier.cpp import cmake_dir, include_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verifier.cpp",
        description="Print where the header-only C++ golden checker (rtneural_verifier/golden.hpp) is.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--includedir", action="store_true", help="the include directory")
    group.add_argument(
        "--cmakedir",
        action="store_true",
        help="the CMake package directory (set rtneural_verifier_DIR to it for find_package)",
    )
    args = parser.parse_args(argv)
    print(include_dir() if args.includedir else cmake_dir())
    return 0


if __name__ == "__main__":
    sys.exit(main())
