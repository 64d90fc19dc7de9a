"""What one ``verify`` run is asked to do (:class:`Options`) and the defaults it falls back to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for its type only: the CLI reads Options before numpy is wanted
    from verifier.checks.budgets import PluginLatency

DEFAULT_TIMING_STEPS = 2000
DEFAULT_WARMUP = 200
# Seconds a file's reference module may take (its factory imported and called, its forward() run, and for
# the first file the child process started with torch imported) before its process is stopped and the file
# fails: far above the production models' ~2 s, short enough that a hang does not hold a CI job for hours.
DEFAULT_REFERENCE_TIMEOUT = 300.0


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
    reference_timeout: float = DEFAULT_REFERENCE_TIMEOUT  # seconds (verifier.checks.run.reference)
    # The long-streams check (verifier.checks.longstreams): seconds of audio per case; 0 leaves it out.
    long_streams: float = 0.0
    # The plugin's own build timed by the C++ golden checker (--plugin-latency; plugin_latency.py): the
    # latency check judges a file's figures from here instead of the engine's when one names the file.
    plugin_latency: tuple[PluginLatency, ...] = ()
