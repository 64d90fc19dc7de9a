"""Where a run happened: the figures a latency or memory number means nothing without."""

from __future__ import annotations

import glob
import os
import platform
import sys
from typing import Any


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def physical_cores() -> int | None:
    """Cores, hyperthreads not counted: the distinct sibling lists Linux gives per CPU (what psutil reads),
    else psutil's answer (importing psutil costs as much as the rest of a report)."""
    lists = glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology/core_cpus_list") or glob.glob(
        "/sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list"
    )
    try:
        siblings = set()
        for name in lists:
            with open(name, encoding="ascii") as handle:
                siblings.add(handle.read().strip())
    except OSError:
        siblings = set()
    if siblings:
        return len(siblings)
    import psutil

    count = psutil.cpu_count(logical=False)
    return None if count is None else int(count)


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": physical_cores(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
