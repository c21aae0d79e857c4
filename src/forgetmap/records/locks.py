"""File locks that die with their process: `flock(2)` on a small dot-file.

The kernel drops a flock when the last descriptor of its open file is closed, which includes the
death of the process by SIGKILL, so a killed writer never leaves a stale lock behind and no lock
file ever needs cleaning up. Used for

- the per-model lock (`MODEL_DIR/.lock`): writers hold it exclusively while they check stored
  keys and add or swap files; readers hold it shared while they list and read files, so they never
  see a run half swapped;
- the per-run lock (`RUN_DIR/.running.lock`): held by a live `eval` for its whole run, so anyone
  can tell a running run from a killed one (the lock is free although the manifest says running).

Locks are re-entrant per thread (a writer that reads its own model under its exclusive lock does
not deadlock); different threads and processes exclude each other. Where a lock file cannot be
created (a read-only results directory: nobody can write there either) or the file system has no
flock support, work proceeds unlocked, with a warning for the latter.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from forgetmap.errors import ForgetmapError

MODEL_LOCK = ".lock"
RUN_LOCK = ".running.lock"
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


@dataclass
class _Held:
    fd: int
    exclusive: bool
    count: int


_local = threading.local()
_warned: set[str] = set()


def _held() -> dict[str, _Held]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


def _open(path: Path) -> int | None:
    """A descriptor of the lock file (made if missing); None where it cannot exist."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except FileNotFoundError:
        return None  # its directory does not exist (yet): nothing there to protect
    except OSError as exc:
        if exc.errno not in _NOT_WRITABLE:
            raise
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _unsupported(path: Path, exc: OSError) -> None:
    fs = str(path.parent)
    if fs not in _warned:
        _warned.add(fs)
        warnings.warn(
            f"{fs}: file locks are not supported here ({exc.strerror}); concurrent writers of "
            "one model are not protected from each other",
            RuntimeWarning,
            stacklevel=4,
        )


@contextlib.contextmanager
def locked(path: Path, exclusive: bool) -> Iterator[bool]:
    """Hold the flock on `path` (blocking); yields whether a lock is actually held."""
    held = _held()
    key = str(path)
    mine = held.get(key)
    if mine is not None:
        if exclusive and not mine.exclusive:
            raise RuntimeError(f"{path}: cannot upgrade a shared lock to an exclusive one")
        mine.count += 1
        try:
            yield True
        finally:
            mine.count -= 1
        return
    fd = _open(path)
    if fd is None:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in _UNSUPPORTED:
            raise
        _unsupported(path, exc)
        yield False
        return
    held[key] = _Held(fd, exclusive, 1)
    try:
        yield True
    finally:
        del held[key]
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def locked_all(paths: list[Path], exclusive: bool = False) -> Iterator[None]:
    """Hold the locks of several paths, always taken in sorted order (no lock-order deadlock)."""
    with contextlib.ExitStack() as stack:
        for p in sorted(set(paths)):
            stack.enter_context(locked(p, exclusive))
        yield


class RunLock:
    """The lock a live run holds on its run directory until it ends (or dies)."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / RUN_LOCK
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            self.fd = -1
            if exc.errno in _UNSUPPORTED:
                _unsupported(self.path, exc)
                return
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ForgetmapError(
                    f"{run_dir}: this run is already in progress in another process"
                ) from None
            raise

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def run_is_live(run_dir: Path) -> bool | None:
    """True if a live process holds the run's lock, False if nobody does, None if unknown
    (no lock file: a run of the first release, or written by something other than `eval`)."""
    path = run_dir / RUN_LOCK
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        return None
    finally:
        os.close(fd)
    return False
