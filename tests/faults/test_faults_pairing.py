"""Issue 9, items 6-7: paired rows that are not the same item (gold, options or question differ:
e.g. two dataset revisions) are counted per task and warned about, or excluded or refused on
request; rows without a partner are reported in the JSON warnings and on stderr, even --quiet."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from faultkit import cli, one_line_error

from forgetmap.records import ResultsStore

N = 12


def _rows(model: str, seeds=(0, 1), **changes) -> list[dict]:
    """N mmlu:anatomy items; `changes` maps item index -> dict of fields that differ."""
    out = []
    for i in range(N):
        for s in seeds:
            r = {"model": model, "task": "mmlu:anatomy", "item_id": f"q{i}", "seed": s,
                 "n_choices": 4, "gold": "A", "question": f"Question {i}?",
                 "choices": ["w", "x", "y", "z"], "correct": (i + s + len(model)) % 3 == 0}  # fmt: skip
            r.update(changes.get(f"q{i}", {}))
            out.append(r)
    return out


@pytest.fixture()
def res(tmp_path: Path) -> Path:
    store = ResultsStore(tmp_path / "res")
    store.append(pa.Table.from_pylist(_rows("before")), "before", "r")
    after = _rows(
        "after",
        q0={"gold": "B"},  # another answer key
        q1={"n_choices": 5, "choices": ["w", "x", "y", "z", "v"]},  # another option list
        q2={"question": "Question 2, reworded?"},  # another question
        q3={"n_choices": 1},  # an option count of 1 (the options themselves not logged)
    )
    store.append(pa.Table.from_pylist(after), "after", "r")
    return tmp_path / "res"


def _compare(capsys, res: Path, tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    out = tmp_path / "c.json"
    code, _, err = cli(capsys, "compare", "--results", res, "--before", "before", "--after",
                       "after", "--json", out, "--bootstrap", "0", "--quiet", *extra)  # fmt: skip
    return code, (json.loads(out.read_text()) if code == 0 else {}), err


def test_mismatched_items_are_counted_per_task_and_warned(res, tmp_path, capsys) -> None:
    code, result, err = _compare(capsys, res, tmp_path)
    assert code == 0, err
    (pair,) = result["pairs"]
    mm = pair["mismatched"]["mmlu:anatomy"]
    assert mm == {"items": 4, "rows": 8, "gold": 1, "options": 2, "question": 1}
    assert any("4 paired item(s)" in w and "mmlu:anatomy" in w for w in pair["warnings"])
    assert "mmlu:anatomy" in err and "differ" in err  # on stderr although --quiet
    assert sum(c["n"] for c in pair["cells"]) == N * 2  # warn: still compared


def test_mismatched_items_excluded_count_as_unpaired(res, tmp_path, capsys) -> None:
    code, result, err = _compare(capsys, res, tmp_path, "--on-mismatch", "exclude")
    assert code == 0, err
    (pair,) = result["pairs"]
    assert sum(c["n"] for c in pair["cells"]) == (N - 4) * 2
    assert pair["unpaired"]["mismatched"] == 8
    assert pair["mismatched"]["mmlu:anatomy"]["items"] == 4


def test_mismatched_items_refused_with_error(res, tmp_path, capsys) -> None:
    code, _, err = _compare(capsys, res, tmp_path, "--on-mismatch", "error")
    one_line_error(code, err, "mmlu:anatomy", "q0", "gold", "--on-mismatch")


def test_unpaired_rows_are_warned_in_json_and_on_stderr_even_quiet(tmp_path, capsys) -> None:
    store = ResultsStore(tmp_path / "res")
    store.append(pa.Table.from_pylist(_rows("before", seeds=(0, 1))), "before", "r")
    store.append(pa.Table.from_pylist(_rows("after", seeds=(1, 2))), "after", "r")
    code, result, err = _compare(capsys, tmp_path / "res", tmp_path)
    assert code == 0, err
    (pair,) = result["pairs"]
    assert pair["unpaired"] == {"before_only": N, "after_only": N}
    w = [w for w in pair["warnings"] if "unpaired" in w]
    assert w and "12 before-only" in w[0] and "12 after-only" in w[0] and "seed" in w[0]
    assert "12 before-only" in err
