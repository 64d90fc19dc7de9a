"""How ``verify --jobs N`` schedules timing: each worker on its own core, one timed loop at a time."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Manager, get_context

import pytest

from verifier.checks.run import isolation


def _affinity_and_lock_after(barrier) -> tuple[frozenset[int], bool]:
    barrier.wait(timeout=60)  # both workers hold one task each: the two answers come from two workers
    return frozenset(os.sched_getaffinity(0)), isolation._TIMING_LOCK is not None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")
def test_two_workers_time_on_two_different_cores_when_there_are_two():
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("one core: nothing to separate")
    context = get_context("spawn")
    with (
        Manager() as manager,
        ProcessPoolExecutor(
            max_workers=2,
            mp_context=context,
            initializer=isolation.start_worker,
            initargs=(context.Lock(), context.Value("i", 0), 2),
        ) as pool,
    ):
        barrier = manager.Barrier(2)
        futures = [pool.submit(_affinity_and_lock_after, barrier) for _ in range(2)]
        answers = [future.result(timeout=120) for future in futures]
    affinities = [affinity for affinity, _ in answers]
    assert all(len(affinity) == 1 for affinity in affinities)
    assert affinities[0] != affinities[1]
    assert all(has_lock for _, has_lock in answers)


def test_a_serial_run_times_without_a_lock():
    assert isolation._TIMING_LOCK is None
    with isolation.timing_turn():
        pass


# --- the RSS cross-check: one fresh process for every file of a run, after the files are checked ---------


def _small_exports(tmp_path, count: int) -> list[str]:
    import torch
    from torch import nn

    from verifier.pytorch.export import export

    paths = []
    for i in range(count):
        torch.manual_seed(i)
        path = tmp_path / f"small{i}.json"
        export(nn.Sequential(nn.Linear(4, 16 * (i + 1)), nn.Tanh(), nn.Linear(16 * (i + 1), 2)), path)
        paths.append(str(path))
    return paths


def _recording_rss(monkeypatch, answer=None) -> list[list[str]]:
    from verifier.checks.run import verify as run

    calls: list[list[str]] = []
    real = run.measure_rss_of_files

    def recorded(paths, *args, **kwargs):
        calls.append(list(paths))
        return real(paths, *args, **kwargs) if answer is None else answer(paths)

    monkeypatch.setattr(run, "measure_rss_of_files", recorded)
    return calls


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_measures_every_files_rss_in_one_process(tmp_path, monkeypatch, jobs):
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_files

    paths = _small_exports(tmp_path, 3)
    calls = _recording_rss(monkeypatch)
    result = verify_files(paths, Options(timing=False, rss_copies=3, steps=8), jobs=jobs)
    assert calls == [paths]  # one process for the three files (a --jobs worker measures nothing itself)
    for f in result.files:
        memory = f.check("memory")
        assert memory is not None
        assert memory.status == "pass", memory
        assert memory.figures["rss"]["copies"] == 3
        assert "RSS grows" in memory.summary


def test_a_file_checked_alone_still_gets_its_rss_cross_check(tmp_path):
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_file

    (path,) = _small_exports(tmp_path, 1)
    memory = verify_file(path, Options(timing=False, rss_copies=2, steps=8)).check("memory")
    assert memory is not None
    assert memory.figures["rss"]["copies"] == 2


def test_a_file_whose_rss_cannot_be_measured_is_an_internal_error_and_the_others_keep_theirs(
    tmp_path, monkeypatch
):
    from verifier.checks.budgets import RssMeasurement
    from verifier.checks.results import INTERNAL_ERROR
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_files

    paths = _small_exports(tmp_path, 2)
    broken = RuntimeError("the RSS cross-check process failed on small0.json: MemoryError:")
    _recording_rss(monkeypatch, lambda given: [broken, RssMeasurement(2, 0, 2 * 8192)])
    result = verify_files(paths, Options(timing=False, rss_copies=2, steps=8))
    assert [f.path for f in result.internal_errors] == [paths[0]]
    assert "MemoryError" in result.files[0].checks[0].summary
    assert result.files[0].check(INTERNAL_ERROR) is not None
    assert result.files[1].check("memory").figures["rss"]["per_copy"] == 8192


def test_a_run_without_rss_copies_starts_no_rss_process(tmp_path, monkeypatch):
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_files

    paths = _small_exports(tmp_path, 2)
    calls = _recording_rss(monkeypatch)
    result = verify_files(paths, Options(timing=False, rss_copies=0, steps=8))
    assert calls == []
    assert all(f.check("memory").figures["rss"] is None for f in result.files)


# --- order of a serial run: what needs no torch first, for the files compared with a torch module ---------


def _recording_steps(monkeypatch) -> list[tuple[str, str]]:
    from verifier.checks.run import verify as run

    steps: list[tuple[str, str]] = []
    prepare, finish = run.prepare_file, run.finish_file

    def recorded_prepare(path, *args, **kwargs):
        steps.append(("prepare", os.path.basename(path)))
        return prepare(path, *args, **kwargs)

    def recorded_finish(prepared, *args, **kwargs):
        steps.append(("finish", os.path.basename(prepared.path)))
        return finish(prepared, *args, **kwargs)

    monkeypatch.setattr(run, "prepare_file", recorded_prepare)
    monkeypatch.setattr(run, "finish_file", recorded_finish)
    return steps


def test_files_compared_with_a_torch_module_are_all_validated_and_loaded_before_any_is_run(
    tmp_path, monkeypatch
):
    import torch
    from torch import nn

    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_files
    from verifier.pytorch.export import export

    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    checkpoint = tmp_path / "module.pt"
    torch.save(module, checkpoint)
    paths = []
    for name in ("a.json", "b.json"):
        export(module, tmp_path / name)
        paths.append(str(tmp_path / name))
    steps = _recording_steps(monkeypatch)
    result = verify_files(paths, Options(timing=False, rss_copies=0, steps=8, against=str(checkpoint)))
    assert steps == [("prepare", "a.json"), ("prepare", "b.json"), ("finish", "a.json"), ("finish", "b.json")]
    assert [f.check("numeric-frame").status for f in result.files] == ["pass", "pass"]


def test_files_checked_against_their_own_json_are_prepared_in_turn(tmp_path, monkeypatch):
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_files

    paths = _small_exports(tmp_path, 2)
    steps = _recording_steps(monkeypatch)
    verify_files(paths, Options(timing=False, rss_copies=0, steps=8))
    assert steps == [
        ("prepare", "small0.json"),
        ("finish", "small0.json"),
        ("prepare", "small1.json"),
        ("finish", "small1.json"),
    ]


def test_a_step_before_torch_that_raises_is_an_internal_error_of_that_file_only(tmp_path, monkeypatch):
    from verifier.checks.run import verify as run
    from verifier.checks.run.options import Options
    from verifier.checks.run.verify import verify_files

    paths = _small_exports(tmp_path, 2)
    real = run.prepare_file

    def prepare_raising_on_the_first(path, *args, **kwargs):
        if path == paths[0]:
            raise RuntimeError("simulated bug before torch")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(run, "prepare_file", prepare_raising_on_the_first)
    result = verify_files(paths, Options(timing=False, rss_copies=0, steps=8, against=None))
    assert [f.path for f in result.internal_errors] == [paths[0]]
    assert "simulated bug before torch" in result.files[0].checks[0].summary
    assert not result.files[1].failed
