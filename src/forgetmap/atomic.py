"""Atomic file writes, the one implementation every writer uses (records, report, CLI outputs,
models made on disk).

The content goes to a dot-prefixed temp file beside the target (readers of a results directory
skip dot files), is fsynced, then renamed over the target: a reader sees the old file or the whole
new one, never a half-written one, and a crash leaves at most a stray `.NAME.<hex>.tmp`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh dot-prefixed temp name in the directory of `path` (unique per call)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, fsync: bool = True
) -> Path:
    """Call `write(tmp)` to produce the file at a temp path, then rename it to `path`.

    The parent directory is created. If `write` raises, the temp file is removed and the
    target is left as it was. Returns `path`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        write(tmp)
        if not tmp.exists():
            raise FileNotFoundError(f"writer produced no file at {tmp}")
        if fsync and tmp.is_file():
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # gone after a successful replace
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", fsync: bool = True
) -> Path:
    """Write `text` to `path` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding), fsync=fsync)
