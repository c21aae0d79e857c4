"""What every report part reads: pairs grouped and labelled, categories ordered, values looked up.

The comparison dict (DESIGN section 9, the `compare --json` shape) is the only input for numbers;
this module never recomputes a metric, it only selects, orders and labels what compare produced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from forgetmap.errors import ForgetmapError

# DESIGN section 5 order; categories not listed here follow alphabetically.
CATEGORY_ORDER = (
    "Commonsense",
    "Culture",
    "Logic",
    "Knowledge",
    "Language",
    "Liberal Arts",
    "Math",
    "Safety/Truth",
    "Science/Tech",
    "Instruction Following",
)
TOTAL = "Total"
DEFAULT_GROUP = "All pairs"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_ORDER_INDEX = {_norm(c): i for i, c in enumerate(CATEGORY_ORDER)}


def order_categories(categories: Iterable[str]) -> list[str]:
    """Categories in the study's order (case/punctuation-insensitive), unknown ones after, sorted."""
    uniq = sorted(set(categories))
    return sorted(uniq, key=lambda c: (_ORDER_INDEX.get(_norm(c), len(_ORDER_INDEX)), c.lower()))


def short_name(model: str) -> str:
    """`Qwen/Qwen2.5-7B-Instruct` -> `Qwen2.5-7B-Instruct`; local paths keep their last part."""
    return model.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or model


@dataclass(frozen=True)
class PairView:
    """One compared pair as the report shows it."""

    before: str
    after: str
    label: str  # short, unique among the report's pairs
    entry: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def title(self) -> str:
        return f"{short_name(self.before)} → {short_name(self.after)}"

    @property
    def slug(self) -> str:
        raw = f"{short_name(self.before)}__{short_name(self.after)}"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)

    def stat(self, category: str, metric: str) -> tuple[float, float | None] | None:
        """(mean, std) of `metric` in `category` (or TOTAL); None when the pair lacks it."""
        block = (
            self.entry.get("total")
            if category == TOTAL
            else self.entry.get("categories", {}).get(category)
        )
        if not block or metric not in block:
            return None
        value = block[metric]
        if isinstance(value, Mapping):
            mean, std = value.get("mean"), value.get("std")
        else:  # a plain number (e.g. a pooled statistic)
            mean, std = value, None
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return None
        if std is not None and isinstance(std, float) and math.isnan(std):
            std = None
        return float(mean), (None if std is None else float(std))

    def categories(self) -> list[str]:
        return order_categories(self.entry.get("categories", {}).keys())


def _labels(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """After-model short names; `before → after` where the after name alone is ambiguous."""
    afters = [short_name(a) for _, a in pairs]
    out = []
    for (b, _a), short in zip(pairs, afters, strict=True):
        if afters.count(short) > 1:
            out.append(f"{short_name(b)} → {short}")
        else:
            out.append(short)
    # still ambiguous (same short names, different orgs): fall back to full ids
    return [
        lab if out.count(lab) == 1 else f"{b} → {a}" for lab, (b, a) in zip(out, pairs, strict=True)
    ]


@dataclass
class ReportModel:
    """Pairs of a comparison, labelled, with the user's grouping (default: one group)."""

    pairs: list[PairView]
    groups: dict[str, list[PairView]]

    @property
    def categories(self) -> list[str]:
        return order_categories(c for p in self.pairs for c in p.entry.get("categories", {}))

    def group_categories(self, group: str) -> list[str]:
        return order_categories(
            c for p in self.groups[group] for c in p.entry.get("categories", {})
        )


def build_model(
    comparison: Mapping[str, Any],
    groups: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> ReportModel:
    """Validate the comparison dict and resolve `groups` against its pairs.

    A grouped pair that the comparison does not contain is an error naming it (a study config and
    a results directory that disagree should not silently lose a column).
    """
    if not isinstance(comparison, Mapping) or not isinstance(comparison.get("pairs"), list):
        raise ForgetmapError(
            "comparison must be a dict with a 'pairs' list (the compare --json shape)"
        )
    raw = comparison["pairs"]
    if not raw:
        raise ForgetmapError("comparison has no pairs; nothing to report")
    keys: list[tuple[str, str]] = []
    for i, p in enumerate(raw):
        if not isinstance(p, Mapping) or "before" not in p or "after" not in p:
            raise ForgetmapError(f"comparison pair #{i} lacks 'before'/'after'")
        keys.append((str(p["before"]), str(p["after"])))
    labels = _labels(keys)
    views = [
        PairView(b, a, lab, entry) for (b, a), lab, entry in zip(keys, labels, raw, strict=True)
    ]
    by_key = {(v.before, v.after): v for v in views}
    if not groups:
        return ReportModel(views, {DEFAULT_GROUP: list(views)})
    resolved: dict[str, list[PairView]] = {}
    for name, members in groups.items():
        missing = [f"{b} -> {a}" for b, a in members if (b, a) not in by_key]
        if missing:
            raise ForgetmapError(
                f"group {name!r}: pair(s) not in the comparison: {', '.join(missing)}"
            )
        resolved[name] = [by_key[(b, a)] for b, a in members]
    return ReportModel(views, resolved)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage number with `digits` decimals ('–' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f}"
