"""`Item` (one evaluation question), the skip report, and the id/shuffle conventions.

A leaf of the suite: it imports only `forgetmap.letters`, so the registry, the loaders, the
synthetic suite and the prompts can all use these types without importing each other.

Conventions (documented here once, relied on by records and resumption):
- item_id: the benchmark's native id where one exists (ARC/CommonsenseQA `id`, GPQA `Record ID`,
  IFEval `key`, MCTest `<story id>.q<n>`); otherwise `stable_id(...)`, the first 16 hex digits of
  SHA-1 over the question parts and choices joined by U+001F, so it does not depend on row order
  or prompt wording. Exact duplicates inside one task get `~2`, `~3`, ... in file order.
- option shuffling (GPQA, TruthfulQA, whose sources store the answer in a fixed position): the
  permutation is `random.Random(seed).shuffle` of the option indices with
  seed = int(sha256("forgetmap-shuffle/v1|<task>|<item_id>").hexdigest()[:16], 16); fixed per
  item, independent of load order, and identical on every machine. The source's own order is
  kept in meta["source_choices"] / meta["source_gold"] (a protocol may show it instead:
  `option_order: source`, docs/protocols.md).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from forgetmap.letters import LETTERS

SHUFFLE_SALT = "forgetmap-shuffle/v1"


@dataclass(frozen=True)
class Item:
    """One question. `gold` is a letter (A..) for multiple choice, the answer text if free-form.

    `k` is this item's own number of options (None for free-form). `meta` carries native fields;
    `meta["passage"]`, when present (MuSR narrative, MCTest story, Social IQa context), is text
    the question refers to and must be shown before it (see `full_question`).
    """

    item_id: str
    question: str
    choices: list[str] = field(hash=False)
    gold: str
    k: int | None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def full_question(self) -> str:
        """The passage (if any) followed by the question: what a model must read."""
        passage = self.meta.get("passage")
        return f"{passage}\n\n{self.question}" if passage else self.question

    @property
    def gold_index(self) -> int | None:
        """0-based index of the gold option (None for free-form or multi-answer items)."""
        if not self.choices or len(self.gold) != 1:
            return None
        return LETTERS.index(self.gold)


@dataclass(frozen=True)
class Skipped:
    """A source row that could not become an item, with where and why."""

    task: str
    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass
class LoadedTask:
    """All items of a task plus what was skipped or repaired, and where they came from."""

    task: str
    items: list[Item]
    skipped: list[Skipped] = field(default_factory=list)
    repaired: list[Skipped] = field(default_factory=list)
    source: str = ""
    description: str = ""  # the task description its source file carries (BBH CoT prompts)
    excluded: list[str] = field(default_factory=list)  # ids a protocol keeps out (exemplars)

    @property
    def n_items(self) -> int:
        return len(self.items)


def stable_id(*parts: str | list[str] | tuple[str, ...]) -> str:
    """SHA-1 (16 hex digits) of the parts; lists are flattened. Order-independent of the file."""
    flat: list[str] = []
    for p in parts:
        if isinstance(p, (list, tuple)):
            flat.extend(str(x) for x in p)
        else:
            flat.append(str(p))
    return hashlib.sha1("\x1f".join(flat).encode("utf-8")).hexdigest()[:16]


def shuffle_seed(task: str, item_id: str) -> int:
    """The documented per-item seed of the option shuffle."""
    digest = hashlib.sha256(f"{SHUFFLE_SALT}|{task}|{item_id}".encode()).hexdigest()
    return int(digest[:16], 16)


def shuffled(task: str, item_id: str, options: list[str], gold_index: int) -> tuple[list[str], str]:
    """`options` permuted by the item's fixed seed, and the gold letter after the permutation."""
    order = list(range(len(options)))
    random.Random(shuffle_seed(task, item_id)).shuffle(order)
    return [options[i] for i in order], LETTERS[order.index(gold_index)]


def dedupe_ids(ids: list[str]) -> list[str]:
    """Make ids unique in order: the second occurrence of X becomes X~2, and so on."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        n = seen.get(i, 0) + 1
        seen[i] = n
        out.append(i if n == 1 else f"{i}~{n}")
    return out
