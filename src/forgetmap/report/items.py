"""Per-pair drill-down data: the items that flipped, with both models' answers on every seed.

DuckDB joins the two models' records by (task, item_id, seed) and keeps every item with at least
one flipped seed. The full listing (untruncated responses) is streamed to CSV by DuckDB itself;
only the first `cap` items, with responses cut to their last RESPONSE_TAIL characters (where the
answer is), come into Python for the HTML page, so a study with long reasoning traces stays
openable in a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgetmap.records import ResultsStore
from forgetmap.report.model import PairView

RESPONSE_TAIL = 1500
DEFAULT_CAP = 300

_JOIN = """
WITH b AS (SELECT task, item_id, seed, correct, pred, extract_status, extract_rule, response,
                  question, gold, choices, category
           FROM records WHERE model = $before),
     a AS (SELECT task, item_id, seed, correct, pred, extract_status, extract_rule, response,
                  question, gold
           FROM records WHERE model = $after),
     j AS (SELECT b.task, b.item_id, b.seed,
                  CASE WHEN b.correct AND NOT a.correct THEN 'forgotten'
                       WHEN a.correct AND NOT b.correct THEN 'gained'
                       ELSE NULL END AS flip,
                  b.correct AS before_correct, a.correct AS after_correct,
                  b.pred AS before_pred, a.pred AS after_pred,
                  b.extract_status AS before_status, a.extract_status AS after_status,
                  b.extract_rule AS before_rule, a.extract_rule AS after_rule,
                  coalesce(b.question, a.question) AS question,
                  coalesce(b.gold, a.gold) AS gold, b.choices, b.category,
                  b.response AS before_response, a.response AS after_response
           FROM b JOIN a USING (task, item_id, seed)),
     f AS (SELECT task, item_id,
                  count(*) FILTER (WHERE flip = 'forgotten') AS n_forgotten,
                  count(*) FILTER (WHERE flip = 'gained') AS n_gained
           FROM j GROUP BY task, item_id
           HAVING n_forgotten + n_gained > 0)
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
    def kinds(self) -> list[str]:
        return [k for k, n in (("forgotten", self.n_forgotten), ("gained", self.n_gained)) if n]

    @property
    def statuses(self) -> list[str]:
        """Extraction status of the wrong side of each flip (after for forgotten, before for gained)."""
        out = []
        for s in self.seeds:
            st = s.after_status if s.flip == "forgotten" else s.before_status if s.flip else None
            if s.flip:
                out.append(st or "unknown")
        return sorted(set(out))


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


def collect_items(
    store: ResultsStore, pair: PairView, cap: int = DEFAULT_CAP, csv_path: Path | None = None
) -> PairItems:
    """Flipped items of `pair`, at most `cap` of them with seed details.

    Order: items flipped the same way on the most seeds first (consistent flips are the signal;
    one-seed flips are often sampling noise), forgotten before gained at equal counts.

    Writes the complete listing to `csv_path` when given (one row per item and seed).
    """
    con = store.duckdb([pair.before, pair.after])
    try:
        params = {"before": pair.before, "after": pair.after}
        counts = con.sql(
            _JOIN + "SELECT count(*), count(*) FILTER (WHERE n_forgotten > 0), "
            "count(*) FILTER (WHERE n_gained > 0) FROM f",
            params=params,
        ).fetchall()[0]
        n_items, n_f, n_g = (int(x) for x in counts)
        if csv_path is not None:
            csv_path.parent.mkdir(parents=True, exist_ok=True)
            full = (
                _JOIN
                + "SELECT j.task, j.category, j.item_id, j.seed, j.flip, f.n_forgotten, f.n_gained, "
                "j.question, j.gold, j.before_correct, j.after_correct, j.before_pred, "
                "j.after_pred, j.before_status, j.after_status, j.before_rule, j.after_rule, "
                "j.before_response, j.after_response "
                "FROM j JOIN f USING (task, item_id) "
                "ORDER BY greatest(f.n_forgotten, f.n_gained) DESC, f.n_forgotten DESC, j.task, j.item_id, j.seed"
            )
            rel = con.sql(full, params=params)
            rel.write_csv(str(csv_path), header=True)
        shown = con.sql(
            _JOIN
            + """, top AS (SELECT * FROM f
                          ORDER BY greatest(n_forgotten, n_gained) DESC, n_forgotten DESC, task, item_id LIMIT $cap)
            SELECT j.task, j.item_id, j.seed, j.flip, top.n_forgotten, top.n_gained,
                   j.question, j.gold, j.choices, j.category,
                   j.before_correct, j.after_correct, j.before_pred, j.after_pred,
                   j.before_status, j.after_status, j.before_rule, j.after_rule,
                   right(j.before_response, $tail) AS before_response,
                   right(j.after_response, $tail) AS after_response,
                   length(j.before_response) AS before_len, length(j.after_response) AS after_len
            FROM j JOIN top USING (task, item_id)
            ORDER BY greatest(top.n_forgotten, top.n_gained) DESC, top.n_forgotten DESC, j.task, j.item_id, j.seed""",
            params={**params, "cap": int(cap), "tail": RESPONSE_TAIL},
        ).to_arrow_table()
    finally:
        con.close()
    return PairItems(pair, _rows(shown.to_pylist(), _cat_map(pair)), n_items, n_f, n_g, csv_path)


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
                flip=r["flip"],
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
