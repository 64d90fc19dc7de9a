"""One file's failure never costs the others: an exception inside a check, or a worker process that dies,
becomes an ``internal-error`` result for that file, and every other file is still checked and reported.

An ``internal-error`` is not a finding about the model: it says the verifier broke, which is why the CLI
gives it its own exit status (3) instead of "a check failed" (1).

User code (a factory, its module's ``forward()``) runs in a :class:`UserCodeProcess`: a child whose end the
parent observes. ``sys.exit``/``os._exit``/``os.abort`` in it, a crash or a hang end that child, never the
run, and the parent turns what happened into a finding. The child has no stdin (``/dev/null``), its stdout
goes to our stderr (a report on stdout stays whole), and each request has a time limit. This guards against
accidents, not against malice: the child runs as the same user as the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from verifier.checks.results import FAIL, INTERNAL_ERROR, Check, FileResult
from verifier.errors import ConfigurationError
from verifier.quoting import exception_text

if TYPE_CHECKING:
    from verifier.checks.run.manifest import Manifest
    from verifier.checks.run.options import Options

__all__ = [
    "BUG",
    "INTERNAL_ERROR",
    "Died",
    "UserCodeProcess",
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
    except ConfigurationError:  # the run's settings are unusable: the whole run's usage error, not a file's
        raise
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
                    except ConfigurationError:
                        pool.shutdown(wait=False, cancel_futures=True)
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


# ------------------------------------------------------------------------------------ user code apart


@dataclass(frozen=True)
class Died:
    """A :class:`UserCodeProcess` that ended, or was stopped, before it answered."""

    stage: str  # what it was doing, as its last stage message put it ("before returning a module")
    status: int | None  # its exit status (negative: the signal that ended it); None: stopped at the limit
    limit: float  # the time limit of the request, in seconds

    def describe(self) -> str:
        if self.status is None:
            return (
                f"did not finish within {self.limit:g} s {self.stage}: its process was stopped "
                "(--reference-timeout sets the limit)"
            )
        if self.status < 0:
            try:
                name = signal.Signals(-self.status).name
            except ValueError:
                name = f"signal {-self.status}"
            return f"ended its process by {name} {self.stage}"
        return f"ended its process with status {self.status} {self.stage}"


# The child's first line: the verifier importable from where the parent has it, whatever the working folder.
_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from verifier.checks.run.isolation import serve; serve(sys.argv[2:])"
)
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
STARTING = "while its process started"


class UserCodeProcess:
    """A child process serving requests to an object built from ``server`` (``"module:Class"``): each
    :meth:`call` runs one of its methods there and returns the answer, or :class:`Died` when the child
    ended or passed ``limit`` seconds first (then it is stopped; the next call starts a fresh child).

    ``path`` is the child's ``sys.path`` (the project root first). The child is started at the first call.
    """

    def __init__(self, server: str, path: Sequence[str], limit: float) -> None:
        self.server = server
        self.path = list(path)
        self.limit = limit
        self._process: subprocess.Popen[bytes] | None = None
        self._send: Any = None
        self._receive: Any = None

    def __enter__(self) -> UserCodeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Starts the child now (it imports its server while this process goes on), if it is not running."""
        if self._process is not None:
            return
        self._start()
        with suppress(OSError):  # it has ended already: the first call says how
            self._send.send(self.path)

    def _start(self) -> None:
        from multiprocessing.connection import Connection

        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        try:
            stdout: int = sys.__stderr__.fileno() if sys.__stderr__ is not None else subprocess.DEVNULL
        except (OSError, ValueError):
            stdout = subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CHILD_CODE,
                    _PACKAGE_PARENT,
                    self.server,
                    str(child_reads),
                    str(child_writes),
                ],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                pass_fds=(child_reads, child_writes),
                # breakpoint() in user code returns at once instead of waiting for a debugger's input
                env={**os.environ, "PYTHONBREAKPOINT": "0"},
                start_new_session=True,  # its own group: stopped with whatever it started; no terminal ^C
            )
        finally:
            os.close(child_reads)
            os.close(child_writes)
        self._send = Connection(parent_writes, readable=False)
        self._receive = Connection(parent_reads, writable=False)

    def call(self, method: str, *args: Any) -> Any:
        """``server.method(stage, *args)`` in the child: its answer, or :class:`Died`."""
        deadline = time.monotonic() + self.limit
        stage = STARTING
        try:
            self.start()
            self._send.send((method, args))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._end(stage, stopped=True)
                if not self._receive.poll(min(remaining, 60.0)):  # bounded: select() takes no huge wait
                    continue
                kind, value = self._receive.recv()
                if kind == "stage":
                    stage = value
                elif kind == "error":  # the server's own code failed: ours to fix
                    self.close()
                    raise RuntimeError(f"the process running user code failed: {value}")
                else:
                    return value
        except (EOFError, OSError):
            return self._end(stage, stopped=False)

    def _end(self, stage: str, *, stopped: bool) -> Died:
        process = self._process
        assert process is not None
        if not stopped:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # it closed its end of the pipe but lives on
                stopped = True
        if stopped:
            _kill_group(process)
        status = process.wait()
        self._forget()
        return Died(stage, None if stopped else status, self.limit)

    def close(self) -> None:
        """Ends the child: it leaves when its request pipe closes; one that does not is killed."""
        process = self._process
        if process is None:
            return
        self._forget()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()

    def _forget(self) -> None:
        for connection in (self._send, self._receive):
            if connection is not None:
                connection.close()
        self._process = self._send = self._receive = None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def serve(argv: Sequence[str]) -> None:
    """The child's loop (``argv``: the server ``"module:Class"``, then the two pipe ends): one answer per
    request, until the parent closes its end. User code that ends the process ends it here, and the parent
    sees that; an exception of the server's own is sent back as an ``error``."""
    from multiprocessing.connection import Connection

    server_name, reads, writes = argv
    receive = Connection(int(reads), writable=False)
    send = Connection(int(writes), readable=False)
    _leave_with_parent()
    sys.path[:] = receive.recv()
    module, _, name = server_name.partition(":")
    server = getattr(import_module(module), name)()

    def stage(text: str) -> None:
        send.send(("stage", text))

    while True:
        try:
            method, args = receive.recv()
        except EOFError:
            return
        try:
            answer = ("done", getattr(server, method)(stage, *args))
        except Exception:  # the handlers catch what user code raises: anything else is the server's own bug
            answer = ("error", traceback.format_exc(limit=-3))
        try:
            send.send(answer)
        except Exception:  # an answer that does not pickle
            send.send(("error", traceback.format_exc(limit=-3)))


def _leave_with_parent() -> None:
    """A child stuck in user code when its parent dies would live on: it leaves once its parent is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(70)

    threading.Thread(target=watch, name="leave-with-parent", daemon=True).start()
