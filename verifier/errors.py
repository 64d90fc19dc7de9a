"""Exception classes of the toolkit.

Every error a user can cause carries where it happened (a JSON pointer into the model file, or the name of
the offending torch module) and a message that says what was expected, so that a CLI, a report or a test can
show it without parsing text.
"""

from __future__ import annotations

from verifier.quoting import MAX_FIELD, bounded, shown, shown_pointer


class VerifierError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(VerifierError):
    """The run's configuration names something unusable: a factory that cannot be imported, an attribute
    that is not callable, a checkpoint that does not exist. A usage error of the whole run (``verify``
    exits 2), not a finding about one model: ``where`` says which setting (a manifest entry and its JSON
    pointer, or ``--against``)."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = shown(message, MAX_FIELD)
        super().__init__(f"{where}: {self.message}")

    def __reduce__(self):  # crosses the --jobs process boundary with its fields
        return (type(self), (self.where, self.message))


class ModelFormatError(VerifierError, ValueError):
    """A model file (or JSON text, or dict) that the engine refuses to load.

    ``pointer`` is an RFC 6901 JSON pointer to the offending place (``""`` is the whole document), e.g.
    ``/layers/3/weights/1``. ``expected`` and ``found`` are short human-readable descriptions when the error
    is a mismatch. ``source`` names the file (or ``<string>``/``<dict>``) when it is known. Each field is
    bounded (:mod:`verifier.quoting`): a pointer segment or a value of megabytes is cut, its size stated.
    """

    def __init__(
        self,
        pointer: str,
        message: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        source: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.pointer = shown_pointer(pointer)
        self.message = shown(message, MAX_FIELD)
        self.expected = bounded(expected)
        self.found = bounded(found)
        self.source = source
        self.rule = rule
        super().__init__(str(self))

    def with_source(self, source: str) -> ModelFormatError:
        """The same error, naming the file it came from."""
        return ModelFormatError(
            self.pointer,
            self.message,
            expected=self.expected,
            found=self.found,
            source=source,
            rule=self.rule,
        )

    def __str__(self) -> str:
        where = self.pointer or "/"
        prefix = f"{self.source}: " if self.source else ""
        text = f"{prefix}{where}: {self.message}"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return text

    def __reduce__(self):  # keep the fields when the error crosses a process boundary (--jobs)
        return (
            _rebuild_format_error,
            (self.pointer, self.message, self.expected, self.found, self.source, self.rule),
        )


def _rebuild_format_error(pointer, message, expected, found, source, rule) -> ModelFormatError:
    return ModelFormatError(pointer, message, expected=expected, found=found, source=source, rule=rule)


class ExportError(VerifierError, ValueError):
    """A torch module that RTNeural's JSON format cannot express faithfully.

    ``module`` is the module's qualified name inside the exported model (``"2"``, ``"lstm"``,
    ``"encoder.0"``) or its class name when it has none; ``reason`` says what cannot be expressed and,
    where there is one, what to do instead.
    """

    def __init__(self, module: str, reason: str) -> None:
        self.module = module
        self.reason = reason
        super().__init__(f"cannot export module {module!r}: {reason}")

    def __reduce__(self):
        return (ExportError, (self.module, self.reason))
