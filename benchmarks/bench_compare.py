"""`make bench`: speed of `forgetmap compare` at study scale, against baselines measured here.

1. Generates (once, cached in .bench/study) ~8.8M synthetic records: 70 models, the study suite's
   tasks at real item counts, 3 seeds (benchmarks/synth_records.py).
2. Raw read time: pyarrow reading the Parquet files of the 70 models (all columns, and only the
   columns compare needs), best of 3 with a warm page cache.
3. forgetmap: `forgetmap compare --pairs FILE --json OUT --quiet` on all 60 pairs, every metric
   (bootstrap CIs with 1000 replicates included: per cell, and per category and Total with the
   noise floors and F_excess) and the JSON written, timed around the command in a fresh
   subprocess (interpreter start-up excluded) so its peak RSS is its own; and once more with
   `--bootstrap 0` (no intervals: the cost of every CI is the ratio of the two).
4. Baseline = what the study's scripts do: per (pair, task, seed) load the two models' result
   files with pandas (per-(model, task, seed) Parquet files, like the study's per-task outputs;
   written untimed beforehand), sort by item id, count transitions with DataFrame.iterrows(), and
   compute the metrics. Timed on a subset of pairs; forgetmap is timed on the same pairs too.

Prints: speedup over the baseline (same pairs, and per-pair-equivalent from the 60-pair run), the
60-pair time as a multiple of the raw read time, the 60-pair time with CIs as a multiple of the
time without, and peak RSS. Goals: >= 40x, <= 4x, <= 2x, <= 3 GB.

`--bases N` (1-10) runs the same on the first N of the 10 model families (6N pairs; cached in
.bench/study-Nbases) for a machine where the full study is too slow; every model's records are
those of the full study, and the figures are then for 6N pairs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from synth_records import N_BASE, generate  # noqa: E402

from forgetmap.analysis.frames import ANALYSIS_COLUMNS  # noqa: E402
from forgetmap.records import ResultsStore, model_slug  # noqa: E402

BENCH = ROOT / ".bench"
STUDY = BENCH / "study"
CELLS = BENCH / "baseline_cells"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {src!r})
from forgetmap.cli.main import main
pairs = [tuple(p) for p in json.loads({pairs!r})]
with open({pairs_file!r}, "w") as fh:
    fh.writelines(f"{{b}}\t{{a}}\n" for b, a in pairs)
t0, c0 = time.perf_counter(), time.process_time()
code = main(["compare", "--results", {root!r}, "--pairs", {pairs_file!r}, "--json", {out!r},
             "--bootstrap", "{boot}", "--quiet"])
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
assert code == 0, code
res = json.load(open({out!r}))
n_cells = sum(len(p["cells"]) for p in res["pairs"])
print(json.dumps({{"seconds": dt, "cpu": cpu, "n_cells": n_cells,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def run_forgetmap(
    pairs: list[tuple[str, str]], boot: int, out: Path, repeat: int = 1, study: Path = STUDY
) -> dict:
    """Best (by wall time) of `repeat` fresh-process runs: seconds, cpu, peak_rss_kb, n_cells."""
    code = CHILD.format(
        src=str(ROOT / "src"),
        pairs=json.dumps(pairs),
        pairs_file=str(out.with_suffix(".pairs.tsv")),
        root=str(study),
        boot=boot,
        out=str(out),
    )
    best: dict = {}
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            sys.exit(f"forgetmap compare failed:\n{proc.stderr}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if not best or r["seconds"] < best["seconds"]:
            best = r
    return best


def time_raw_read(
    files: list[Path], columns: list[str] | None, repeat: int = 3
) -> tuple[float, float]:
    """Best-of-`repeat` (wall, cpu) seconds for pyarrow to read `files` (warm page cache)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for f in files:
            pq.read_table(f, columns=columns)
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def write_baseline_cells(store: ResultsStore, models: list[str]) -> None:
    """Per-(model, task, seed) Parquet files, the layout the study's scripts read (untimed)."""
    for m in models:
        d = CELLS / model_slug(m)
        if (d / ".complete").exists():
            continue
        d.mkdir(parents=True, exist_ok=True)
        t = store.read(models=[m], columns=["task", "item_id", "seed", "correct", "n_choices"])
        for task in pc.unique(t.column("task")).to_pylist():
            tt = t.filter(pc.equal(t.column("task"), task))
            for seed in pc.unique(tt.column("seed")).to_pylist():
                cell = tt.filter(pc.equal(tt.column("seed"), seed))
                pq.write_table(cell, d / f"{task.replace(':', '__')}__seed{seed}.parquet")
        (d / ".complete").write_text("ok\n")


