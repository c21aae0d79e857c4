"""`forgetmap compare --json` output pinned byte for byte.

The expected files in tests/golden/compare_json/ were written by `compare --json` before the
compare result became typed (`forgetmap.analysis.results`); any refactoring of compare, pairing
or the result types must leave the bytes unchanged. Two kinds of input:

- the committed real-log fixtures (tests/fixtures/importers, one seed, 1-2 tasks each), imported
  with `forgetmap import` exactly as tests/test_compare_real_logs.py does;
- a deterministic synthetic store with what those lack: 3 seeds, several categories, a registry
  free-form task (left out of aggregates), mixed k, no_answer flips, unpaired rows, a differing
  prompt_hash, a cell without errors (NFI null) and two pairs sharing a model.

New result fields must be optional (emitted only when present) so these pins keep holding; a change
of output that is intended is re-pinned with `python tests/test_compare_pinned.py --write` and
explained in the commit.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from forgetmap.analysis import compare, flipped_items
from forgetmap.cli.main import main
from forgetmap.records import ResultsStore
from forgetmap.report.drilldown import collect_items
from forgetmap.report.model import build_model

HERE = Path(__file__).parent
FIX = HERE / "fixtures" / "importers"
GOLDEN = HERE / "golden" / "compare_json"
# fixture folder -> CLI importer
REAL_LOGS = {
    "lm_eval": "lm-eval",
    "lighteval": "lighteval",
    "post_forget": "lighteval",  # the post-forget study's lighteval layout
    "inspect": "inspect",
    "opencompass": "opencompass",
    "helm": "helm",
}


def _import(folder: str, tmp: Path) -> tuple[Path, str, str]:
    res = tmp / f"res_{folder}"
    if not res.exists():
        assert main(["import", REAL_LOGS[folder], str(FIX / folder), "--results", str(res)]) == 0
    models = ResultsStore(res).models()
    return res, next(m for m in models if "gemma" in m), next(m for m in models if "smollm2" in m)


def _compare_json(res: Path, out: Path, *pair_args: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["compare", "--results", str(res), *pair_args, "--json", str(out),
                     "--bootstrap", "200", "--quiet"])  # fmt: skip
    assert code == 0
    return out.read_bytes()


def real_log_json(folder: str, tmp: Path) -> bytes:
    res, before, after = _import(folder, tmp)
    return _compare_json(res, tmp / f"{folder}.json", "--before", before, "--after", after)


# (task, n items, k: int, "mixed" (3..5 per item) or None (free-form), row category or None)
_SYN_TASKS = [
    ("pin:alpha", 24, 4, "Knowledge"),
    ("pin:beta", 18, 2, "Knowledge"),
    ("pin:gamma", 30, "mixed", "Logic"),
    ("pin:delta", 12, 5, None),  # no row category: "pin" from the task name
    ("pin:easy", 6, 4, "Logic"),  # both sides always right on seed 0: NFI null there
    ("bbh:word_sorting", 10, None, None),  # registry free-form: out of the aggregates
]


def synthetic_table() -> pa.Table:
    rng = np.random.default_rng(20251130)
    k_of = {
        (t, i): int(rng.integers(3, 6)) if k == "mixed" else k
        for t, n, k, _ in _SYN_TASKS
        for i in range(n)
    }
    rows = []
    for m, skill in (("before", 0.7), ("after", 0.5), ("merged", 0.6)):
        for t, n, _, cat in _SYN_TASKS:
            for s in (0, 1, 2):
                for i in range(n):
                    if rng.random() < 0.04 and t != "pin:easy":
                        continue  # unpaired on this side
                    ok = bool(rng.random() < skill) or (t == "pin:easy" and s == 0)
                    status = "ok" if ok or rng.random() < 0.6 else "no_answer"
                    rows.append({
                        "model": m, "task": t, "item_id": f"{t}#{i}", "seed": s,
                        "n_choices": k_of[(t, i)], "gold": "A", "correct": ok,
                        "pred": None if status == "no_answer" else ("A" if ok else "B"),
                        "extract_status": status, "category": cat,
                        "prompt_hash": "h2" if (m == "after" and t == "pin:beta") else "h",
                        # long enough on some rows to exercise the report's response tail
                        "response": f"{m}/{s}: " + "step. " * (i * 37 % 250) + f"Answer: {ok}",
                        "question": f"question {i} of {t}?", "choices": ["yes", "no", "maybe"],
                    })  # fmt: skip
    return pa.Table.from_pylist(rows)


def _synthetic_store(tmp: Path) -> Path:
    res = tmp / "res_synthetic"
    if not res.exists():
        table = synthetic_table()
        store = ResultsStore(res)
        for m in ("before", "after", "merged"):
            store.append(table.filter(pa.compute.equal(table["model"], m)), m, "run-0")
    return res


def synthetic_json(tmp: Path) -> bytes:
    res = _synthetic_store(tmp)
    pairs = tmp / "pairs.tsv"
    pairs.write_text("before\tafter\nbefore\tmerged\nmerged\tafter\n")
    return _compare_json(res, tmp / "synthetic.json", "--pairs", str(pairs))


def item_lists(res: Path, before: str, after: str, cap: int) -> tuple[bytes, bytes]:
    """The flipped-items CSV and the report's per-item rows (as JSON) of one pair."""
    store = ResultsStore(res)
    flips = flipped_items(store, before, after)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(flips, sink)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the prompt_hash warnings of these fixtures
        view = build_model(compare(store, [(before, after)], bootstrap=0)).pairs[0]
    rows = collect_items(store, view, cap=cap).rows
    return sink.getvalue().to_pybytes(), json.dumps([asdict(r) for r in rows]).encode()


