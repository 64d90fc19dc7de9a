"""The run: what a ``verify`` call does with its files — the manifest (``manifest``), the options and the
tolerance each file is held to (``options``, ``tolerances``), the reference module (``reference``), one
file's steps and the whole run (``verify``), failure isolation and worker processes (``isolation``), the
result cache (``cache``), the project root (``project``), golden data carried in a model file
(``embedded``) and the plugin's own latency figures (``plugin_latency``).

It may import the checks and the diagnosis; neither imports it, and it does not import ``golden``, the room
built on it.
"""
