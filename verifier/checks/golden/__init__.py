"""Golden data for a plugin's own tests: bundles of inputs and expected outputs that the C++ checker
(``rtneural_verifier/golden.hpp``) reads (``bundles``), written by ``verify --save-golden`` and
``--embed-golden``.

Above the run in ``verifier.checks``: it takes the run's references and tolerances; nothing in the run, the
diagnosis or the checks imports it.
"""