def items_pins(tmp: Path) -> dict[str, bytes]:
    out = {}
    for name, (res, b, a) in {
        "lm_eval": _import("lm_eval", tmp),
        "post_forget": _import("post_forget", tmp),
        "synthetic": (_synthetic_store(tmp), "before", "after"),
    }.items():
        out[f"flips_{name}.csv"], out[f"items_{name}.json"] = item_lists(res, b, a, cap=7)
    return out


#: fields added after the pins were taken (docs/statistics.md): the document without them must
#: be the pinned bytes, so every field that existed before is unchanged
STATS_FIELDS = {"pair": ("noise_floor",), "task": ("noise_floor",),
                "category": ("F_excess", "BT_excess", "mde_F_true"), "stat": ("ci95",),
                "settings": ("mde",)}  # fmt: skip


def without_stats_fields(doc: bytes) -> bytes:
    """The compare document minus STATS_FIELDS (asserting they are there), re-serialised as
    compare writes it."""
    d = json.loads(doc)
    assert d["settings"].pop("mde") == {"alpha": 0.05, "power": 0.8}
    for pr in d["pairs"]:
        assert pr.pop("noise_floor").keys() == {"before", "after"}
        for task in pr["tasks"].values():
            task.pop("noise_floor")
        for block in [*pr["categories"].values(), *([pr["total"]] if pr["total"] else [])]:
            for key in STATS_FIELDS["category"]:
                block.pop(key)
            for value in block.values():
                if isinstance(value, dict) and "ci95" in value:
                    value.pop("ci95")
    return json.dumps(d, allow_nan=False).encode()


@pytest.mark.parametrize("folder", list(REAL_LOGS))
def test_compare_json_pinned_on_real_logs(tmp_path, folder):
    got = real_log_json(folder, tmp_path)
    assert without_stats_fields(got) == (GOLDEN / f"{folder}.json").read_bytes()


def test_compare_json_pinned_on_synthetic_store(tmp_path):
    got = synthetic_json(tmp_path)
    assert without_stats_fields(got) == (GOLDEN / "synthetic.json").read_bytes()


def test_flipped_items_and_report_item_rows_pinned(tmp_path):
    for name, got in items_pins(tmp_path).items():
        assert got == (GOLDEN / name).read_bytes(), name


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        for folder in REAL_LOGS:
            doc = without_stats_fields(real_log_json(folder, Path(d)))
            (GOLDEN / f"{folder}.json").write_bytes(doc)
        (GOLDEN / "synthetic.json").write_bytes(without_stats_fields(synthetic_json(Path(d))))
        for name, data in items_pins(Path(d)).items():
            (GOLDEN / name).write_bytes(data)
    print(f"wrote {GOLDEN}")
