"""Cost of the results store's guarantees: the duplicate-key check under the model lock.

Two workloads, each against a baseline measured in the same run:
- runner: `--batches` batches of 32 records appended to one model (what `eval` does with the
  default --flush-size), through `ResultsStore.write(on_duplicate="skip")` (lock, key check,
  atomic write) vs. the bare atomic Parquet write of the same batches (the first release's store);
- import: `--rows` records written as one run into a model that already holds `--rows` records
  (all keys new), through `ResultsStore.write(replace_run=True)` vs. the bare atomic write.

    python benchmarks/bench_store.py [--batches 2000] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from forgetmap.atomic import atomic_write
from forgetmap.records import ResultsStore, conform


def batch(start: int, n: int, model: str = "org/model") -> pa.Table:
    return conform(
        pa.table(
            {
                "model": [model] * n,
                "task": [f"mmlu:t{i % 57}" for i in range(start, start + n)],
                "item_id": [f"item-{i}" for i in range(start, start + n)],
                "seed": [i % 3 for i in range(start, start + n)],
                "n_choices": [4] * n,
                "gold": ["A"] * n,
                "pred": ["B"] * n,
                "correct": [i % 2 == 0 for i in range(start, start + n)],
                "prompt_hash": ["h"] * n,
                "response": ["Step by step... Answer: B"] * n,
            }
        )
    )


def bare(root: Path, tables: list[pa.Table]) -> float:
    d = root / "bare" / "run"
    d.mkdir(parents=True)
    t = time.perf_counter()
    for i, tab in enumerate(tables):
        atomic_write(
            d / f"part-{i}.parquet", lambda p, x=tab: pq.write_table(x, p, compression="zstd")
        )
    return time.perf_counter() - t


def guarded(root: Path, tables: list[pa.Table]) -> float:
    store = ResultsStore(root / "store")
    t = time.perf_counter()
    for tab in tables:
        store.write(tab, "org/model", "run", on_duplicate="skip")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        tables = [batch(i * 32, 32) for i in range(args.batches)]
        b, g = bare(tmp, tables), guarded(tmp, tables)
        n = args.batches
        print(f"runner: {n} batches x 32 records")
        print(f"  bare atomic write  {1000 * b / n:7.2f} ms/batch")
        print(f"  store.write(skip)  {1000 * g / n:7.2f} ms/batch   ratio {g / b:5.2f}")

        big_old, big_new = batch(0, args.rows), batch(args.rows, args.rows)
        store = ResultsStore(tmp / "import")
        store.write(big_old, "org/model", "old", replace_run=True)
        t = time.perf_counter()
        atomic_write(tmp / "bare.parquet", lambda p: pq.write_table(big_new, p, compression="zstd"))
        b = time.perf_counter() - t
        t = time.perf_counter()
        store.write(big_new, "org/model", "new", replace_run=True)
        g = time.perf_counter() - t
        print(f"import: {args.rows:,} records into a model holding {args.rows:,}")
        print(f"  bare atomic write  {b:7.2f} s")
        print(f"  store.write        {g:7.2f} s   ratio {g / b:5.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
