"""Reading a model file: the bounded C++ parse into a ``Document`` (``document``), numeric arrays held in C++
(``arrays``), float32's range (``float32``), and where a JSON pointer sits in the text (``positions``).

Knows nothing of the rules: the rule book (``verifier.format.rules``, ``structure``, ``validate``) reads
through it.
"""
