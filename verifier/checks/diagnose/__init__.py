"""Why a check failed: the first diverging layer (``diverge``), how far a chaotic stream is reproducible
(``sensitivity``), the smallest failing model (``reduce``) and the repro folder that replays it (``repro``).

May import the checks (``verifier.checks.*`` modules) but never the run (``verifier.checks.run``).
"""
