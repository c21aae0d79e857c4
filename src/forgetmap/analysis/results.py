"""Typed compare results: a `Comparison` holds one `PairResult` per (before, after) pair, each with
its per-(task, seed) `Cell`s, per-task `TaskSummary`s and per-category `CategorySummary`s.

The JSON document (`Comparison.to_json()`, what `forgetmap compare --json` writes; fields in
docs/metrics.md) is these dataclasses written field by field, in field order, so its bytes are
fixed by the declarations below; tests/test_compare_pinned.py holds them to the output from
before the results were typed.

Adding a field without breaking that pin: declare it with `optional()` (default None), after the
existing fields. It is written only when set, so documents without it keep their bytes. Keys read
by `from_dict` that a class does not declare (a file from a newer forgetmap) are kept in `extra`
and written back after the declared fields, so a round trip never loses data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa

from forgetmap.errors import ForgetmapError

_OPTIONAL = {"optional": True}
T = TypeVar("T", bound="_Result")


def optional(default: Any = None) -> Any:
    """A keyword-only field written to JSON only when it is not None (module docstring)."""
    return field(default=default, metadata=_OPTIONAL, kw_only=True)


_JSON_FIELDS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _json_fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """(name, optional) of a result class's fields in JSON key order, `extra` left out."""
    if cls not in _JSON_FIELDS:
        spec = {f.name: bool(f.metadata.get("optional")) for f in dataclasses.fields(cls)}
        order = getattr(cls, "_json_order", None) or tuple(spec)
        _JSON_FIELDS[cls] = tuple((name, spec[name]) for name in order if name != "extra")
    return _JSON_FIELDS[cls]


def _required(cls: type) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _fields_of_type(cls: type, typ: Any) -> tuple[str, ...]:
    """Required (non-optional) fields of `cls` annotated `typ`, in declaration order."""
    hints = typing.get_type_hints(cls)
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if hints[f.name] == typ and not f.metadata.get("optional")
    )


def _encode(value: Any) -> Any:
    if isinstance(value, _Result):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


class _Result:
    """Base of the result dataclasses: JSON in field order, optional fields, extra keys."""

    extra: dict[str, Any]
    #: JSON key order when it differs from the field order
    _json_order: ClassVar[tuple[str, ...] | None] = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this result (plain dicts, lists, numbers, strings, None)."""
        out: dict[str, Any] = {}
        for name, is_optional in _json_fields(type(self)):
            value = getattr(self, name)
            if value is None and is_optional:
                continue
            out[name] = _encode(value)
        out.update(self.extra)
        return out

    @classmethod
    def _split(cls, d: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(declared fields present in `d`, the other keys); a missing required field is an error."""
        if not isinstance(d, Mapping):
            raise ForgetmapError(f"{where}: expected an object, got {type(d).__name__}")
        missing = [n for n in _required(cls) if n not in d]
        if missing:
            raise ForgetmapError(f"{where}: missing field(s) {', '.join(missing)}")
        names = {name for name, _ in _json_fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        return known, {k: v for k, v in d.items() if k not in names}


@dataclass
class Stat(_Result):
    """Mean and sample std (ddof=1) over seeds; std None with fewer than two seeds, both None
    when nothing was measured (e.g. NFI of cells without errors)."""

    mean: float | None
    std: float | None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    #: 95% bootstrap CI over items [low, high] (category and total rows; docs/statistics.md)
    ci95: list[float | None] | None = optional()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "stat") -> Stat:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


def _lower(ci: list[float | None] | None) -> float | None:
    """Lower bound of a complete interval; None when there is no interval."""
    if not ci or ci[0] is None or ci[1] is None:
        return None
    return float(ci[0])


@dataclass
class Interval(_Result):
    """A value with its 95% bootstrap CI ([None, None] when compare ran without bootstrap)."""

    mean: float | None
    ci95: list[float | None]
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "interval") -> Interval:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


@dataclass
class Pooled(_Result):
    """Flips pooled over seeds (and tasks), with the exact McNemar p-value on (n01, n10)."""

    n01: int
    n10: int
    p_mcnemar: float | None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "pooled") -> Pooled:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


