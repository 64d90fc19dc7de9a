"""Our JSON Schemas: loading them by ``$id`` and jsonschema's validator (``validator``), and the compiled
predicate that accepts a conforming instance without jsonschema (``predicate``)."""
