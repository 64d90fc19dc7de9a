"""The machine a report names: the figures a latency or memory number means nothing without."""

from __future__ import annotations

import os

import psutil

from verifier.report.machine import machine_info, physical_cores


def test_physical_cores_agree_with_psutil():
    assert physical_cores() == psutil.cpu_count(logical=False)


def test_machine_info_names_the_cores_and_the_python():
    info = machine_info()
    assert info["cores_logical"] == os.cpu_count()
    assert 1 <= info["cores_physical"] <= info["cores_logical"]
    assert info["python"].count(".") == 2
