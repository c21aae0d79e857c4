"""Columnar, integer-keyed views of each model's records, for fast pairing.

Every model's rows are read once (Parquet string columns read as dictionaries, never materialised
as Python objects), string columns are mapped to codes of one global vocabulary, and rows get an
int64 key ``(task_code * n_item_ids + item_code) * n_seeds + seed_code``. Sorting each model by key
makes pairing of two models a `searchsorted`, duplicate keys adjacent, and the rows of one item
contiguous - so all later work is numpy on integer arrays.
"""

from __future__ import annotations

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

from forgetmap.analysis.pairing import ANALYSIS_COLUMNS, check_files
from forgetmap.errors import ForgetmapError, SchemaError
from forgetmap.records import RECORD_SCHEMA, ResultsStore, conform

_DICT_COLS = ("model", "task", "item_id", "extract_status", "prompt_hash", "category")


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


@dataclass
class ModelFrame:
    """One model's records as sorted integer arrays (see module docstring)."""

    model: str
    key: np.ndarray  # int64, sorted
    correct: np.ndarray  # bool
    k_code: np.ndarray  # index into Vocab.ks
    no_answer: np.ndarray  # bool: extract_status == 'no_answer'
    hash_code: np.ndarray  # int64, -1 = null
    cat_by_task: np.ndarray  # per task code: category code of its rows, -1 = none
    rows_by_task: np.ndarray  # per task code: number of rows


def _read_model_tables(store: ResultsStore, models: Sequence[str]) -> dict[str, pa.Table]:
    store._check_models(models)  # unknown model -> error listing the known ones

    def read(m: str) -> pa.Table:
        files = store.files([m])
        if not files:
            raise ForgetmapError(f"no records for model {m!r} in {store.root}")
        check_files(files)
        parts = [_read_file(f) for f in files]
        for f, t in zip(files, parts, strict=True):
            names = set(
                pc.unique(t.column("model").combine_chunks().dictionary_decode()).to_pylist()
            )
            if names - {m}:
                raise ForgetmapError(
                    f"{f}: holds records of {', '.join(sorted(names - {m}))}, not of {m!r} "
                    "(files under a model's directory must be that model's records)"
                )
        return _concat(parts)

    # Parquet decoding releases the GIL: one model per thread
    return dict(zip(models, parallel_map(read, models), strict=True))


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
    try:
        t = pq.read_table(f, columns=cols, read_dictionary=[c for c in _DICT_COLS if c in cols])
    except Exception as exc:  # noqa: BLE001 - corrupt data pages etc.
        raise ForgetmapError(f"{f}: not a readable Parquet records file ({exc})") from None
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


def _concat(parts: list[pa.Table]) -> pa.Table:
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    return t.unify_dictionaries()


def _split_table(table: pa.Table, models: Sequence[str]) -> dict[str, pa.Table]:
    if table.schema != RECORD_SCHEMA:
        table = conform(table, source="<table>")
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
        sub = table.filter(pc.equal(table.column("model"), m))
        out[m] = _read_file_like(sub)
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
        tables = _read_model_tables(source, models)
    elif isinstance(source, pa.Table):
        tables = _split_table(source, models)
    else:
        raise TypeError(f"expected a ResultsStore or a pyarrow Table, got {type(source).__name__}")

    cols = ("task", "item_id", "prompt_hash", "category", "extract_status")
    per_model = parallel_map(
        lambda m: {c: _dict_and_indices(tables[m].column(c)) for c in cols}, list(tables)
    )
    parts = {c: {m: pm[c] for m, pm in zip(tables, per_model, strict=True)} for c in cols}
    g_tasks = _unique_values([d for d, _ in parts["task"].values()])
    g_items = _unique_values([d for d, _ in parts["item_id"].values()])
    g_hash = _unique_values([d for d, _ in parts["prompt_hash"].values()])
    g_cat = _unique_values([d for d, _ in parts["category"].values()])
    seeds = np.unique(
        np.concatenate([pc.unique(t.column("seed")).to_numpy() for t in tables.values()])
    ).astype(np.int64)
    kcols = {
        m: np.asarray(pc.fill_null(t.column("n_choices"), 0).to_numpy(), dtype=np.int64)
        for m, t in tables.items()
    }
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
            cat_by_task=cat_by_task,
            rows_by_task=np.bincount(task, minlength=T),
        )

    frames = dict(zip(tables, parallel_map(frame, list(tables)), strict=True))
    return frames, vocab


def duplicate_keys(frame: ModelFrame) -> np.ndarray:
    """Sorted keys occurring more than once in a frame."""
    dup = frame.key[1:] == frame.key[:-1]
    return np.unique(frame.key[1:][dup])


def decode_key(key: int, vocab: Vocab) -> tuple[str, str, int]:
    """(task, item_id, seed) of an integer key."""
    NI, S = max(vocab.n_items, 1), max(vocab.n_seeds, 1)
    ti, s = divmod(int(key), S)
    t, i = divmod(ti, NI)
    return vocab.tasks[t], vocab.item_ids[i].as_py(), int(vocab.seeds[s])
