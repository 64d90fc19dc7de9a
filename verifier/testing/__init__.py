"""Test tooling for your own property tests: Hypothesis strategies and the catalogue of export mistakes.

Needs the ``testing`` extra (``pip install "rtneural-verifier[testing]"``), which brings Hypothesis.
"""
