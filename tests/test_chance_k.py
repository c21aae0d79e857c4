"""`compare --chance-k`: which number of options the chance terms and ceilings count.

The study's analysis assumed k = 4 for every task outside BBH; forgetmap counts each item's own
k by default. `--chance-k 4` must give exactly the study's formulas with k = 4, checked here
against a hand computation on a small table whose items have 2, 3 and 5 options.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from forgetmap.analysis import compare
from forgetmap.cli.main import main
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore

# one task, one seed: (k, correct before, correct after) per item
ITEMS = (
    [(2, True, False)] * 3  # 1->0
    + [(2, True, True)] * 5
    + [(3, False, True)] * 2  # 0->1
    + [(3, False, False)] * 4
    + [(5, True, True)] * 4
    + [(5, True, False)] * 1
    + [(5, False, False)] * 1
)


def _rows() -> list[dict]:
    rows = []
    for model, side in (("before", 1), ("after", 2)):
        for i, item in enumerate(ITEMS):
            rows.append(
                {
                    "model": model,
                    "task": "piqa:validation",
                    "item_id": f"i{i}",
                    "seed": 0,
                    "n_choices": item[0],
                    "correct": item[side],
                    "gold": "A",
                    "pred": "A" if item[side] else "B",
                    "extract_status": "ok",
                    "prompt_hash": "h",
                }
            )
    return rows


def _hand(k: int) -> dict[str, float]:
    """docs/metrics.md with one k for every item (the study's formulas)."""
    n = len(ITEMS)
    n10 = sum(b and not a for _, b, a in ITEMS)
    n01 = sum(a and not b for _, b, a in ITEMS)
    pre = sum(b for _, b, _ in ITEMS) / n
    post = sum(a for _, _, a in ITEMS) / n
    f_chance = (1 - pre) / (k - 1) * (1 - post)
    bt_chance = (1 - pre) * (1 - post) / (k - 1)
    return {
        "F": n10 / n,
        "BT": n01 / n,
        "F_chance": f_chance,
        "BT_chance": bt_chance,
        "F_true": max(n10 / n - f_chance, 0.0),
        "BT_true": max(n01 / n - bt_chance, 0.0),
        "F_max": max((k * pre - 1) / (k - 1), 0.0),
        "BT_max": max((k * post - 1) / (k - 1), 0.0),
    }


def test_chance_k_4_is_the_hand_computation():
    table = pa.Table.from_pylist(_rows())
    res = compare(table, [("before", "after")], bootstrap=0, chance_k=4)
    (cell,) = res.pairs[0].cells
    for metric, want in _hand(4).items():
        assert getattr(cell, metric) == pytest.approx(want, abs=1e-12), metric
    assert res.to_dict()["settings"]["chance_k"] == 4
    # the default counts each item's own k (strata of 2, 3 and 5): a different chance term
    item = compare(table, [("before", "after")], bootstrap=0).pairs[0].cells[0]
    assert item.F_chance != pytest.approx(cell.F_chance)
    assert (
        "chance_k" not in compare(table, [("before", "after")], bootstrap=0).to_dict()["settings"]
    )


def test_nominal_uses_the_declared_k():
    rows = [{**r, "task": "bbh:date_understanding"} for r in _rows()]  # declared k = 6
    table = pa.Table.from_pylist(rows)
    nominal = compare(table, [("before", "after")], bootstrap=0, chance_k="nominal")
    six = compare(table, [("before", "after")], bootstrap=0, chance_k=6)
    assert nominal.pairs[0].cells[0].F_chance == pytest.approx(six.pairs[0].cells[0].F_chance)
    assert nominal.pairs[0].cells[0].F_chance == pytest.approx(_hand(6)["F_chance"])


@pytest.mark.parametrize("bad", [1, "0", "three", True])
def test_bad_chance_k(bad):
    with pytest.raises(ForgetmapError, match="--chance-k must be item, nominal or an integer"):
        compare(pa.Table.from_pylist(_rows()), [("before", "after")], chance_k=bad)


def test_cli_chance_k(tmp_path, capsys):
    store = ResultsStore(tmp_path / "res")
    for model in ("before", "after"):
        rows = [r for r in _rows() if r["model"] == model]
        store.append(pa.Table.from_pylist(rows), model, "run1")
    out = tmp_path / "c.json"
    argv = ["compare", "--results", str(store.root), "--before", "before", "--after", "after"]
    assert main([*argv, "--chance-k", "4", "--json", str(out), "--quiet"]) == 0
    cell = json.loads(out.read_text())["pairs"][0]["cells"][0]
    assert cell["F_true"] == pytest.approx(_hand(4)["F_true"])
    assert main([*argv, "--chance-k", "1", "--quiet"]) == 2
    assert "--chance-k must be" in capsys.readouterr().err
