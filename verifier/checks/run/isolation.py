"""One file's failure never costs the others: an exception inside a check, or a worker process that dies,
becomes an ``internal-error`` result for that file, and every other file is still checked and reported.

An ``internal-error`` is not a finding about the model: it says the verifier (or the torch code it ran for
the file) broke, which is why the CLI gives it its own exit status (3) instead of "a check failed" (1).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from verifier.checks.results import FAIL, INTERNAL_ERROR, Check, FileResult
from verifier.quoting import exception_text

if TYPE_CHECKING:
    from verifier.checks.run.manifest import Manifest
    from verifier.checks.run.options import Options

__all__ = [
    "BUG",
    "INTERNAL_ERROR",
    "check_in_processes",
    "checked",
    "guarded",
    "internal_error",
    "start_worker",
    "timing_turn",
]

BUG = "this is a bug in rtneural-verifier"
T = TypeVar("T")


def internal_error(path: str, summary: str, figures: dict[str, object] | None = None) -> FileResult:
    """The result of a file whose checks could not finish."""
    return FileResult(path, (Check(INTERNAL_ERROR, FAIL, f"{summary}; {BUG}", figures or {}),))


def checked(
    check_file: Callable[..., FileResult],
    path: str,
    options: Options,
    manifest: Manifest | None,
    *,
    measure_rss: bool = True,
) -> FileResult:
    """``check_file(path, options, manifest)`` (the run's ``verify_file``, given by the run so that this
    module needs nothing of it), with anything it raises turned into an ``internal-error`` result."""
    return guarded(path, check_file, path, options, manifest, measure_rss=measure_rss)


def guarded(path: str, step: Callable[..., T], *args: Any, **kwargs: Any) -> T | FileResult:
    """``step(*args, **kwargs)`` for the file ``path``; whatever it raises is an ``internal-error`` result
    for ``path``."""
    try:
        return step(*args, **kwargs)
    except Exception as exc:  # by contract the steps of a file never raise: whatever does is our bug
        return internal_error(
            path,
            f"checking {path} raised {exception_text(exc)}",
            {"exception": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()},
        )


# Set in each --jobs worker by start_worker (process-wide by nature: it is the worker's own lock handle).
_TIMING_LOCK: Any = None


def start_worker(timing_lock: Any, counter: Any, jobs: int) -> None:
    """A ``--jobs`` worker: its own core when there are as many cores as workers, and one lock shared by all
    workers so that at most one of them times at once.

    Latency is what one core does with a model; a second worker timing (or running torch) on the same core
    would be measured with it. Pinning keeps the other workers' validation and torch work off the timing
    core; the lock keeps two timed loops from competing for the shared cache and memory bandwidth.
    """
    global _TIMING_LOCK
    _TIMING_LOCK = timing_lock
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if cores and jobs <= len(cores):
        os.sched_setaffinity(0, {cores[slot % len(cores)]})


def timing_turn() -> Any:
    """The context in which this process may time: the workers' shared lock, or nothing when serial."""
    return _TIMING_LOCK if _TIMING_LOCK is not None else nullcontext()


def check_in_processes(
    paths: Sequence[str],
    options: Options,
    manifest: Manifest | None,
    jobs: int,
    done: Callable[[int, FileResult], None],
    *,
    check_file: Callable[..., FileResult],
    measure_rss: bool = True,
) -> None:
    """Every path through ``check_file`` (:func:`checked`) in ``jobs`` worker processes (it must be a
    module-level function, which pickles by name); ``done(index, result)`` for each.

    A worker that dies (a crash in native code, ``os._exit`` in a factory) breaks the whole pool and every
    file it was still running; those files are then run again one per fresh process, so only the file that
    kills its process is reported as an internal error.
    """
    # Imported here: a serial run needs no process pool (concurrent.futures.process is not imported by torch).
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    pending = list(range(len(paths)))
    alone = False
    while pending:
        batch = pending[:1] if alone else pending
        finished: set[int] = set()
        try:
            # spawn, not fork: a forked child inherits torch's thread pools mid-state and can deadlock.
            workers = 1 if alone else min(jobs, len(batch))
            context = get_context("spawn")
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=start_worker,
                initargs=(context.Lock(), context.Value("i", 0), workers),
            ) as pool:
                task = partial(checked, check_file, measure_rss=measure_rss)
                futures = {pool.submit(task, paths[i], options, manifest): i for i in batch}
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:  # the result could not come back (e.g. pickling)
                        result = internal_error(paths[index], exception_text(exc))
                    finished.add(index)
                    done(index, result)
        except BrokenProcessPool:
            if alone:  # the one file in this pool killed its process
                index = batch[0]
                finished.add(index)
                done(
                    index,
                    internal_error(
                        paths[index],
                        f"the process checking {paths[index]} died (a crash in native code, or code run for "
                        "the file ended the process)",
                    ),
                )
            alone = True
        pending = [i for i in pending if i not in finished]
