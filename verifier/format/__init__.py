"""The file format: read a keras-json document, its schema, the rule catalogue, and ``validate``.

Needs neither torch nor the compiled engine, so that a validate-only caller (a pre-commit hook, an editor)
starts fast.
"""
