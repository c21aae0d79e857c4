"""Per-pair drill-down data: the items that flipped, with both models' answers on every seed.

The data comes from `forgetmap.analysis.flips.flip_listing` (the pairing join): every flip,
written in full to CSV, and for the HTML only the first `cap` items in rank order, with every
seed of both models (flipped or not: a flip on one seed of three reads differently from one on
all three) and responses cut to their last RESPONSE_TAIL characters (where the answer is), so a
study with long reasoning traces stays openable in a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.csv as pacsv

from forgetmap.analysis.flips import flip_listing
from forgetmap.atomic import atomic_write
from forgetmap.letters import letter_index
from forgetmap.records import ResultsStore
from forgetmap.report.model import PairView

RESPONSE_TAIL = 1000
DEFAULT_CAP = 300
FLIP_NAMES = {"1->0": "forgotten", "0->1": "gained"}


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
        i = letter_index((self.gold or "").strip())
        return i if i is not None and i < len(self.choices) else None

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
    return {t: v.category for t, v in pair.result.tasks.items()}


def collect_items(
    store: ResultsStore, pair: PairView, cap: int = DEFAULT_CAP, csv_path: Path | None = None
) -> PairItems:
    """Flipped items of `pair` (see `rank_items` for the order), at most `cap` with seed details.

    Writes the complete `flipped_items` listing (one row per flipped item and seed, full
    responses) to `csv_path` when given.
    """
    listing = flip_listing(store, pair.before, pair.after, cap=cap, response_tail=RESPONSE_TAIL)
    if csv_path is not None:
        atomic_write(csv_path, lambda tmp: pacsv.write_csv(listing.flips, str(tmp)))
    ranked = listing.items
    n_f = pc.sum(pc.greater(ranked.column("n_forgotten"), 0)).as_py() or 0
    n_g = pc.sum(pc.greater(ranked.column("n_gained"), 0)).as_py() or 0
    return PairItems(
        pair,
        _rows(listing.shown.to_pylist(), _cat_map(pair)),
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