def baseline_pair(before: str, after: str) -> int:
    """The study's way: per (task, seed) load both sides with pandas, sort, iterrows."""
    import pandas as pd

    n_cells = 0
    for f in sorted((CELLS / model_slug(before)).glob("*.parquet")):
        fa = CELLS / model_slug(after) / f.name
        if not fa.exists():
            continue
        db = pd.read_parquet(f).sort_values("item_id")
        da = pd.read_parquet(fa).sort_values("item_id")
        pre = {}
        k = 4
        for _, row in db.iterrows():
            pre[row["item_id"]] = bool(row["correct"])
            if row["n_choices"] == row["n_choices"] and row["n_choices"]:
                k = int(row["n_choices"])
        n00 = n01 = n10 = n11 = 0
        for _, row in da.iterrows():
            if row["item_id"] not in pre:
                continue
            a, b = pre[row["item_id"]], bool(row["correct"])
            if a and b:
                n11 += 1
            elif a:
                n10 += 1
            elif b:
                n01 += 1
            else:
                n00 += 1
        n = n00 + n01 + n10 + n11
        acc_pre, acc_post = (n10 + n11) / n, (n01 + n11) / n
        f_chance = (1 - acc_pre) / max(k - 1, 1) * (1 - acc_post)
        _ = (max(n10 / n - f_chance, 0), max(n01 / n - f_chance, 0))
        n_cells += 1
    return n_cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-pairs", type=int, default=2)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2, help="fresh-process runs of compare (best)")
    ap.add_argument(
        "--bases",
        type=int,
        default=N_BASE,
        choices=range(1, N_BASE + 1),
        metavar=f"1..{N_BASE}",
        help=f"base-model families (6 pairs each; default {N_BASE}: the study's 60 pairs); "
        "fewer for a smaller machine, each model's records as in the full study",
    )
    args = ap.parse_args()
    BENCH.mkdir(exist_ok=True)
    study = STUDY if args.bases == N_BASE else BENCH / f"study-{args.bases}bases"
    print(f"generating / reusing the synthetic study in {study.relative_to(ROOT)} ...")
    t0 = time.perf_counter()
    models, pairs = generate(study, n_base=args.bases)
    store = ResultsStore(study)
    files = store.files(models)
    n_rows = sum(pq.read_metadata(f).num_rows for f in files)
    size = sum(f.stat().st_size for f in files) / 1e6
    print(
        f"  {len(models)} models, {len(pairs)} pairs, {n_rows:,} rows, {size:.0f} MB Parquet "
        f"({time.perf_counter() - t0:.1f}s)"
    )

    read_all, read_all_cpu = time_raw_read(files, None)
    read_cols, read_cols_cpu = time_raw_read(files, list(ANALYSIS_COLUMNS))
    print(
        f"raw pyarrow read: all columns {read_all:.2f}s (cpu {read_all_cpu:.2f}s), "
        f"compare's columns {read_cols:.2f}s (cpu {read_cols_cpu:.2f}s)"
    )

    full = run_forgetmap(
        pairs, args.bootstrap, BENCH / "compare_all.json", repeat=args.repeat, study=study
    )
    json_mb = (BENCH / "compare_all.json").stat().st_size / 1e6
    print(
        f"forgetmap compare, {len(pairs)} pairs, {full['n_cells']} cells, bootstrap "
        f"{args.bootstrap}, JSON {json_mb:.0f} MB: {full['seconds']:.2f}s (cpu {full['cpu']:.2f}s), "
        f"peak RSS {full['peak_rss_kb'] / 1e6:.2f} GB"
    )
    noboot = run_forgetmap(
        pairs, 0, BENCH / "compare_all_noboot.json", repeat=args.repeat, study=study
    )
    print(f"  the same without bootstrap CIs: {noboot['seconds']:.2f}s (cpu {noboot['cpu']:.2f}s)")

    sub = pairs[: args.baseline_pairs]
    write_baseline_cells(store, sorted({m for p in sub for m in p}))
    t0, c0 = time.perf_counter(), time.process_time()
    cells = sum(baseline_pair(b, a) for b, a in sub)
    base, base_cpu = time.perf_counter() - t0, time.process_time() - c0
    same = run_forgetmap(
        sub, args.bootstrap, BENCH / "compare_sub.json", repeat=args.repeat, study=study
    )
    same_nb = run_forgetmap(
        sub, 0, BENCH / "compare_sub_noboot.json", repeat=args.repeat, study=study
    )
    print(
        f"baseline (pandas load + sort + iterrows per (pair, task, seed)): {len(sub)} pairs, "
        f"{cells} cells in {base:.1f}s (cpu {base_cpu:.1f}s) = {base / len(sub):.2f}s/pair"
    )
    print(
        f"forgetmap on the same {len(sub)} pairs (fresh process, reads, all metrics, JSON): "
        f"{same['seconds']:.2f}s (cpu {same['cpu']:.2f}s)"
    )
    print(
        f"  the same without bootstrap CIs: {same_nb['seconds']:.2f}s (cpu {same_nb['cpu']:.2f}s)"
    )
    print()
    print_results(
        len(pairs), len(sub), (base, base_cpu), (read_all, read_all_cpu),
        (read_cols, read_cols_cpu), full, noboot, same, same_nb,
    )  # fmt: skip


