"""Readers for the raw file formats of the offline benchmark copies, and the Hub call.

Every reader returns rows together with a location string ("FILE:LINE" or "FILE row N") so that
adapters can name the exact place of a malformed row. Missing files raise DataError naming the
path; a file that cannot be parsed at all raises DataError naming the file (and line).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from forgetmap.errors import DataError, ForgetmapError

Row = tuple[str, dict[str, Any]]  # (location, record)


def require(path: Path, task: str, what: str = "file") -> Path:
    """`path` if it exists; else a DataError naming the task and the missing path."""
    if not path.exists():
        raise DataError(f"{task}: benchmark {what} not found: {path}")
    return path


def read_arrow_dir(path: Path, task: str) -> pa.Table:
    """A `datasets.save_to_disk` split dir (Arrow IPC stream files), read with pyarrow only."""
    require(path, task, "directory")
    files: list[Path] = []
    state = path / "state.json"
    if state.exists():
        try:
            meta = json.loads(state.read_text(encoding="utf-8"))
            files = [path / f["filename"] for f in meta.get("_data_files", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{task}: malformed {state}: {exc}") from exc
    if not files:
        files = sorted(path.glob("data-*.arrow"))
    if not files:
        raise DataError(f"{task}: no data-*.arrow file in {path}")
    tables = []
    for f in files:
        require(f, task)
        try:
            with pa.memory_map(str(f)) as src:
                tables.append(ipc.open_stream(src).read_all())
        except pa.ArrowInvalid as exc:
            raise DataError(f"{task}: cannot read Arrow stream {f}: {exc}") from exc
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return table.replace_schema_metadata(None)


def read_json(path: Path, task: str) -> Any:
    """A whole JSON document."""
    require(path, task)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{task}: malformed JSON in {path}:{exc.lineno}: {exc.msg}") from exc


def iter_jsonl(
    path: Path,
    task: str,
    bad: list[tuple[str, str]],
    keep: Callable[[str], bool] | None = None,
) -> Iterator[Row]:
    """JSON lines (plain or .gz); unparsable lines go to `bad` as (location, reason).

    `keep(raw_line)`, when given, drops lines before they are parsed (large request files).
    """
    require(path, task)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or (keep is not None and not keep(line)):
                continue
            loc = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                bad.append((loc, f"not valid JSON ({exc.msg})"))
                continue
            if not isinstance(rec, dict):
                bad.append((loc, "line is not a JSON object"))
                continue
            yield loc, rec


def read_csv(path: Path, task: str, required: tuple[str, ...] = ()) -> list[Row]:
    """CSV rows as dicts; the location is the line where the (possibly multi-line) row starts."""
    require(path, task)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{task}: {path}: missing column(s) {', '.join(missing)}")
        start = reader.line_num + 1
        for rec in reader:
            rows.append((f"{path}:{start}", rec))
            start = reader.line_num + 1
    return rows


def read_tsv_lines(path: Path, task: str) -> list[tuple[str, list[str]]]:
    """Tab-separated lines (no quoting), with their "FILE:LINE" locations."""
    require(path, task)
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n").rstrip("\r")
            if line:
                out.append((f"{path}:{lineno}", line.split("\t")))
    return out


def hub_rows(
    task: str,
    hub_id: str | None,
    config: str | None,
    split: str | None,
    revision: str | None,
) -> list[Row]:
    """Rows of a Hub dataset via `datasets.load_dataset` (imported lazily; trust_remote_code off)."""
    if not hub_id:
        raise DataError(f"{task}: no Hugging Face Hub id in the registry")
    try:
        import datasets  # noqa: PLC0415 - optional, heavy
    except ImportError as exc:
        raise ForgetmapError(
            f"{task}: loading from the Hub needs the `datasets` package "
            "(pip install 'forgetmap[hub]'), or give a local --data-dir"
        ) from exc
    try:
        ds = datasets.load_dataset(hub_id, config, split=split, revision=revision)
    except Exception as exc:  # network, auth (gated GPQA), missing config: one clear line
        raise DataError(
            f"{task}: could not load {hub_id} (config={config}, split={split}, "
            f"revision={revision}) from the Hub: {exc}"
        ) from exc
    where = f"hub:{hub_id}/{config or 'default'}/{split}@{revision}"
    return [(f"{where} row {i}", dict(rec)) for i, rec in enumerate(ds)]
