"""The results pytest-xdist's workers share: each model verified once per session, whatever happens to the
process verifying it."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from pathlib import Path

from verifier.checks.results import PASS, Check, FileResult
from verifier.testing.shared_results import SharedResults


def _result(path: str, **figures: float) -> FileResult:
    return FileResult(path, (Check("load", PASS, "the file loads", {"bytes": 12, **figures}),), model="M")


def _must_not_verify() -> FileResult:
    raise AssertionError("verified a second time")


def test_a_key_is_verified_once_then_read_back_by_another_process_view(tmp_path):
    first = SharedResults(tmp_path).get("m.json", lambda: _result("m.json"))
    again = SharedResults(tmp_path).get("m.json", _must_not_verify)
    assert first == again == _result("m.json")
    assert SharedResults(tmp_path).stored("other.json") is None


def test_a_nonfinite_figure_survives_the_folder(tmp_path):
    SharedResults(tmp_path).get("m.json", lambda: _result("m.json", error=math.nan, ratio=math.inf))
    figures = SharedResults(tmp_path).get("m.json", _must_not_verify).checks[0].figures
    assert math.isnan(figures["error"])
    assert figures["ratio"] == math.inf


def test_a_result_that_cannot_be_read_back_is_verified_again(tmp_path):
    shared = SharedResults(tmp_path)
    shared.get("m.json", lambda: _result("m.json"))
    (stored,) = tmp_path.glob("*.json")
    stored.write_text('{"path": "m.json", "checks": [{"name"')
    assert shared.stored("m.json") is None
    assert shared.get("m.json", lambda: _result("again.json")).path == "again.json"


def test_a_missing_folder_leaves_each_process_to_verify_on_its_own(tmp_path):
    shared = SharedResults(tmp_path / "session")
    assert shared.get("m.json", lambda: _result("m.json")) == _result("m.json")
    assert shared.stored("m.json") is None


def _in_thread(shared: SharedResults, verify) -> tuple[threading.Thread, list[object]]:
    """``shared.get`` in a thread (the test itself stays free to time out): its result, or what it raised."""
    got: list[object] = []

    def run() -> None:
        try:
            got.append(shared.get("m.json", verify))
        except AssertionError as exc:
            got.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


HOLDER = """
import os, sys, time
from pathlib import Path
from verifier.checks.results import PASS, Check, FileResult
from verifier.testing.shared_results import SharedResults

folder = Path(sys.argv[1])


def verify():
    (folder / "started").touch()
    if sys.argv[2] == "die":
        os._exit(3)
    for _ in range(1200):  # until the test says go (at most a minute)
        if (folder / "go").exists():
            break
        time.sleep(0.05)
    return FileResult("from-the-holder.json", (Check("load", PASS, "the file loads", {}),))


SharedResults(folder / "shared").get("m.json", verify)
"""


def _holder(tmp_path: Path, mode: str) -> subprocess.Popen[bytes]:
    (tmp_path / "shared").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), mode])
    for _ in range(1200):
        if (tmp_path / "started").exists() or holder.poll() is not None:
            break
        threading.Event().wait(0.05)
    assert (tmp_path / "started").exists()
    return holder


def test_a_process_waits_for_the_one_verifying_and_reads_its_result(tmp_path):
    holder = _holder(tmp_path, "wait")
    thread, got = _in_thread(SharedResults(tmp_path / "shared"), _must_not_verify)
    threading.Event().wait(0.3)  # the thread reaches the lock while the holder still verifies
    (tmp_path / "go").touch()
    assert holder.wait(timeout=60) == 0
    thread.join(timeout=60)
    assert [getattr(r, "path", r) for r in got] == ["from-the-holder.json"]


def test_a_process_that_dies_holding_the_lock_blocks_no_other(tmp_path):
    holder = _holder(tmp_path, "die")
    assert holder.wait(timeout=60) == 3
    thread, got = _in_thread(SharedResults(tmp_path / "shared"), lambda: _result("m.json"))
    thread.join(timeout=60)
    assert got == [_result("m.json")]
