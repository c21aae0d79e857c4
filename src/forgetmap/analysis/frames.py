"""Columnar, integer-keyed views of each model's records, for fast pairing.

Every model's rows are read once (Parquet string columns read as dictionaries, never materialised
as Python objects), string columns are mapped to codes of one global vocabulary, and rows get an
int64 key ``(task_code * n_item_ids + item_code) * n_seeds + seed_code``. Sorting each model by key
makes pairing of two models a `searchsorted`, duplicate keys adjacent, and the rows of one item
contiguous - so all later work is numpy on integer arrays.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from forgetmap.errors import ForgetmapError, SchemaError
from forgetmap.records import (
    RECORD_SCHEMA,
    REQUIRED_COLUMNS,
    ResultsStore,
    check_unique_keys,
    conform,
)
from forgetmap.records.identity import hash_strings, options_text
from forgetmap.records.names import belongs_in

# Columns compare needs (optional ones may be absent from foreign files: they read as NULL).
ANALYSIS_COLUMNS: tuple[str, ...] = (
    "model",
    "task",
    "item_id",
    "seed",
    "correct",
    "n_choices",
    "extract_status",
    "prompt_hash",
    "category",
)
_DICT_COLS = ("model", "task", "item_id", "extract_status", "prompt_hash", "category")
# What makes two paired rows the same item, compared between the two sides of a pair: the gold
# letter and fingerprints of the option texts and of the question (records.identity). Null where
# a log does not have it (then not compared).
IDENTITY_COLUMNS: tuple[str, ...] = ("gold", "options", "question")


@dataclass
class Vocab:
    """Global code -> value tables shared by all frames of one comparison."""

    tasks: list[str]
    item_ids: pa.Array
    seeds: np.ndarray
    ks: np.ndarray  # distinct option counts, 0 = none
    hashes: pa.Array
    categories: list[str]

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)


class RowSource:
    """Where a model's records came from, to fetch more columns for chosen rows later.

    Row numbers count the model's rows as read: file after file (a store), or the rows of the
    model in the given table. Only the files holding a wanted row are read, one at a time, so
    long responses of rows nobody asked for never sit in memory together.
    """

    def __init__(
        self,
        files: Sequence[Path] = (),
        sizes: Sequence[int] = (),
        table: pa.Table | None = None,
        table_rows: np.ndarray | None = None,
        file_rows: Sequence[np.ndarray | None] = (),
    ):
        self.files = list(files)
        self.offsets = np.cumsum([0, *sizes]).astype(np.int64)
        # per file, the row numbers kept when a file also held other models (old shared dirs)
        self.file_rows = list(file_rows) or [None] * len(self.files)
        self.table = table
        self.table_rows = table_rows

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """`columns` (RECORD_SCHEMA names and types; null where a file lacks one) of `rows`,
        in the order given."""
        rows = np.asarray(rows, np.int64)
        schema = pa.schema([RECORD_SCHEMA.field(c) for c in columns])
        if self.table is not None and self.table_rows is not None:
            return self.table.select(list(columns)).take(pa.array(self.table_rows[rows]))
        if rows.size == 0:
            return schema.empty_table()
        file_of = np.searchsorted(self.offsets, rows, side="right") - 1
        parts, where = [], []
        for f in np.unique(file_of).tolist():
            sel = np.flatnonzero(file_of == f)
            local = rows[sel] - self.offsets[f]
            if self.file_rows[f] is not None:
                local = self.file_rows[f][local]
            try:
                parts.append(_read_columns(self.files[f], schema).take(pa.array(local)))
            except FileNotFoundError:
                raise ForgetmapError(
                    f"{self.files[f]}: removed while being compared (a concurrent "
                    "`import --force` or `--on-duplicate replace`); run again"
                ) from None
            where.append(sel)
        out = pa.concat_tables(parts)
        return out.take(pa.array(np.argsort(np.concatenate(where), kind="stable")))


def _read_columns(path: Path, schema: pa.Schema) -> pa.Table:
    have = set(pq.read_schema(path).names)
    t = pq.read_table(path, columns=[c for c in schema.names if c in have])
    cols = []
    for fld in schema:
        if fld.name not in have:
            cols.append(pa.nulls(t.num_rows, fld.type))
            continue
        col = t.column(fld.name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        cols.append(col if col.type == fld.type else pc.cast(col, fld.type))
    return pa.Table.from_arrays(cols, schema=schema)


@dataclass
class ModelFrame:
    """One model's records as sorted integer arrays (see module docstring)."""

    model: str
    key: np.ndarray  # int64, sorted
    correct: np.ndarray  # bool
    k_code: np.ndarray  # index into Vocab.ks
    no_answer: np.ndarray  # bool: extract_status == 'no_answer'
    hash_code: np.ndarray  # int64, -1 = null
    # IDENTITY_COLUMNS -> global code per sorted row, and "k" (n_choices as recorded); -1 = null
    identity: dict[str, np.ndarray]
    cat_by_task: np.ndarray  # per task code: category code of its rows, -1 = none
    rows_by_task: np.ndarray  # per task code: number of rows
    row: np.ndarray  # per sorted position: the row number in `source`
    source: RowSource

    def take(self, positions: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """`columns` of the rows at sorted `positions` (e.g. paired or flipped ones)."""
        return self.source.take(self.row[positions], columns)


def _read_model_tables(
    store: ResultsStore, models: Sequence[str]
) -> dict[str, tuple[pa.Table, RowSource]]:
    store._check_models(models)  # unknown model -> error listing the known ones

    def read(m: str) -> tuple[pa.Table, RowSource]:
        files = store.files([m])
        if not files:
            raise ForgetmapError(f"no records for model {m!r} in {store.root}")
        check_files(files)
        parts = [_read_file(f) for f in files]
        kept: list[np.ndarray | None] = [None] * len(parts)
        for i, (f, t) in enumerate(zip(files, parts, strict=True)):
            names = set(
                pc.unique(t.column("model").combine_chunks().dictionary_decode()).to_pylist()
            )
            if names - {m}:
                if any(not belongs_in(n, f.parent.parent.name) for n in names):
                    raise ForgetmapError(
                        f"{f}: holds records of {', '.join(sorted(names - {m}))}, not of {m!r} "
                        "(files under a model's directory must be that model's records)"
                    )
                # a first-release directory that several names shared: this name's rows only
                mine = pc.equal(t.column("model").combine_chunks().dictionary_decode(), m)
                kept[i] = np.flatnonzero(mine.to_numpy(zero_copy_only=False))
                parts[i] = t.take(pa.array(kept[i]))
        return _concat(parts), RowSource(files, [t.num_rows for t in parts], file_rows=kept)

    # Parquet decoding releases the GIL: one model per thread
    with store.reading(models):  # no run swapped away between listing and reading
        return dict(zip(models, parallel_map(read, models), strict=True))


def read_lock(source: ResultsStore | pa.Table, models: Sequence[str]) -> Any:
    """The store's read lock on `models` (a no-op for a table): held over an analysis that reads
    files again later (RowSource.take), so a concurrent swap cannot pull them away."""
    if isinstance(source, ResultsStore):
        return source.reading(list(models))
    return contextlib.nullcontext()


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """`[fn(x) for x in items]` on a thread pool (for numpy/Arrow work that releases the GIL);
    the first exception raised by `fn` propagates unchanged."""
    workers = min(len(items), os.cpu_count() or 1, 32)
    if workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fn, items))


