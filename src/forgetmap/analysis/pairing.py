"""Pairing two models' records by (task, item_id, seed): the one join behind `compare`, the
flipped-item listing (`forgetmap.analysis.flips`) and the report's item lists.

Both sides are integer frames (`forgetmap.analysis.frames`: sorted keys, duplicates already
rejected), so the join is one `searchsorted`; `Paired` keeps, for every paired row, its position
in each frame, from which any record column of either side can be fetched afterwards. Checks on
paired rows (differing prompt_hash or n_choices, ...) belong here, next to the join.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.analysis.frames import ModelFrame, Vocab, build_frames
from forgetmap.errors import ForgetmapError
from forgetmap.records import RECORD_SCHEMA, ResultsStore, conform


@dataclass(frozen=True)
class Paired:
    """The rows two frames share: `ib[i]`/`ia[i]` are positions in `before`/`after` of the
    i-th paired row, `key[i]` its (task, item, seed) key; ordered by key, i.e. by task, item_id
    and seed."""

    before: ModelFrame
    after: ModelFrame
    key: np.ndarray
    ib: np.ndarray
    ia: np.ndarray

    @property
    def size(self) -> int:
        return int(self.key.size)

    @property
    def correct_before(self) -> np.ndarray:
        return self.before.correct[self.ib]

    @property
    def correct_after(self) -> np.ndarray:
        return self.after.correct[self.ia]

    def flipped(self) -> np.ndarray:
        """Mask of paired rows whose correctness changed."""
        return self.correct_before != self.correct_after

    def mismatches(self) -> dict[str, np.ndarray]:
        """Per field, the paired rows that are not the same item on both sides: `gold` letter,
        `options` (their texts, or their number k), `question` text; a field missing on a side
        is not compared. Pairing by (task, item_id, seed) trusts ids; two dataset revisions, or
        two option layouts, reuse ids for other items."""
        out = {}
        for name in ("gold", "options", "question"):
            b, a = self.before.identity[name][self.ib], self.after.identity[name][self.ia]
            out[name] = (b >= 0) & (a >= 0) & (b != a)
        kb, ka = self.before.identity["k"][self.ib], self.after.identity["k"][self.ia]
        out["options"] |= (kb >= 0) & (ka >= 0) & (kb != ka)
        return out

    def subset(self, keep: np.ndarray) -> Paired:
        """The paired rows selected by mask `keep`."""
        return Paired(self.before, self.after, self.key[keep], self.ib[keep], self.ia[keep])

    def take(self, columns: Sequence[str], where: np.ndarray | None = None) -> dict[str, pa.Table]:
        """Record `columns` of both sides for the paired rows selected by `where` (an index or
        mask into the paired rows; all of them by default): {"before": table, "after": table}."""
        sel = np.arange(self.size) if where is None else np.asarray(where)
        if sel.dtype == bool:
            sel = np.flatnonzero(sel)
        return {
            "before": self.before.take(self.ib[sel], columns),
            "after": self.after.take(self.ia[sel], columns),
        }


def pair_frames(before: ModelFrame, after: ModelFrame) -> Paired:
    """Join two frames on their keys (both sorted and unique)."""
    if before.key.size == 0 or after.key.size == 0:
        empty = np.zeros(0, np.int64)
        return Paired(before, after, empty, empty, empty)
    pos = np.minimum(np.searchsorted(after.key, before.key), after.key.size - 1)
    ib = np.flatnonzero(after.key[pos] == before.key)
    return Paired(before, after, before.key[ib], ib, pos[ib])


def pair_models(source: ResultsStore | pa.Table, before: str, after: str) -> tuple[Paired, Vocab]:
    """Read two models (store or table) into frames and pair them."""
    frames, vocab = build_frames(source, [before, after])
    return pair_frames(frames[before], frames[after]), vocab


def pair_records(before: pa.Table, after: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Pair two models' records (one model each) by (task, item_id, seed).

    Returns the paired table (task, item_id, seed, correct_pre, correct_post, k,
    extract_status_pre, extract_status_post, category; ordered by task, item_id, seed) and the
    unpaired counts {"before_only", "after_only"}.
    """
    models = []
    tables = []
    for side, t in (("before", before), ("after", after)):
        t = t if t.schema == RECORD_SCHEMA else conform(t, f"<{side}>")
        tables.append(t)
        names = t.column("model").unique().to_pylist()
        if len(names) != 1:
            raise ForgetmapError(f"pair_records expects the records of exactly one model as {side}")
        models.append(names[0])
    if models[0] == models[1]:
        raise ForgetmapError(f"pair_records: both sides are model {models[0]!r}")
    frames, _ = build_frames(pa.concat_tables(tables), models)
    paired = pair_frames(frames[models[0]], frames[models[1]])
    cols = ["task", "item_id", "seed", "n_choices", "extract_status", "category"]
    sides = paired.take(cols)
    b, a = sides["before"], sides["after"]
    out = pa.table(
        {
            "task": b["task"],
            "item_id": b["item_id"],
            "seed": b["seed"],
            "correct_pre": pa.array(paired.correct_before),
            "correct_post": pa.array(paired.correct_after),
            "k": pc.coalesce(b["n_choices"], a["n_choices"]),
            "extract_status_pre": b["extract_status"],
            "extract_status_post": a["extract_status"],
            "category": pc.coalesce(b["category"], a["category"]),
        }
    )
    unpaired = {
        "before_only": before.num_rows - out.num_rows,
        "after_only": after.num_rows - out.num_rows,
    }
    return out, unpaired


def read_pairs_file(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Parse a pairs file: one `before<TAB>after` per line; blank lines and `#` comments skipped."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ForgetmapError(f"cannot read pairs file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ForgetmapError(f"{p}: pairs file is not UTF-8 text") from None
    pairs: list[tuple[str, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
        if len(fields) != 2 or not all(fields):
            raise ForgetmapError(f"{p}:{lineno}: expected 'before<TAB>after', got {line!r}")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise ForgetmapError(f"{p}: no pairs found (one 'before<TAB>after' per line)")
    return pairs


def check_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validate the pair list (non-empty, two distinct model ids each)."""
    out = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(m, str) and m for m in pair):
            raise ForgetmapError(f"a pair must be two model ids (before, after), got {pair!r}")
        if pair[0] == pair[1]:
            raise ForgetmapError(f"pair compares {pair[0]!r} with itself")
        out.append((pair[0], pair[1]))
    if not out:
        raise ForgetmapError("no pairs to compare")
    return out
