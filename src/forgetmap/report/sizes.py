"""Model sizes from model names (7B, 1.5B, 270M) and size families of pairs.

A family is a set of pairs whose before- and after-ids are the same once the size token is
replaced, e.g. Qwen2.5-{3,7,14,32}B -> Qwen2.5-{3,7,14,32}B-Instruct.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from forgetmap.report.model import PairView, short_name

# a size token: its own dash/underscore-separated part, e.g. "-7B", "_1.5b-", "-270M"
_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([BbMm])(?![A-Za-z0-9])")
_UNIT = {"b": 1e9, "m": 1e6}


def parse_size(model: str) -> float | None:
    """Parameter count from a model id (`Qwen/Qwen2.5-1.5B` -> 1.5e9); None if none or ambiguous."""
    found = _SIZE.findall(short_name(model))
    if len(found) != 1:
        return None
    number, unit = found[0]
    return float(number) * _UNIT[unit.lower()]


def _family_key(model: str) -> str:
    return _SIZE.sub("{size}", model, count=1)


def size_families(pairs: Sequence[PairView]) -> dict[str, list[tuple[float, PairView]]]:
    """Families with at least two distinct sizes, each sorted by the after-model's size."""
    fams: dict[str, list[tuple[float, PairView]]] = {}
    for p in pairs:
        size = parse_size(p.after)
        if size is None or parse_size(p.before) is None:
            continue
        key = f"{_family_key(short_name(p.before))} → {_family_key(short_name(p.after))}"
        fams.setdefault(key, []).append((size, p))
    return {
        k: sorted(v, key=lambda sp: sp[0]) for k, v in fams.items() if len({s for s, _ in v}) >= 2
    }


def format_size(n: float) -> str:
    """1.5e9 -> '1.5B', 2.7e8 -> '270M'."""
    if n >= 1e9:
        return f"{n / 1e9:g}B"
    return f"{n / 1e6:g}M"
