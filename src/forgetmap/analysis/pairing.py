"""Pairing records of two models by (task, item_id, seed), in DuckDB, for many pairs at once.

`open_records` loads the columns the analysis needs for the models of interest into one DuckDB
table `r` (from a ResultsStore's Parquet files or from an Arrow table), after checking that every
file is readable and has the required columns with usable types. `check_duplicates` rejects
repeated (model, task, item_id, seed) keys. `read_pairs_file` parses `--pairs FILE`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from forgetmap.errors import ForgetmapError, SchemaError
from forgetmap.records import RECORD_SCHEMA, ResultsStore, conform

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
_REQUIRED = ("model", "task", "item_id", "seed", "correct")
_SQL_TYPES = {
    "model": "VARCHAR",
    "task": "VARCHAR",
    "item_id": "VARCHAR",
    "seed": "BIGINT",
    "correct": "BOOLEAN",
    "n_choices": "INTEGER",
    "extract_status": "VARCHAR",
    "prompt_hash": "VARCHAR",
    "category": "VARCHAR",
}


def fetch_arrow(con: Any, sql: str, params: Any = None) -> pa.Table:
    """Run `sql` and return an Arrow table (across DuckDB versions)."""
    rel = con.sql(sql, params=params) if params is not None else con.sql(sql)
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        fn = getattr(rel, name, None)
        if fn is not None:
            out = fn()
            return out.read_all() if hasattr(out, "read_all") else out
    raise RuntimeError("unsupported duckdb version")


def read_pairs_file(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Parse a pairs file: one `before<TAB>after` per line; blank lines and `#` comments skipped."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ForgetmapError(f"cannot read pairs file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ForgetmapError(f"{p}: pairs file is not UTF-8 text") from None
    pairs: list[tuple[str, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
        if len(fields) != 2 or not all(fields):
            raise ForgetmapError(f"{p}:{lineno}: expected 'before<TAB>after', got {line!r}")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise ForgetmapError(f"{p}: no pairs found (one 'before<TAB>after' per line)")
    return pairs


def check_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validate the pair list (non-empty, two distinct model ids each)."""
    out = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(m, str) and m for m in pair):
            raise ForgetmapError(f"a pair must be two model ids (before, after), got {pair!r}")
        if pair[0] == pair[1]:
            raise ForgetmapError(f"pair compares {pair[0]!r} with itself")
        out.append((pair[0], pair[1]))
    if not out:
        raise ForgetmapError("no pairs to compare")
    return out


