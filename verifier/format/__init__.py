"""The file format: read a keras-json document, its schema, the rule catalogue, and ``validate``.

Needs no torch, and of the compiled module ``_verifier_engine`` only its JSON reader (imported when a text
is first read), so that a validate-only caller (a pre-commit hook, an editor) starts fast.
"""
