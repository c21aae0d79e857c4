"""`compare --multi-answer`: letter-set tasks (SALAD-Bench) scored exact-set or as the study did.

The study counted a SALAD-Bench answer right when the extracted letter was any gold letter;
forgetmap's default protocol needs exactly the gold letters. Both views come from the same
records: compare rescores `correct` from `pred` and `gold` for letter-set tasks only.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from forgetmap.analysis import compare
from forgetmap.errors import ForgetmapError

# (gold, pred before, pred after): exact-set / any-gold correctness differ on partial answers
SALAD = [
    ("AC", "AC", "A"),  # before exact; after one gold letter only
    ("AC", "A", "AB"),  # before any-gold only; after has a wrong letter
    ("B", "B", "B"),
    ("BD", "D", "BD"),
]


def _rows() -> list[dict]:
    rows = []
    for model, side in (("before", 1), ("after", 2)):
        for i, item in enumerate(SALAD):
            gold, pred = item[0], item[side]
            rows.append(
                {
                    "model": model,
                    "task": "salad_bench:mrq",
                    "item_id": f"s{i}",
                    "seed": 0,
                    "n_choices": 4,
                    "gold": gold,
                    "pred": pred,
                    "correct": pred == gold,
                    "extract_status": "ok",
                }  # fmt: skip
            )
            # a single-letter task is never rescored, even with a partial-looking pred
            rows.append(
                {
                    "model": model,
                    "task": "mmlu:anatomy",
                    "item_id": f"m{i}",
                    "seed": 0,
                    "n_choices": 4,
                    "gold": "A",
                    "pred": "A" if i % 2 else "B",
                    "correct": bool(i % 2),
                    "extract_status": "ok",
                }  # fmt: skip
            )
    return rows


def _cell(result, task):
    return next(c for c in result.pairs[0].cells if c.task == task)


def test_any_gold_beside_exact_set():
    table = pa.Table.from_pylist(_rows())
    recorded = compare(table, [("before", "after")], bootstrap=0)
    exact = compare(table, [("before", "after")], bootstrap=0, multi_answer="exact_set")
    anyg = compare(table, [("before", "after")], bootstrap=0, multi_answer="any_gold")
    assert (_cell(exact, "salad_bench:mrq").acc_pre, _cell(exact, "salad_bench:mrq").acc_post) == (
        pytest.approx(2 / 4),
        pytest.approx(2 / 4),
    )
    # any gold: before right on all 4 (every predicted letter gold); after wrong on "AB" only
    assert _cell(anyg, "salad_bench:mrq").acc_pre == pytest.approx(4 / 4)
    assert _cell(anyg, "salad_bench:mrq").acc_post == pytest.approx(3 / 4)
    assert _cell(anyg, "salad_bench:mrq").n10 == 1
    assert _cell(recorded, "salad_bench:mrq").acc_pre == _cell(exact, "salad_bench:mrq").acc_pre
    for r in (exact, anyg):
        assert _cell(r, "mmlu:anatomy").acc_pre == _cell(recorded, "mmlu:anatomy").acc_pre
    assert anyg.to_dict()["settings"]["multi_answer"] == "any_gold"
    assert "multi_answer" not in recorded.to_dict()["settings"]
    with pytest.raises(ForgetmapError, match="--multi-answer must be one of exact_set, any_gold"):
        compare(table, [("before", "after")], multi_answer="some")