def _type_ok(name: str, t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if name in ("model", "task", "item_id", "extract_status", "prompt_hash", "category"):
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
    if name in ("seed", "n_choices"):
        return pa.types.is_integer(t) or pa.types.is_null(t)
    if name == "correct":
        return pa.types.is_boolean(t)
    return True


def check_files(files: Sequence[Path]) -> dict[str, bool]:
    """Check every Parquet file's footer: readable, required columns present, usable types.

    Returns which optional analysis columns exist in at least one file.
    """
    present = {c: False for c in ANALYSIS_COLUMNS}
    for f in files:
        try:
            schema = pq.read_schema(f)
        except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
            raise ForgetmapError(f"{f}: not a readable Parquet records file ({exc})") from None
        missing = [c for c in _REQUIRED if c not in schema.names]
        if missing:
            raise SchemaError(f"{f}: missing required column(s) {', '.join(missing)}")
        for c in ANALYSIS_COLUMNS:
            if c in schema.names:
                t = schema.field(c).type
                if not _type_ok(c, t):
                    expected = RECORD_SCHEMA.field(c).type
                    raise SchemaError(f"{f}: column '{c}' has type {t}, expected {expected}")
                present[c] = True
    return present


def open_records(
    source: ResultsStore | pa.Table, models: Sequence[str]
) -> Any:  # -> duckdb.DuckDBPyConnection
    """A DuckDB connection holding table `r` (ANALYSIS_COLUMNS) with the rows of `models`."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    models = list(dict.fromkeys(models))
    con.execute("CREATE TEMP TABLE wanted (model VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?)", [[m] for m in models])
    if isinstance(source, ResultsStore):
        source._check_models(models)  # unknown model -> error listing the known ones
        files = source.files(models)
        if not files:
            raise ForgetmapError(f"no records for {', '.join(models)} in {source.root}")
        present = check_files(files)
        cols = ", ".join(
            f"CAST({c} AS {_SQL_TYPES[c]}) AS {c}"
            if present[c]
            else f"NULL::{_SQL_TYPES[c]} AS {c}"
            for c in ANALYSIS_COLUMNS
        )
        try:
            con.execute(
                f"CREATE TEMP TABLE r AS SELECT {cols} FROM read_parquet(?, union_by_name=true) "
                "WHERE model IN (SELECT model FROM wanted)",
                [[str(f) for f in files]],
            )
        except duckdb.Error as exc:
            raise ForgetmapError(f"reading records from {source.root} failed: {exc}") from None
    elif isinstance(source, pa.Table):
        table = source if source.schema == RECORD_SCHEMA else conform(source, source="<table>")
        table = table.select(list(ANALYSIS_COLUMNS))
        con.register("r_in", table)
        con.execute(
            "CREATE TEMP TABLE r AS SELECT * FROM r_in WHERE model IN (SELECT model FROM wanted)"
        )
        con.unregister("r_in")
        have = {m for (m,) in con.execute("SELECT DISTINCT model FROM r").fetchall()}
        missing = [m for m in models if m not in have]
        if missing:
            known = sorted(set(table.column("model").unique().to_pylist()))
            raise ForgetmapError(
                f"model(s) {', '.join(map(repr, missing))} not found in the records; "
                f"known models: {', '.join(known) or 'none'}"
            )
    else:
        raise TypeError(f"expected a ResultsStore or a pyarrow Table, got {type(source).__name__}")
    return con


def check_duplicates(con: Any, max_examples: int = 5) -> None:
    """Raise if any (model, task, item_id, seed) occurs more than once in table `r`."""
    dup = fetch_arrow(
        con,
        "SELECT model, task, item_id, seed, count(*) AS c FROM r GROUP BY ALL HAVING count(*) > 1",
    )
    if dup.num_rows:
        dup = dup.sort_by([("model", "ascending"), ("task", "ascending"), ("item_id", "ascending")])
        ex = "; ".join(
            f"{r['model']} {r['task']} item {r['item_id']!r} seed {r['seed']} (x{r['c']})"
            for r in dup.slice(0, max_examples).to_pylist()
        )
        raise ForgetmapError(
            f"{dup.num_rows} duplicate (model, task, item_id, seed) key(s) in the records, e.g. {ex}. "
            "Each item must be recorded once per model and seed; remove the repeated run or rows."
        )


def create_pairs(con: Any, pairs: Sequence[tuple[str, str]]) -> None:
    """Table `pairs(pair_id, before, after)` and the joined table `j` of all paired items."""
    con.execute("CREATE TEMP TABLE pairs (pair_id INTEGER, before VARCHAR, after VARCHAR)")
    con.executemany(
        "INSERT INTO pairs VALUES (?, ?, ?)", [[i, b, a] for i, (b, a) in enumerate(pairs)]
    )
    con.execute(
        """
        CREATE TEMP TABLE j AS
        SELECT p.pair_id, b.task, b.item_id, b.seed,
               b.correct AS cb, a.correct AS ca,
               coalesce(b.n_choices, a.n_choices) AS k,
               (b.n_choices IS NOT NULL AND a.n_choices IS NOT NULL
                AND b.n_choices <> a.n_choices) AS k_differs,
               b.extract_status AS sb, a.extract_status AS sa,
               (b.prompt_hash IS NOT NULL AND a.prompt_hash IS NOT NULL
                AND b.prompt_hash <> a.prompt_hash) AS hash_differs,
               coalesce(b.category, a.category) AS cat
        FROM pairs p
        JOIN r b ON b.model = p.before
        JOIN r a ON a.model = p.after AND a.task = b.task AND a.item_id = b.item_id
                 AND a.seed = b.seed
        """
    )


def pair_records(before: pa.Table, after: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Pair two models' records (one model each) by (task, item_id, seed).

    Returns the paired table (task, item_id, seed, correct_pre, correct_post, k, extract_status_pre,
    extract_status_post, category) and the unpaired counts {"before_only", "after_only"}.
    """
    tb = conform(before, "<before>") if before.schema != RECORD_SCHEMA else before
    ta = conform(after, "<after>") if after.schema != RECORD_SCHEMA else after
    mb = tb.column("model").unique().to_pylist()
    ma = ta.column("model").unique().to_pylist()
    if len(mb) != 1 or len(ma) != 1:
        raise ForgetmapError("pair_records expects the records of exactly one model per side")
    con = open_records(pa.concat_tables([tb, ta]), [mb[0], ma[0]])
    check_duplicates(con)
    create_pairs(con, [(mb[0], ma[0])])
    out = fetch_arrow(
        con,
        "SELECT task, item_id, seed, cb AS correct_pre, ca AS correct_post, k, "
        "sb AS extract_status_pre, sa AS extract_status_post, cat AS category FROM j "
        "ORDER BY task, item_id, seed",
    )
    unpaired = {
        "before_only": tb.num_rows - out.num_rows,
        "after_only": ta.num_rows - out.num_rows,
    }
    return out, unpaired
