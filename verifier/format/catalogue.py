"""``python -m verifier.format.catalogue`` prints the rule catalogue of :mod:`verifier.format.rules` as a
Markdown table.

A separate entry point because ``python -m verifier.format.rules`` would run a module the package has already
imported (``import verifier`` imports validate, which imports rules), which runpy warns about.
"""

from __future__ import annotations

from verifier.format.rules import markdown_table

if __name__ == "__main__":
    print(markdown_table())
