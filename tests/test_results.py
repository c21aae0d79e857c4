"""Typed compare results (forgetmap.analysis.results): attribute access, the JSON document and
its round trip, optional fields and unknown keys, clear errors on malformed documents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from forgetmap.analysis import compare
from forgetmap.analysis.results import (
    AGG_METRICS,
    CELL_FLOATS,
    TASK_METRICS,
    CategorySummary,
    Cell,
    Comparison,
    GroupItemView,
    ItemView,
    PairResult,
    Stat,
    TaskSummary,
    optional,
)
from forgetmap.errors import ForgetmapError
from forgetmap.metrics import METRIC_NAMES

GOLDEN = Path(__file__).parent / "golden" / "compare_json" / "synthetic.json"


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(GOLDEN.read_text())


def test_round_trip_is_byte_identical(doc):
    cmp = Comparison.from_dict(doc)
    assert cmp.to_json().encode() == GOLDEN.read_bytes()
    assert Comparison.from_dict(cmp.to_dict()) == cmp


def test_typed_access_matches_the_document(doc):
    cmp = Comparison.from_dict(doc)
    assert len(cmp) == 3 and [p.key for p in cmp] == [
        (p["before"], p["after"]) for p in doc["pairs"]
    ]
    pr, d = cmp.pair("before", "after"), doc["pairs"][0]
    assert isinstance(pr, PairResult) and isinstance(pr.cells[0], Cell)
    assert pr.cells[0].F_true == d["cells"][0]["F_true"]
    assert pr.cells[0].ci["F_true"] == tuple(d["cells"][0]["ci"]["F_true"])
    task = pr.tasks["pin:gamma"]
    assert isinstance(task, TaskSummary) and isinstance(task.item_view, ItemView)
    assert task.BT_true == Stat(**d["tasks"]["pin:gamma"]["BT_true"])
    cat = pr.categories["Logic"]
    assert isinstance(cat, CategorySummary) and isinstance(cat.item_view, GroupItemView)
    assert cat.F_true.mean == d["categories"]["Logic"]["F_true"]["mean"]
    assert cat.per_seed["acc_pre"] == d["categories"]["Logic"]["per_seed"]["acc_pre"]
    assert pr.total is not None and pr.total.n_categories == 3 and pr.total.tasks is None
    assert pr.summary("Total") is pr.total and pr.summary("nope") is None
    assert pr.total.stat("BT_true") == pr.total.BT_true and pr.total.stat("n_tasks") is None
    with pytest.raises(ForgetmapError, match="pair x -> y not in the comparison"):
        cmp.pair("x", "y")


def test_compare_returns_typed_results():
    rows = [
        {"model": m, "task": "t:a", "item_id": str(i), "seed": s, "correct": (i + s + j) % 3 > 0,
         "n_choices": 4}
        for j, m in enumerate(("a", "b")) for s in (0, 1) for i in range(12)
    ]  # fmt: skip
    cmp = compare(pa.Table.from_pylist(rows), [("a", "b")], bootstrap=0)
    assert isinstance(cmp, Comparison) and cmp.settings.bootstrap == 0
    pr = cmp.pairs[0]
    assert [c.seed for c in pr.cells] == [0, 1] and pr.n_paired == 24
    assert pr.total is not None and pr.total.n_tasks == 1
    assert json.loads(cmp.to_json()) == cmp.to_dict()
    table = cmp.cells_table()
    assert table.num_rows == 2 and {"F_true_ci_low", "BT_true_ci_high"} <= set(table.column_names)


def test_no_aggregate_task_gives_empty_total_object(doc):
    d = json.loads(json.dumps(doc["pairs"][0]))
    d["total"], d["categories"] = {}, {}
    pr = PairResult.from_dict(d)
    assert pr.total is None and pr.to_dict()["total"] == {}


def test_unknown_keys_survive_a_round_trip(doc):
    d = json.loads(json.dumps(doc))
    d["pairs"][0]["cells"][0]["future_metric"] = 0.5
    d["pairs"][0]["something_new"] = {"x": [1, 2]}
    d["generator"] = "forgetmap 9.0"
    cmp = Comparison.from_dict(d)
    assert cmp.pairs[0].cells[0].extra == {"future_metric": 0.5}
    out = cmp.to_dict()
    assert out == d
    assert list(out["pairs"][0]["cells"][0])[-1] == "future_metric"  # after the declared fields


@dataclass
class _CellWithNoise(Cell):
    """What a later field looks like: optional, so documents without it keep their bytes."""

    noise_floor: float | None = optional()


def test_optional_fields_are_written_only_when_set(doc):
    base = Cell.from_dict(doc["pairs"][0]["cells"][0])
    fields = {k: v for k, v in vars(base).items()}
    plain = _CellWithNoise(**fields)
    assert json.dumps(plain.to_dict()) == json.dumps(base.to_dict())
    plain.noise_floor = 0.01
    assert list(plain.to_dict())[-1] == "noise_floor" and plain.to_dict()["noise_floor"] == 0.01


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("settings"), "comparison: missing field"),
        (lambda d: d["pairs"][0]["cells"][1].pop("n10"), r"before -> after cell 1: missing field\(s\) n10"),
        (lambda d: d["pairs"][1]["tasks"]["pin:beta"].pop("item_view"), "task pin:beta: missing"),
        (lambda d: d["pairs"][2]["categories"].update(Logic=[]), "category Logic: expected an object"),
        (lambda d: d.update(pairs="x"), "not a `forgetmap compare --json` file"),
    ],
)  # fmt: skip
def test_malformed_documents_name_the_part(doc, mutate, message):
    d = json.loads(json.dumps(doc))
    mutate(d)
    with pytest.raises(ForgetmapError, match=message):
        Comparison.from_dict(d)


def test_load_names_the_file(tmp_path):
    bad = tmp_path / "cmp.json"
    bad.write_text("{not json")
    with pytest.raises(ForgetmapError, match=f"cannot read comparison {bad}"):
        Comparison.load(bad)


def test_field_lists_cover_the_metrics():
    """Every per-cell metric of forgetmap.metrics has a typed Cell field (and so reaches JSON);
    optional ones (F_rel, BT_rel) included."""
    import dataclasses

    assert set(METRIC_NAMES) <= {f.name for f in dataclasses.fields(Cell)}
    assert set(TASK_METRICS) <= set(AGG_METRICS) <= set(CELL_FLOATS)


def test_terminal_summary_table_and_p_format(doc):
    import re

    from rich.console import Console

    from forgetmap.report.terminal import format_p, format_stat, summary_table

    assert [format_p(p) for p in (None, 0.5, 0.0123, 4.2e-5)] == ["–", "0.500", "0.012", "4.2e-05"]
    assert format_stat(Stat(0.1234, 0.01)) == "12.3 ± 1.0" and format_stat(Stat(None, None)) == "–"
    pr = Comparison.from_dict(doc).pairs[0]
    console = Console(width=200, record=True)
    console.print(summary_table(pr))
    text = console.export_text()

    def flag(c, m):  # the † of values not distinguishable from noise (docs/statistics.md)
        return format_stat(c.stat(m)) + ("†" if c.distinguishable(m) is False else "")

    for name, c in [*pr.categories.items(), ("Total", pr.total)]:
        row = next(line for line in text.splitlines() if line.startswith(f"│ {name} "))
        cells = [x.strip() for x in row.strip("│").split("│")]
        assert [cells[1], cells[4]] == [flag(c, "F_true"), flag(c, "BT_true")]
        assert cells[7:9] == [f"{c.pooled.n10} / {c.pooled.n01}", format_p(c.pooled.p_mcnemar)]
        assert re.search(rf"{name[:6]}\S*\s*│\s*\d+\.\d ±", row)
    assert "not in aggregates: bbh:word_sorting" in " ".join(text.split())
