"""The other ways a plugin loads a model besides RTNeural's dynamic keras-json parser: GuitarML's state_dict
files, read by hand-written loaders (``state_dict``), and the compile-time ``RTNeural::ModelT`` type whose
``parseJson`` skips what does not match it (``modelt``).

Built on the rule book beside it (``verifier.format``): a state_dict file is checked against its own schema
and rules, then converted to the keras-json the rest of the toolkit reads.
"""