def _read_file(f: Path) -> pa.Table:
    names = pq.read_schema(f).names
    cols = [c for c in ANALYSIS_COLUMNS if c in names]
    # the item's fingerprints; the texts only for files written before those were stored
    extra = [c for c in ("gold", "question_hash", "options_hash") if c in names]
    extra += [
        src for h, src in (("question_hash", "question"), ("options_hash", "choices"))
        if h not in names and src in names
    ]  # fmt: skip
    dict_cols = (*_DICT_COLS, "gold", "question_hash", "options_hash", "question")
    try:
        t = pq.read_table(
            f, columns=cols + extra, read_dictionary=[c for c in dict_cols if c in cols + extra]
        )
    except Exception as exc:  # noqa: BLE001 - corrupt data pages etc.
        raise ForgetmapError(f"{f}: not a readable Parquet records file ({exc})") from None
    ident = _identity_columns(t)
    n = t.num_rows
    for c in ("model", "task", "item_id", "seed", "correct"):
        if t.column(c).null_count:
            raise SchemaError(f"{f}: column '{c}' has {t.column(c).null_count} empty value(s)")
    for c in ANALYSIS_COLUMNS:
        if c not in cols:
            typ = RECORD_SCHEMA.field(c).type
            if c in _DICT_COLS:
                typ = pa.dictionary(pa.int32(), typ)
            t = t.append_column(c, pa.nulls(n, typ))
    t = t.select(list(ANALYSIS_COLUMNS))
    for name, col in ident.items():
        t = t.append_column(name, col)
    for c in ("correct", "seed", "n_choices"):
        want = RECORD_SCHEMA.field(c).type
        if t.column(c).type != want:
            t = t.set_column(t.schema.get_field_index(c), c, pc.cast(t.column(c), want))
    for c in _DICT_COLS:
        col = t.column(c)
        if not pa.types.is_dictionary(col.type):
            col = pc.dictionary_encode(col)
        if col.type.index_type != pa.int32() or col.type.value_type != pa.string():
            col = col.cast(pa.dictionary(pa.int32(), pa.string()))
        t = t.set_column(t.schema.get_field_index(c), c, col)
    return t


