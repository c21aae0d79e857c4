"""Atomic file writes, the one implementation every writer uses (records, report, CLI outputs,
models made on disk).

The content goes to a dot-prefixed temp file beside the target (readers of a results directory
skip dot files), is fsynced, then renamed over the target: a reader sees the old file or the whole
new one, never a half-written one, and a crash leaves at most a stray `.NAME.<hex>.tmp`.

File-system failures are user errors, not tracebacks: a full disk, a read-only directory, a
target that is a directory or lies under a file all become one `ForgetmapError` line naming the
path (the CLI exits 2), and no partial output is left. A target that is a symlink or exists and is
not a regular file (`/dev/stdout`, a FIFO, `/dev/full`) is written through, never replaced.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from forgetmap.errors import ForgetmapError


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh dot-prefixed temp name in the directory of `path` (unique per call)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")


def os_error(
    exc: OSError, path: str | os.PathLike[str], action: str = "cannot write"
) -> ForgetmapError:
    """`PATH: cannot write (No space left on device)` from an OSError (Arrow's too)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc).splitlines()[0]
    return ForgetmapError(f"{path}: {action} ({reason})")


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """`mkdir -p`, with a one-line error naming what blocks it (a file in the way, a read-only or
    full file system)."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ForgetmapError(f"{p}: cannot create directory (a file of that name exists)") from None
    except NotADirectoryError:
        blocker = next((q for q in p.parents if q.exists() and not q.is_dir()), p.parent)
        raise ForgetmapError(
            f"{p}: cannot create directory ({blocker} is not a directory)"
        ) from None
    except OSError as exc:
        raise os_error(exc, p, "cannot create directory") from None
    return p


def check_output(path: str | os.PathLike[str], *, directory: bool = False) -> Path:
    """Fail early, in one line, when `path` cannot be an output file (`directory`: an output
    directory): it is a directory (a file), or something on its way is not a directory."""
    p = Path(path)
    if directory and p.exists() and not p.is_dir():
        raise ForgetmapError(f"{p}: cannot write there (it is a file, not a directory)")
    if not directory and p.is_dir():
        raise ForgetmapError(f"{p}: is a directory; give a file name")
    blocker = next((q for q in p.parents if q.exists() and not q.is_dir()), None)
    if blocker is not None:
        raise ForgetmapError(f"{p}: cannot write there ({blocker} is not a directory)")
    return p


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, fsync: bool = True
) -> Path:
    """Call `write(tmp)` to produce the file at a temp path, then rename it to `path`.

    The parent directory is created. If `write` raises, the temp file is removed and the
    target is left as it was; an OSError (of the writer, the fsync or the rename) becomes a
    one-line ForgetmapError naming `path`. Returns `path`.
    """
    target = check_output(path)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        return _write_through(target, write)  # never rename over a device, pipe or link
    make_dirs(target.parent)
    tmp = temp_path(target)
    try:
        write(tmp)
        if not tmp.exists():
            raise FileNotFoundError(f"writer produced no file at {tmp}")
        if fsync and tmp.is_file():
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if exc.errno is None:  # not from the OS: a bug of the writer, keep it as it is
            raise
        raise os_error(exc, target) from None
    finally:
        tmp.unlink(missing_ok=True)  # gone after a successful replace
    return target


def _write_through(target: Path, write: Callable[[Path], object]) -> Path:
    """A device, pipe or link: produce the content in a private temp dir, then stream it into the
    target (errors such as ENOSPC from /dev/full surface here, where Arrow's writer would not
    report them)."""
    try:
        with tempfile.TemporaryDirectory(prefix="forgetmap-") as d:
            tmp = Path(d) / target.name
            write(tmp)
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
                dst.flush()
    except OSError as exc:
        if exc.errno is None:
            raise
        raise os_error(exc, target) from None
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", fsync: bool = True
) -> Path:
    """Write `text` to `path` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding), fsync=fsync)
