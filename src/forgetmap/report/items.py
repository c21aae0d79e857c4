"""Per-pair drill-down data: the items that flipped, with both models' answers on every seed.

Which (task, item, seed) flipped comes from `forgetmap.analysis.flips.flipped_items` (written in
full to CSV). For the HTML only the first `cap` items are fetched again, with every seed of both
models (flipped or not: a flip on one seed of three reads differently from one on all three) and
responses cut to their last RESPONSE_TAIL characters (where the answer is), so a study with long
reasoning traces stays openable in a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from forgetmap.records import ResultsStore
from forgetmap.report.model import PairView

RESPONSE_TAIL = 1000
DEFAULT_CAP = 300
FLIP_NAMES = {"1->0": "forgotten", "0->1": "gained"}

_SHOWN = """
SELECT t.task, t.item_id, b.seed, f.flip, t.n_forgotten, t.n_gained,
       coalesce(b.question, a.question) AS question, coalesce(b.gold, a.gold) AS gold,
       b.choices, coalesce(b.category, a.category) AS category,
       b.correct AS before_correct, a.correct AS after_correct,
       b.pred AS before_pred, a.pred AS after_pred,
       b.extract_status AS before_status, a.extract_status AS after_status,
       b.extract_rule AS before_rule, a.extract_rule AS after_rule,
       right(b.response, $tail) AS before_response, right(a.response, $tail) AS after_response,
       length(b.response) AS before_len, length(a.response) AS after_len
FROM top t
JOIN records b ON b.model = $before AND b.task = t.task AND b.item_id = t.item_id
JOIN records a ON a.model = $after AND a.task = b.task AND a.item_id = b.item_id
                  AND a.seed = b.seed