def _identity_columns(t: pa.Table) -> dict[str, pa.ChunkedArray]:
    """IDENTITY_COLUMNS of `t` as dictionary<int32, string> columns (all null where absent):
    the gold letter and the question / option-text fingerprints (records.identity), computed
    from the texts for files written before the fingerprints were stored."""
    typ = pa.dictionary(pa.int32(), pa.string())
    sources = {
        "gold": lambda: t.column("gold") if "gold" in t.column_names else None,
        "question": lambda: (
            t.column("question_hash") if "question_hash" in t.column_names
            else hash_strings(t.column("question")) if "question" in t.column_names
            else None
        ),
        "options": lambda: (
            t.column("options_hash") if "options_hash" in t.column_names
            else hash_strings(options_text(t.column("choices"))) if "choices" in t.column_names
            else None
        ),
    }  # fmt: skip
    out = {}
    for name in IDENTITY_COLUMNS:
        col = sources[name]()
        if col is None or pa.types.is_null(col.type):
            out[name] = pa.chunked_array([pa.nulls(t.num_rows, typ)], typ)
            continue
        if isinstance(col, pa.Array):
            col = pa.chunked_array([col])
        if pa.types.is_dictionary(col.type):
            col = col.cast(typ)
        else:
            col = pc.dictionary_encode(col.cast(pa.string())).cast(typ)
        out[name] = col
    return out


def _concat(parts: list[pa.Table]) -> pa.Table:
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    return t.unify_dictionaries()


def _split_table(table: pa.Table, models: Sequence[str]) -> dict[str, tuple[pa.Table, RowSource]]:
    if table.schema != RECORD_SCHEMA:
        table = conform(table, source="<table>")
    full = table
    table = table.select(list(ANALYSIS_COLUMNS))
    present = set(pc.unique(table.column("model")).to_pylist())
    missing = [m for m in models if m not in present]
    if missing:
        raise ForgetmapError(
            f"model(s) {', '.join(map(repr, missing))} not found in the records; "
            f"known models: {', '.join(sorted(present)) or 'none'}"
        )
    out = {}
    for m in models:
        mask = pc.equal(table.column("model"), m)
        rows = np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False), bool))
        part = _read_file_like(table.filter(mask))
        for name, col in _identity_columns(full.filter(mask)).items():
            part = part.append_column(name, col)
        out[m] = (part.unify_dictionaries(), RowSource(table=full, table_rows=rows))
    return out


def _read_file_like(t: pa.Table) -> pa.Table:
    for c in _DICT_COLS:
        col = pc.dictionary_encode(t.column(c)).cast(pa.dictionary(pa.int32(), pa.string()))
        t = t.set_column(t.schema.get_field_index(c), c, col)
    return t.unify_dictionaries()