@dataclass
class ItemView(_Result):
    """Multi-seed view of one task's items (docs/metrics.md): p_pre/p_post = share of seeds an
    item is right; expected flip rates; items flipped on every seed; majority-vote McNemar."""

    n_items: int
    p_pre_mean: float | None
    p_post_mean: float | None
    expected_P10: float | None
    expected_P01: float | None
    consistent_10: int
    consistent_01: int
    majority_10: int
    majority_01: int
    p_mcnemar_majority: float | None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "item_view") -> ItemView:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


@dataclass
class GroupItemView(ItemView):
    """Item view of a category or the total: rates averaged over its tasks, counts summed."""

    _json_order: ClassVar[tuple[str, ...] | None] = (
        "p_pre_mean",
        "p_post_mean",
        "expected_P10",
        "expected_P01",
        "n_items",
        "consistent_10",
        "consistent_01",
        "majority_10",
        "majority_01",
        "p_mcnemar_majority",
    )


@dataclass
class Unpaired(_Result):
    """Rows present on one side only (excluded from every metric)."""

    before_only: int
    after_only: int
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    # rows of both sides left out because the two sides are not the same item
    # (compare on_mismatch="exclude"); written only then
    mismatched: int | None = optional()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "unpaired") -> Unpaired:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


@dataclass
class Mismatch(_Result):
    """Paired items of one task that are not the same item on both sides (e.g. two dataset
    revisions): how many items and rows, and per field how many items differ in it."""

    items: int
    rows: int
    gold: int
    options: int  # option texts or option count
    question: int
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "mismatched") -> Mismatch:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


@dataclass
class Cell(_Result):
    """One (task, seed) of a pair: transition counts and every metric of docs/metrics.md.

    Fractions, not x100; None where undefined (NFI without errors, p without flips...).
    `ci` maps CI_METRICS names to their bootstrap [low, high] (None, None without bootstrap).
    """

    task: str
    seed: int
    category: str
    in_aggregate: bool
    n: int
    n00: int
    n01: int
    n10: int
    n11: int
    acc_pre: float | None
    acc_post: float | None
    acc_change: float | None
    F: float | None
    BT: float | None
    F_chance: float | None
    BT_chance: float | None
    F_true: float | None
    BT_true: float | None
    F_max: float | None
    BT_max: float | None
    conventional: float | None
    NFI: float | None
    F_no_answer: float | None
    F_answered: float | None
    p_mcnemar: float | None
    n10_no_answer: int
    n01_no_answer_before: int
    ci: dict[str, tuple[float | None, float | None]]
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    #: flips relative to the before-model's right answers, as the study's CSVs (docs/metrics.md)
    F_rel: float | None = optional()
    BT_rel: float | None = optional()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "cell") -> Cell:
        known, extra = cls._split(d, where)
        known["ci"] = {m: (v[0], v[1]) for m, v in (known["ci"] or {}).items()}
        return cls(**known, extra=extra)


@dataclass
class TaskSummary(_Result):
    """One task of a pair over its seeds: {mean, std} of the TASK_METRICS, pooled McNemar and
    the multi-seed item view."""

    category: str
    in_aggregate: bool
    seeds: list[int]
    n: int
    F_true: Stat
    BT_true: Stat
    acc_pre: Stat
    acc_post: Stat
    F: Stat
    BT: Stat
    F_max: Stat
    BT_max: Stat
    conventional: Stat
    NFI: Stat
    F_no_answer: Stat
    pooled: Pooled
    n10_no_answer: int
    item_view: ItemView
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    #: sampling-noise floor per model: {"before": {"F_true", "BT_true"}, "after": {...}}
    noise_floor: dict[str, dict[str, float | None]] | None = optional()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "task") -> TaskSummary:
        known, extra = cls._split(d, where)
        for name in TASK_METRICS:
            known[name] = Stat.from_dict(known[name], f"{where}.{name}")
        known["pooled"] = Pooled.from_dict(known["pooled"], f"{where}.pooled")
        known["item_view"] = ItemView.from_dict(known["item_view"], f"{where}.item_view")
        return cls(**known, extra=extra)


