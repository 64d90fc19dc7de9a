"""Model results shared by the processes of one pytest session, so that pytest-xdist verifies each model once.

xdist hands the items of one model to whichever worker is free, and every item of a model needs the same
verify run. The first worker to need a model verifies it while holding an exclusive lock on the model's lock
file in the session's folder, and writes the result beside it; a worker that needs the model meanwhile waits
on that lock, then reads the result. The lock is the operating system's (``flock``, ``msvcrt.locking``): it
is released when its process ends however it ends, so a worker that crashes mid-run blocks nobody, and the
next worker finds no result and verifies the model itself. The controller reads the results for the budgets
table. Any scheduling (``--dist load``, ``loadscope``, ``worksteal``, ``each``) gets the same guarantee.

The folder is made by the controller (private to the user, ``tempfile.mkdtemp``) and removed when the session
ends; a result that cannot be read back counts as missing, so the model is verified again rather than
trusted half-written.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from verifier.checks.results import FileResult


class SharedResults:
    """The session's folder of results, one ``<key>.json`` per model guarded by ``<key>.lock``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def create(cls) -> SharedResults:
        return cls(Path(tempfile.mkdtemp(prefix="rtneural-verifier-session-")))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def get(self, key: str, verify: Callable[[], FileResult]) -> FileResult:
        """The result stored under ``key``, or ``verify()``'s, stored for the others (once per session)."""
        stem = self._stem(key)
        with _exclusive(self.folder / f"{stem}.lock"):
            found = self._read(stem)
            if found is not None:
                return found
            result = verify()
            self._write(stem, result)
            return result

    def stored(self, key: str) -> FileResult | None:
        """The result stored under ``key``, if a process of this session has verified it."""
        return self._read(self._stem(key))

    @staticmethod
    def _stem(key: str) -> str:
        # Keys are model paths: hashed, a file name of a fixed length and alphabet on every system.
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def _read(self, stem: str) -> FileResult | None:
        try:
            text = (self.folder / f"{stem}.json").read_text(encoding="utf-8")
            return FileResult.from_dict(json.loads(text))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write(self, stem: str, result: FileResult) -> None:
        try:
            # NaN and infinities survive the trip (Python's JSON writes and reads them), unlike strict JSON.
            text = json.dumps(result.to_dict())
        except (TypeError, ValueError):
            return  # a figure that is not plain data: the result stays with this worker, the others verify
        staged = self.folder / f"{stem}.json.partial"
        try:
            staged.write_text(text, encoding="utf-8")
            os.replace(staged, self.folder / f"{stem}.json")  # a reader sees the whole result or none
        except OSError:
            return  # the folder is gone or full: as above, the others verify the model themselves


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    try:
        handle = open(path, "a+b")  # noqa: SIM115 -- closed below; opening is the part that may fail
    except OSError:
        yield  # the folder is gone: nothing to share through, this worker verifies on its own
        return
    with handle:
        _lock(handle)
        try:
            yield
        finally:
            _unlock(handle)


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[bytes]) -> None:
        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                return
            except OSError as exc:
                if exc.errno != errno.EDEADLOCK:
                    raise
                # LK_LOCK gives up after 10 s; verifying a model can take longer: wait on

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
