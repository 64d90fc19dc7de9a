"""The data every check returns and every report formats.

A check is a value (``Check``): a stable name, a status, one line a human reads, and the figures behind it.
Checks never print; ``verifier.report.formats`` turns these values into text, JSON, Markdown or JUnit, and
``verifier.report.baseline`` compares two runs through the same JSON shape (``RunResult.to_dict``), so what is
written to a report file is exactly what a later run compares against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"
WARN = "warn"
SKIP = "skip"
STATUSES = (PASS, FAIL, WARN, SKIP)
# The check a file gets when its checks could not finish (verifier.checks.run.isolation): the verifier broke,
# the
# model was not judged.
INTERNAL_ERROR = "internal-error"


@dataclass(frozen=True)
class Check:
    """One verdict about one file (or about the whole run).

    ``name`` is stable (``parameters``, ``latency``...) so that reports, baselines and CI history can key on
    it; ``figures`` holds JSON-representable numbers and short strings (the measured values, the budget, the
    margin); ``summary`` is the one line a reviewer reads, and for a failure it says by how much.
    """

    name: str
    status: str
    summary: str
    figures: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status must be one of {STATUSES}, got {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "figures": dict(self.figures),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(data["name"], data["status"], data["summary"], dict(data.get("figures", {})))


@dataclass(frozen=True)
class FileResult:
    """Every check run on one model file, in the order they ran."""

    path: str
    checks: tuple[Check, ...]
    model: str | None = None  # the manifest's name for it, when a manifest covers the file
    # What the numeric checks compared the engine with: {"kind": "module" | "checkpoint" | "json-rebuild" |
    # "embedded", "summary": one line, ...details} (verifier.checks.run.reference.describe_reference).
    reference: Mapping[str, Any] | None = None
    # Set when the result is an earlier run's, served by verifier.checks.run.cache: {"key": the digest it
    # was stored under, "measured_at": when that run measured it (its latency and memory figures too)}.
    cached: Mapping[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return any(check.failed for check in self.checks)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "model": self.model,
            "status": FAIL if self.failed else PASS,
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.reference is not None:
            data["reference"] = dict(self.reference)
        if self.cached is not None:
            data["cached"] = dict(self.cached)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileResult:
        return cls(
            data["path"],
            tuple(Check.from_dict(c) for c in data["checks"]),
            data.get("model"),
            data.get("reference"),
            data.get("cached"),
        )


@dataclass(frozen=True)
class RunResult:
    """One ``verify`` run: the files, the checks about all of them together, and where it ran."""

    files: tuple[FileResult, ...]
    suite: tuple[Check, ...] = ()  # checks over the whole run (the memory total of the manifest's models)
    tool: Mapping[str, Any] = field(default_factory=dict)  # name, version, backend
    machine: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)  # dtype, tolerances, steps, seed, manifest...

    @property
    def failed(self) -> bool:
        return any(f.failed for f in self.files) or any(c.failed for c in self.suite)

    @property
    def internal_errors(self) -> list[FileResult]:
        """The files whose checks could not finish (``verify`` exits 3 when there is one)."""
        return [f for f in self.files if f.check(INTERNAL_ERROR) is not None]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for check in self.all_checks():
            counts[check.status] += 1
        return counts

    def all_checks(self) -> list[Check]:
        return [c for f in self.files for c in f.checks] + list(self.suite)

    def to_dict(self) -> dict[str, Any]:
        return {
            "$schema": "https://rtneural-verifier.dev/schemas/report.schema.json",
            "report_version": 1,
            "tool": dict(self.tool),
            "machine": dict(self.machine),
            "settings": dict(self.settings),
            "status": FAIL if self.failed else PASS,
            "counts": self.counts(),
            "files": [f.to_dict() for f in self.files],
            "suite": [c.to_dict() for c in self.suite],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        return cls(
            files=tuple(FileResult.from_dict(f) for f in data["files"]),
            suite=tuple(Check.from_dict(c) for c in data.get("suite", [])),
            tool=dict(data.get("tool", {})),
            machine=dict(data.get("machine", {})),
            settings=dict(data.get("settings", {})),
        )
