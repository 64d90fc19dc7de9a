"""How ``verify --jobs N`` schedules timing: each worker on its own core, one timed loop at a time."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Manager, get_context

import pytest

from verifier.checks import isolation


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