def _dict_and_indices(col: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The (unified) dictionary of a dictionary column and its indices, -1 for null."""
    if col.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, np.int64)
    dictionary = col.chunk(0).dictionary
    idx = [
        np.asarray(pc.fill_null(ch.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        for ch in col.chunks
    ]
    return dictionary, np.concatenate(idx) if idx else np.zeros(0, np.int64)


def _to_global(local_dict: pa.Array, idx: np.ndarray, global_values: pa.Array) -> np.ndarray:
    """Map local dictionary indices to codes in `global_values` (-1 stays -1)."""
    if len(local_dict) == 0:
        return np.full(idx.size, -1, np.int64)
    lut = np.asarray(
        pc.fill_null(pc.index_in(local_dict, value_set=global_values), -1).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.int64,
    )
    lut = np.append(lut, -1)  # idx -1 -> -1
    return lut[idx]


def _unique_values(dicts: list[pa.Array]) -> pa.Array:
    if not dicts:
        return pa.array([], pa.string())
    vals = pc.unique(pa.chunked_array(dicts, pa.string()))
    vals = pc.drop_null(vals)
    return pc.take(vals, pc.sort_indices(vals))


def build_frames(
    source: ResultsStore | pa.Table, models: Sequence[str]
) -> tuple[dict[str, ModelFrame], Vocab]:
    """Read `models` from a store or table and return their sorted integer frames + vocabulary."""
    models = list(dict.fromkeys(models))
    if isinstance(source, ResultsStore):
        read = _read_model_tables(source, models)
        where = {m: f"{source.model_dir(m)} (records of {m!r})" for m in models}
    elif isinstance(source, pa.Table):
        read = _split_table(source, models)
        where = {m: f"records of {m!r}" for m in models}
    else:
        raise TypeError(f"expected a ResultsStore or a pyarrow Table, got {type(source).__name__}")
    tables = {m: t for m, (t, _) in read.items()}

    cols = ("task", "item_id", "prompt_hash", "category", "extract_status", *IDENTITY_COLUMNS)
    per_model = parallel_map(
        lambda m: {c: _dict_and_indices(tables[m].column(c)) for c in cols}, list(tables)
    )
    parts: dict[str, dict[str, tuple[pa.Array, np.ndarray]]] = {
        c: {m: pm[c] for m, pm in zip(tables, per_model, strict=True)} for c in cols
    }
    g_tasks = _unique_values([d for d, _ in parts["task"].values()])
    g_items = _unique_values([d for d, _ in parts["item_id"].values()])
    g_hash = _unique_values([d for d, _ in parts["prompt_hash"].values()])
    g_cat = _unique_values([d for d, _ in parts["category"].values()])
    g_ident = {c: _unique_values([d for d, _ in parts[c].values()]) for c in IDENTITY_COLUMNS}
    seeds = np.unique(
        np.concatenate([pc.unique(t.column("seed")).to_numpy() for t in tables.values()])
    ).astype(np.int64)
    kcols = {
        m: np.asarray(pc.fill_null(t.column("n_choices"), 0).to_numpy(), dtype=np.int64)
        for m, t in tables.items()
    }
    raw_k = kcols  # as recorded (0 = none), compared between the sides: k=1 is a broken row
    kcols = {m: np.where(k >= 2, k, 0) for m, k in kcols.items()}
    ks = np.unique(
        np.concatenate(
            [np.zeros(1, np.int64), *(pc.unique(pa.array(k)).to_numpy() for k in kcols.values())]
        )
    )
    vocab = Vocab(
        tasks=g_tasks.to_pylist(),
        item_ids=g_items,
        seeds=seeds,
        ks=ks,
        hashes=g_hash,
        categories=g_cat.to_pylist(),
    )
    T, NI, S = len(vocab.tasks), max(vocab.n_items, 1), max(vocab.n_seeds, 1)

    def frame(m: str) -> ModelFrame:
        t = tables[m]
        task = _to_global(*parts["task"][m], g_tasks)
        item = _to_global(*parts["item_id"][m], g_items)
        seed = np.searchsorted(seeds, t.column("seed").to_numpy())
        key = (task * NI + item) * S + seed
        order = np.argsort(key, kind="stable")
        # one model per frame, so the integer key is the record key
        check_unique_keys(t, where[m], codes=key, order=order)
        key = key[order]
        sd, si = parts["extract_status"][m]
        na_code = sd.to_pylist().index("no_answer") if "no_answer" in sd.to_pylist() else -2
        cat = _to_global(*parts["category"][m], g_cat)
        cat_by_task = np.full(T, -1, np.int64)
        has = cat >= 0
        cat_by_task[task[has]] = cat[has]
        return ModelFrame(
            model=m,
            key=key,
            correct=np.asarray(t.column("correct").to_numpy(zero_copy_only=False), bool)[order],
            k_code=np.searchsorted(ks, kcols[m])[order],
            no_answer=(si == na_code)[order],
            hash_code=_to_global(*parts["prompt_hash"][m], g_hash)[order],
            identity={
                **{c: _to_global(*parts[c][m], g_ident[c])[order] for c in IDENTITY_COLUMNS},
                "k": np.where(raw_k[m] > 0, raw_k[m], -1)[order],
            },
            cat_by_task=cat_by_task,
            rows_by_task=np.bincount(task, minlength=T),
            row=order,
            source=read[m][1],
        )

    frames = dict(zip(tables, parallel_map(frame, list(tables)), strict=True))
    return frames, vocab


def _type_ok(name: str, t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if name in _DICT_COLS:
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
    if name in ("seed", "n_choices"):
        return pa.types.is_integer(t) or pa.types.is_null(t)
    if name == "correct":
        return pa.types.is_boolean(t)
    return True


def check_files(files: Sequence[Path]) -> None:
    """Check every Parquet file's footer: readable, required columns present, usable types."""
    for f in files:
        try:
            schema = pq.read_schema(f)
        except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
            raise ForgetmapError(f"{f}: not a readable Parquet records file ({exc})") from None
        missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
        if missing:
            raise SchemaError(f"{f}: missing required column(s) {', '.join(missing)}")
        for c in ANALYSIS_COLUMNS:
            if c in schema.names and not _type_ok(c, schema.field(c).type):
                expected = RECORD_SCHEMA.field(c).type
                raise SchemaError(
                    f"{f}: column '{c}' has type {schema.field(c).type}, expected {expected}"
                )
