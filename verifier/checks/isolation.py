"""One file's failure never costs the others: an exception inside a check, or a worker process that dies,
becomes an ``internal-error`` result for that file, and every other file is still checked and reported.

An ``internal-error`` is not a finding about the model: it says the verifier (or the torch code it ran for
the file) broke, which is why the CLI gives it its own exit status (3) instead of "a check failed" (1).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import TYPE_CHECKING

from verifier.checks.results import FAIL, INTERNAL_ERROR, Check, FileResult

if TYPE_CHECKING:
    from verifier.checks.manifest import Manifest
    from verifier.checks.run import Options

__all__ = ["BUG", "INTERNAL_ERROR", "check_in_processes", "checked", "internal_error"]

BUG = "this is a bug in rtneural-verifier"


def internal_error(path: str, summary: str, figures: dict[str, object] | None = None) -> FileResult:
    """The result of a file whose checks could not finish."""
    return FileResult(path, (Check(INTERNAL_ERROR, FAIL, f"{summary}; {BUG}", figures or {}),))


def checked(path: str, options: Options, manifest: Manifest | None) -> FileResult:
    """``verify_file``, with anything it raises turned into an ``internal-error`` result for ``path``."""
    from verifier.checks.run import verify_file

    try:
        return verify_file(path, options, manifest)
    except Exception as exc:  # by contract verify_file never raises: whatever does is our bug
        return internal_error(
            path,
            f"checking {path} raised {type(exc).__name__}: {exc}",
            {"exception": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()},
        )


def check_in_processes(
    paths: Sequence[str],
    options: Options,
    manifest: Manifest | None,
    jobs: int,
    done: Callable[[int, FileResult], None],
) -> None:
    """Every path through :func:`checked` in ``jobs`` worker processes; ``done(index, result)`` for each.

    A worker that dies (a crash in native code, ``os._exit`` in a factory) breaks the whole pool and every
    file it was still running; those files are then run again one per fresh process, so only the file that
    kills its process is reported as an internal error.
    """
    pending = list(range(len(paths)))
    alone = False
    while pending:
        batch = pending[:1] if alone else pending
        finished: set[int] = set()
        try:
            # spawn, not fork: a forked child inherits torch's thread pools mid-state and can deadlock.
            workers = 1 if alone else min(jobs, len(batch))
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(checked, paths[i], options, manifest): i for i in batch}
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:  # the result could not come back (e.g. pickling)
                        result = internal_error(paths[index], f"{type(exc).__name__}: {exc}")
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
