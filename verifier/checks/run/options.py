"""What one ``verify`` run is asked to do (:class:`Options`) and the defaults it falls back to."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMING_STEPS = 2000
DEFAULT_WARMUP = 200


@dataclass(frozen=True)
class Options:
    """What a run does; ``None`` means "the manifest's value, else the default"."""

    dtype: str | None = None
    atol: float | None = None
    rtol: float | None = None
    steps: int = 256  # time steps of the numeric comparison
    seed: int = 0
    timing: bool = True
    timing_steps: int | None = None
    warmup: int | None = None
    rss_copies: int | None = None  # 0 skips the RSS cross-check
    against: str | None = None  # "module:factory" or a saved torch module (torch.save(module, path))
    # The runtime the numeric, latency and memory checks run on: "engine" (ours) or "rtneural" (the user's
    # RTNeural build, verifier.engine.backends); validation, parameters and widths read the file either way.
    backend: str = "engine"
