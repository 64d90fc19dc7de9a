"""What ``verifier.format.validate`` returns (:class:`Finding`) and the size limits (:class:`Limits`) that
``validate`` and ``verifier.load`` both enforce."""

from __future__ import annotations

from dataclasses import dataclass

from verifier.format.rules import Outcome, Severity, rule
from verifier.quoting import MAX_FIELD, bounded, shown, shown_pointer

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One problem found in a model file.

    ``rule`` is a stable id from :mod:`verifier.format.rules`; ``pointer`` an RFC 6901 JSON pointer to the
    place (``""`` is the whole document; a pointer to a missing key names where the key should be);
    ``rtneural`` what RTNeural would do with the file; ``expected``/``found`` short descriptions when it is a
    mismatch.
    """

    rule: str
    severity: Severity
    pointer: str
    message: str
    rtneural: Outcome
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        text = f"{self.pointer or '/'}: {self.rule} {self.severity}: {self.message}"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return f"{text} [RTNeural: {self.rtneural}]"


def finding(
    rule_id: str,
    pointer: str,
    message: str,
    *,
    expected: object = None,
    found: object = None,
    rtneural: Outcome | None = None,
) -> Finding:
    """A finding of ``rule_id``, taking severity and (unless given) the RTNeural outcome from the rule."""
    entry = rule(rule_id)
    return Finding(
        rule=rule_id,
        severity=entry.severity,
        # Values of the file are quoted cut where the message is built (verifier.quoting); the pointer
        # (which holds keys) and the fields are bounded here too, so that no finding can make a report as
        # large as the file.
        pointer=shown_pointer(pointer),
        message=shown(message, MAX_FIELD),
        rtneural=rtneural or entry.rtneural,
        expected=bounded(None if expected is None else str(expected)),
        # A found value that is not already text is the file's own (a number of 300 digits, say): cut it.
        found=None if found is None else bounded(found) if isinstance(found, str) else shown(str(found)),
    )


def severity_rank(item: Finding) -> int:
    return _SEVERITY_RANK[item.severity]


@dataclass(frozen=True)
class Limits:
    """Sizes above which a file is refused before anything proportional to a declared size is allocated.

    The defaults admit every realistic real-time audio model (RTNeural models are typically well under a
    million weights and a few hundred units wide) with a wide margin, and refuse files that would take
    minutes or gigabytes to check or load.
    """

    max_file_bytes: int = 256 * 1024 * 1024
    #: a declared width, and each convolution size key (kernel sizes, dilation, strides, filters, groups)
    max_layer_width: int = 65_536
    #: weights the declared sizes imply, summed over the layers
    max_total_parameters: int = 50_000_000
    #: values held besides the weights, summed over the layers: each output, recurrent state, and a
    #: convolution's history ((kernel_size - 1) x dilation + 1 past inputs of the frame width); 2^20 values
    #: is 4 MiB of float32, over 700x what the largest corpus or production model declares (1,408)
    max_state_values: int = 1 << 20
    #: JSON nesting (legitimate keras-json nests 9 levels: conv2d kernels)
    max_depth: int = 64


def pointer_join(base: str, *parts: object) -> str:
    """``base`` extended by ``parts``, each escaped per RFC 6901."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return base + "".join("/" + p for p in escaped)