def print_results(
    n_pairs: int,
    n_sub: int,
    base: tuple[float, float],
    read_all: tuple[float, float],
    read_cols: tuple[float, float],
    full: dict,
    noboot: dict,
    same: dict,
    same_nb: dict,
) -> None:
    """The ratios, wall clock first and cpu time in brackets, each beside its goal."""
    per_pair = (full["seconds"] / n_pairs, full["cpu"] / n_pairs)
    per_base = (base[0] / n_sub, base[1] / n_sub)
    rows = [  # label, numerator (wall, cpu), denominator (wall, cpu), decimals, note
        ("speedup, same pairs, same work (no CIs)", base, _t(same_nb), 1,
         "the baseline computes no CIs"),
        ("speedup, same pairs, + bootstrap CIs", base, _t(same), 1, "goal >= 40x"),
        (f"speedup, per pair in the {n_pairs}-pair run", per_base, per_pair, 1,
         f"{per_pair[0] * 1000:.0f} ms/pair vs {per_base[0] * 1000:.0f} ms/pair"),
        (f"{n_pairs} pairs / raw read (all columns)", _t(full), read_all, 2, "goal <= 4x"),
        (f"{n_pairs} pairs / raw read (compare's cols)", _t(full), read_cols, 2, ""),
        ("  without bootstrap / read (all cols)", _t(noboot), read_all, 2, ""),
        (f"{n_pairs} pairs with CIs / without", _t(full), _t(noboot), 2,
         "goal <= 2x; cell CIs + category/Total CIs, noise floors and F_excess CIs"),
    ]  # fmt: skip
    print("== results (wall clock; cpu-time ratios in brackets) ==")
    for label, num, den, d, note in rows:
        ratio = f"{num[0] / den[0]:.{d}f}x"
        print(
            f"{label + ':':42s}{ratio:>8s}  [{num[1] / den[1]:.{d}f}x]"
            + (f"  ({note})" if note else "")
        )
    rss = f"{full['peak_rss_kb'] / 1e6:.2f} GB"
    print(f"{f'peak RSS ({n_pairs} pairs):':42s}{rss:>8s}  (goal <= 3 GB)")


def _t(run: dict) -> tuple[float, float]:
    return run["seconds"], run["cpu"]


if __name__ == "__main__":
    main()