@dataclass
class CategorySummary(_Result):
    """A category (or the pair's total) aggregated as in the study: per seed the mean over its
    tasks (over categories for the total), then {mean, std} over seeds of the AGG_METRICS.

    `per_seed` and `tasks` are set for categories, `n_categories` for the total.
    """

    F_true: Stat
    BT_true: Stat
    acc_pre: Stat
    acc_post: Stat
    acc_change: Stat
    F: Stat
    BT: Stat
    F_chance: Stat
    BT_chance: Stat
    F_max: Stat
    BT_max: Stat
    conventional: Stat
    NFI: Stat
    F_no_answer: Stat
    F_answered: Stat
    _: KW_ONLY
    per_seed: dict[str, dict[str, float]] | None = optional()
    n_categories: int | None = optional()
    n_tasks: int
    tasks: list[str] | None = optional()
    pooled: Pooled
    item_view: GroupItemView
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    #: F_true (BT_true) minus the before-model's noise floor, with its CI (docs/statistics.md)
    F_excess: Interval | None = optional()
    BT_excess: Interval | None = optional()
    #: smallest F_excess detectable with 80% power at alpha 0.05
    mde_F_true: float | None = optional()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "category") -> CategorySummary:
        known, extra = cls._split(d, where)
        for name in ("F_excess", "BT_excess"):
            if known.get(name) is not None:
                known[name] = Interval.from_dict(known[name], f"{where}.{name}")
        for name in AGG_METRICS:
            known[name] = Stat.from_dict(known[name], f"{where}.{name}")
        known["pooled"] = Pooled.from_dict(known["pooled"], f"{where}.pooled")
        known["item_view"] = GroupItemView.from_dict(known["item_view"], f"{where}.item_view")
        return cls(**known, extra=extra)

    def stat(self, metric: str) -> Stat | None:
        """The {mean, std} of `metric` (one of AGG_METRICS), None if there is no such metric."""
        value = getattr(self, metric, None) if metric in AGG_METRICS else None
        return value if isinstance(value, Stat) else None

    def distinguishable(self, metric: str = "F_true") -> bool | None:
        """Is F_true (BT_true) distinguishable from sampling noise (docs/statistics.md)?

        False when its 95% CI reaches 0, or when the CI of its excess over the before-model's
        noise floor (F_excess / BT_excess) reaches 0 or below; None without intervals.
        """
        stat = self.stat(metric)
        excess = getattr(self, metric.replace("_true", "_excess"), None)
        low = _lower(stat.ci95 if stat is not None else None)
        ex_low = _lower(excess.ci95 if isinstance(excess, Interval) else None)
        if low is None and ex_low is None:
            return None
        if low is not None and low <= 0.0:
            return False
        return not (ex_low is not None and ex_low <= 0.0)


@dataclass
class PairResult(_Result):
    """Everything compare measured for one (before, after) pair.

    `total` is None when no task of the pair counts in aggregates (written as `{}`).
    """

    before: str
    after: str
    seeds: list[int]
    n_paired: int
    cells: list[Cell]
    tasks: dict[str, TaskSummary]
    categories: dict[str, CategorySummary]
    total: CategorySummary | None
    unpaired: Unpaired
    unpaired_by_task: dict[str, Unpaired]
    excluded_from_aggregate: list[str]
    warnings: list[str]
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    #: each model against itself across seeds, per category and "Total":
    #: {"before": {row: {"F_true": Interval, "BT_true": Interval}}, "after": {...}}
    noise_floor: dict[str, dict[str, dict[str, Interval]]] | None = optional()
    # task -> items whose gold, options or question differ between the sides; only when some do
    mismatched: dict[str, Mismatch] | None = optional()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.total is None:
            out["total"] = {}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "pair") -> PairResult:
        known, extra = cls._split(d, where)
        w = f"{where} {known['before']} -> {known['after']}"
        known["cells"] = [Cell.from_dict(c, f"{w} cell {i}") for i, c in enumerate(known["cells"])]
        known["tasks"] = {
            t: TaskSummary.from_dict(v, f"{w} task {t}") for t, v in known["tasks"].items()
        }
        known["categories"] = {
            c: CategorySummary.from_dict(v, f"{w} category {c}")
            for c, v in known["categories"].items()
        }
        total = known["total"]
        known["total"] = CategorySummary.from_dict(total, f"{w} total") if total else None
        known["unpaired"] = Unpaired.from_dict(known["unpaired"], f"{w} unpaired")
        known["unpaired_by_task"] = {
            t: Unpaired.from_dict(v, f"{w} unpaired {t}")
            for t, v in known["unpaired_by_task"].items()
        }
        if known.get("noise_floor") is not None:
            known["noise_floor"] = {
                side: {
                    row: {m: Interval.from_dict(v, f"{w} noise_floor") for m, v in ms.items()}
                    for row, ms in rows.items()
                }
                for side, rows in known["noise_floor"].items()
            }
        if known.get("mismatched") is not None:
            known["mismatched"] = {
                t: Mismatch.from_dict(v, f"{w} mismatched {t}")
                for t, v in known["mismatched"].items()
            }
        return cls(**known, extra=extra)

    @property
    def key(self) -> tuple[str, str]:
        return (self.before, self.after)

    def summary(self, category: str) -> CategorySummary | None:
        """A category's summary, or the total for `"Total"`; None if the pair lacks it."""
        return self.total if category == TOTAL else self.categories.get(category)


