"""Where benchmark data comes from: the local data dir of official files, or the Hub.

The data dir is `--data-dir` (passed here as `explicit`) or `FORGETMAP_DATA_DIR`; its layout is
that of the offline copies described in their README (one folder per benchmark). The source of a
task's items is `local` (default), `hub` (datasets.load_dataset at the registry's revision) or
`auto` (local when the files are there, else the Hub), from `FORGETMAP_SOURCE` or the caller.
"""

from __future__ import annotations

import os
from pathlib import Path

from forgetmap.errors import DataError

ENV_DATA_DIR = "FORGETMAP_DATA_DIR"
ENV_SOURCE = "FORGETMAP_SOURCE"
SOURCES = ("local", "hub", "auto")

__all__ = ["ENV_DATA_DIR", "ENV_SOURCE", "SOURCES", "data_dir", "default_source"]


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data dir: `explicit` (--data-dir), else $FORGETMAP_DATA_DIR.

    Raises DataError when neither is set or the directory does not exist, saying which one.
    """
    if explicit is not None and str(explicit) != "":
        origin, raw = "--data-dir", str(explicit)
    elif os.environ.get(ENV_DATA_DIR):
        origin, raw = ENV_DATA_DIR, os.environ[ENV_DATA_DIR]
    else:
        raise DataError(
            "no benchmark data dir: pass --data-dir DIR or set FORGETMAP_DATA_DIR to the folder "
            "of official benchmark files (or use FORGETMAP_SOURCE=hub to load from the "
            "Hugging Face Hub)"
        )
    path = Path(raw).expanduser()
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataError(f"benchmark data dir {path} (from {origin}) {what}")
    return path.resolve()


def default_source(explicit: str | None = None) -> str:
    """`explicit`, else $FORGETMAP_SOURCE, else `local`; validated."""
    src = explicit or os.environ.get(ENV_SOURCE) or "local"
    if src not in SOURCES:
        raise DataError(f"unknown data source {src!r} (use one of {', '.join(SOURCES)})")
    return src
