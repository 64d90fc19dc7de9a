"""The run: what a ``verify`` call does with its files — the manifest (``manifest``), the options and the
tolerance each file is held to (``options``, ``tolerances``), the reference module (``reference``), one
file's steps and the whole run (``verify``), failure isolation and worker processes (``isolation``), golden
bundles (``golden``) and golden data carried in a model file (``embedded``).

The top room of ``verifier.checks``: it may import the checks and the diagnosis; neither imports it.
"""