@dataclass
class Settings(_Result):
    """How the comparison was computed."""

    bootstrap: int
    bootstrap_seed: int
    ci_level: float
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the test behind `mde_F_true`: {"alpha": 0.05, "power": 0.8}
    mde: dict[str, float] | None = optional()
    #: options the chance terms count when not each item's own: "nominal" or an integer
    chance_k: str | int | None = optional()
    #: letter-set tasks rescored from pred and gold: "exact_set" or "any_gold"
    multi_answer: str | None = optional()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "settings") -> Settings:
        known, extra = cls._split(d, where)
        return cls(**known, extra=extra)


@dataclass
class Comparison(_Result):
    """The result of `forgetmap.compare`: one PairResult per requested pair, in request order."""

    pairs: list[PairResult]
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> str:
        """The `compare --json` document (compact; NaN never occurs: undefined values are null)."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "comparison") -> Comparison:
        """Rebuild from a `compare --json` document; a malformed one raises ForgetmapError
        naming the part (`where`)."""
        if not isinstance(d, Mapping) or not isinstance(d.get("pairs"), list):
            raise ForgetmapError(f"{where}: not a `forgetmap compare --json` file")
        known, extra = cls._split(d, where)
        try:
            pairs = [
                PairResult.from_dict(p, f"{where} pair #{i}") for i, p in enumerate(d["pairs"])
            ]
        except (TypeError, KeyError, IndexError) as exc:
            raise ForgetmapError(f"{where}: malformed compare document ({exc!r})") from None
        return cls(pairs, Settings.from_dict(known["settings"], f"{where} settings"), extra)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Comparison:
        """Read a file written by `compare --json` (or a report's comparison.json)."""
        p = Path(path)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ForgetmapError(f"cannot read comparison {p}: {exc}") from None
        return cls.from_dict(doc, str(p))

    def __iter__(self) -> Iterator[PairResult]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def pair(self, before: str, after: str) -> PairResult:
        """The result of one pair; ForgetmapError naming the compared pairs if absent."""
        for p in self.pairs:
            if p.before == before and p.after == after:
                return p
        have = ", ".join(f"{p.before} -> {p.after}" for p in self.pairs)
        raise ForgetmapError(f"pair {before} -> {after} not in the comparison (has: {have})")

    def cells_table(self) -> pa.Table:
        """All cells as one flat Arrow table (before, after, cell fields, `<metric>_ci_low/high`)."""
        rows = []
        for pr in self.pairs:
            for c in pr.cells:
                row: dict[str, Any] = {"before": pr.before, "after": pr.after}
                row.update({k: v for k, v in c.to_dict().items() if k != "ci"})
                for m, (lo, hi) in c.ci.items():
                    row[f"{m}_ci_low"] = lo
                    row[f"{m}_ci_high"] = hi
                rows.append(row)
        return pa.Table.from_pylist(rows)


TOTAL = "Total"

#: Per-cell values averaged into categories and the total (mean and std over seeds).
AGG_METRICS: tuple[str, ...] = _fields_of_type(CategorySummary, Stat)
#: Per-task {mean, std} over seeds.
TASK_METRICS: tuple[str, ...] = _fields_of_type(TaskSummary, Stat)
#: Per-cell float metrics, in JSON order.
CELL_FLOATS: tuple[str, ...] = _fields_of_type(Cell, float | None)
#: Per-cell integer counts, in JSON order.
CELL_COUNTS: tuple[str, ...] = ("n", "n00", "n01", "n10", "n11")