LEFT JOIN flips f ON f.task = b.task AND f.item_id = b.item_id AND f.seed = b.seed
ORDER BY t.rank, b.seed
"""


@dataclass
class SeedAnswer:
    seed: int
    flip: str | None  # 'forgotten', 'gained' or None (no flip on this seed)
    before_correct: bool
    after_correct: bool
    before_pred: str | None
    after_pred: str | None
    before_status: str | None
    after_status: str | None
    before_rule: str | None
    after_rule: str | None
    before_response: str | None
    after_response: str | None
    before_len: int
    after_len: int


@dataclass
class ItemRow:
    task: str
    category: str
    item_id: str
    question: str | None
    gold: str | None
    choices: list[str]
    n_forgotten: int
    n_gained: int
    seeds: list[SeedAnswer] = field(default_factory=list)

    @property
    def gold_index(self) -> int | None:
        """Position of the gold letter among `choices` (None for free-form answers)."""
        g = (self.gold or "").strip()
        if len(g) == 1 and "A" <= g <= "Z" and ord(g) - 65 < len(self.choices):
            return ord(g) - 65
        return None

    @property
    def kinds(self) -> list[str]:
        return [k for k, n in (("forgotten", self.n_forgotten), ("gained", self.n_gained)) if n]

    @property
    def statuses(self) -> list[str]:
        """Extraction status of the wrong side of each flip (after for forgotten, before for gained)."""
        wrong = {"forgotten": "after_status", "gained": "before_status"}
        return sorted(
            {getattr(s, wrong[s.flip]) or "unknown" for s in self.seeds if s.flip in wrong}
        )


@dataclass
class PairItems:
    pair: PairView
    rows: list[ItemRow]
    n_items: int  # flipped items in total
    n_forgotten_items: int
    n_gained_items: int
    csv_path: Path | None


def _cat_map(pair: PairView) -> Mapping[str, str]:
    return {t: v.get("category") for t, v in (pair.entry.get("tasks") or {}).items()}


def rank_items(flips: pa.Table) -> pa.Table:
    """One row per flipped item: task, item_id, n_forgotten, n_gained, rank (0 = shown first).

    Items flipped the same way on the most seeds come first (consistent flips are the signal,
    one-seed flips are often sampling noise); forgotten before gained at equal counts.
    """
    marked = flips.select(["task", "item_id"]).append_column(
        "f", pc.cast(pc.equal(flips.column("flip"), "1->0"), pa.int64())
    )
    g = marked.group_by(["task", "item_id"]).aggregate([("f", "sum"), ("f", "count")])
    nf = g.column("f_sum")
    ng = pc.subtract(g.column("f_count"), nf)
    items = pa.table(
        {
            "task": g.column("task"),
            "item_id": g.column("item_id"),
            "n_forgotten": nf,
            "n_gained": ng,
            "key": pc.max_element_wise(nf, ng),
        }
    )
    order = pc.sort_indices(
        items,
        [
            ("key", "descending"),
            ("n_forgotten", "descending"),
            ("task", "ascending"),
            ("item_id", "ascending"),
        ],
    )
    items = items.take(order).drop_columns(["key"])
    return items.append_column("rank", pa.array(range(items.num_rows), pa.int64()))


def collect_items(
    store: ResultsStore, pair: PairView, cap: int = DEFAULT_CAP, csv_path: Path | None = None
) -> PairItems:
    """Flipped items of `pair` (see `rank_items` for the order), at most `cap` with seed details.

    Writes the complete `flipped_items` listing (one row per flipped item and seed, full
    responses) to `csv_path` when given.
    """
    from forgetmap.analysis.flips import flipped_items

    flips = flipped_items(store, pair.before, pair.after)
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(flips, csv_path)
    ranked = rank_items(flips)
    n_f = pc.sum(pc.greater(ranked.column("n_forgotten"), 0)).as_py() or 0
    n_g = pc.sum(pc.greater(ranked.column("n_gained"), 0)).as_py() or 0
    top = ranked.slice(0, cap)
    con = store.duckdb([pair.before, pair.after])
    try:
        con.register("top", top)
        con.register("flips", flips.select(["task", "item_id", "seed", "flip"]))
        shown = con.sql(
            _SHOWN, params={"before": pair.before, "after": pair.after, "tail": RESPONSE_TAIL}
        ).to_arrow_table()
    finally:
        con.close()
    return PairItems(
        pair,
        _rows(shown.to_pylist(), _cat_map(pair)),
        ranked.num_rows,
        int(n_f),
        int(n_g),
        csv_path,
    )


def _rows(records: list[dict[str, Any]], cats: Mapping[str, str]) -> list[ItemRow]:
    """Group the (already capped, ordered) seed rows into one ItemRow per item."""
    rows: list[ItemRow] = []
    index: dict[tuple[str, str], ItemRow] = {}
    for r in records:
        key = (r["task"], r["item_id"])
        row = index.get(key)
        if row is None:
            row = ItemRow(
                task=r["task"],
                category=cats.get(r["task"]) or r["category"] or r["task"].split(":", 1)[0],
                item_id=r["item_id"],
                question=r["question"],
                gold=r["gold"],
                choices=list(r["choices"] or []),
                n_forgotten=int(r["n_forgotten"]),
                n_gained=int(r["n_gained"]),
            )
            index[key] = row
            rows.append(row)
        row.seeds.append(
            SeedAnswer(
                seed=int(r["seed"]),
                flip=FLIP_NAMES.get(r["flip"]) if r["flip"] else None,
                before_correct=bool(r["before_correct"]),
                after_correct=bool(r["after_correct"]),
                before_pred=r["before_pred"],
                after_pred=r["after_pred"],
                before_status=r["before_status"],
                after_status=r["after_status"],
                before_rule=r["before_rule"],
                after_rule=r["after_rule"],
                before_response=r["before_response"],
                after_response=r["after_response"],
                before_len=int(r["before_len"] or 0),
                after_len=int(r["after_len"] or 0),
            )
        )
    return rows
