"""What every report part reads: pairs grouped and labelled, categories ordered, values looked up.

The comparison (`forgetmap.analysis.results.Comparison`, or a `compare --json` document) is the
only input for numbers; this module never recomputes a metric, it only selects, orders and labels
what compare produced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from forgetmap.analysis.results import Comparison, PairResult
from forgetmap.errors import ForgetmapError

# The study's category order (appendix B.2); categories not listed here follow alphabetically.
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
    result: PairResult = field(repr=False, compare=False, hash=False)

    @property
    def title(self) -> str:
        return f"{short_name(self.before)} → {short_name(self.after)}"

    @property
    def slug(self) -> str:
        raw = f"{short_name(self.before)}__{short_name(self.after)}"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)

    def stat(self, category: str, metric: str) -> tuple[float, float | None] | None:
        """(mean, std) of `metric` in `category` (or TOTAL); None when the pair lacks it."""
        block = self.result.summary(category)
        value = block.stat(metric) if block is not None else None
        if value is None or value.mean is None:
            return None
        return float(value.mean), (None if value.std is None else float(value.std))

    def categories(self) -> list[str]:
        return order_categories(self.result.categories)

    def ci(self, category: str, metric: str) -> tuple[float, float] | None:
        """95% bootstrap CI of `metric` (an aggregated metric, F_excess or BT_excess) in
        `category` (or TOTAL); None when not computed."""
        block = self.result.summary(category)
        if block is None:
            return None
        value = getattr(block, metric, None) if metric.endswith("_excess") else block.stat(metric)
        ci = getattr(value, "ci95", None)
        if not ci or ci[0] is None or ci[1] is None:
            return None
        return float(ci[0]), float(ci[1])

    def excess(
        self, category: str, metric: str = "F_excess"
    ) -> tuple[float, tuple[float, float] | None] | None:
        """(value, 95% CI or None) of F_excess / BT_excess in `category` (or TOTAL)."""
        block = self.result.summary(category)
        value = getattr(block, metric, None) if block is not None else None
        if value is None or value.mean is None:
            return None
        return float(value.mean), self.ci(category, metric)

    def floor(self, category: str, side: str = "before") -> float | None:
        """The `side` model's sampling-noise floor (F_true against itself) in `category`."""
        floors = self.result.noise_floor or {}
        value = (floors.get(side) or {}).get(category, {}).get("F_true")
        return None if value is None or value.mean is None else float(value.mean)

    def mde(self, category: str) -> float | None:
        """Minimum detectable F_true (beyond noise) of `category` (or TOTAL)."""
        block = self.result.summary(category)
        value = block.mde_F_true if block is not None else None
        return None if value is None else float(value)

    def noise_verdict(self, metric: str = "F_true") -> dict[str, list[str]]:
        """Categories whose `metric` is / is not distinguishable from noise ("yes", "no"), and
        those without an interval ("unknown"), in report order."""
        out: dict[str, list[str]] = {"yes": [], "no": [], "unknown": []}
        for c in self.categories():
            flag = self.distinguishable(c, metric)
            out["unknown" if flag is None else "yes" if flag else "no"].append(c)
        return out

    def distinguishable(self, category: str, metric: str) -> bool | None:
        """Is `metric` (F_true or BT_true) in `category` distinguishable from sampling noise?
        (CategorySummary.distinguishable; None when the comparison has no interval.)"""
        block = self.result.summary(category)
        return block.distinguishable(metric) if block is not None else None


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
        return order_categories(c for p in self.pairs for c in p.result.categories)

    def group_categories(self, group: str) -> list[str]:
        return order_categories(c for p in self.groups[group] for c in p.result.categories)


def as_comparison(comparison: Comparison | Mapping[str, Any]) -> Comparison:
    """A Comparison as is; a `compare --json` document parsed (ForgetmapError if malformed)."""
    if isinstance(comparison, Comparison):
        return comparison
    return Comparison.from_dict(comparison)


def build_model(
    comparison: Comparison | Mapping[str, Any],
    groups: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> ReportModel:
    """Label the comparison's pairs and resolve `groups` against them.

    A grouped pair that the comparison does not contain is an error naming it (a study config and
    a results directory that disagree should not silently lose a column).
    """
    comparison = as_comparison(comparison)
    if not comparison.pairs:
        raise ForgetmapError("comparison has no pairs; nothing to report")
    keys = [p.key for p in comparison.pairs]
    views = [
        PairView(b, a, lab, result)
        for (b, a), lab, result in zip(keys, _labels(keys), comparison.pairs, strict=True)
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
    """A fraction as a percentage number with `digits` decimals ('–' for missing); a value
    that rounds to zero prints unsigned (float32 bootstrap bounds like -5e-9 are not "-0.0")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value * 100:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text
