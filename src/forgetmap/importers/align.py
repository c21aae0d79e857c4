"""Align logged items with the suite registry's items by their content.

Logs without native item ids (lighteval <= 0.10, and so the study's released results) identify
an item only by the prompt the model saw, and that prompt differs between elicitations: a base
model's few-shot prompt starts with worked examples, a post-trained model's zero-shot prompt with
an instruction, and some options are shuffled without a seed (the study's GPQA). A hash of the
prompt therefore gives one question different ids in a base and a post-trained run: they never
pair. `Aligner.align` finds, for each logged prompt, the registry item it asks instead:

1. the evaluated block is the text after the last question marker (the whole prompt when there is
   none; earlier markers are tried when the last one matches nothing). The block is the question,
   then (optionally) its options as `A) ...` lines, then tail lines such as `Reasoning:`;
2. texts are compared normalised (`norm`: NFKC, lower case, letters and digits only), so quotes,
   whitespace, capitalisation and list punctuation around a question do not matter;
3. a registry item is a candidate when its question, or its passage (a few-shot block may start
   with the story), begins the block; several candidates are narrowed by: the item's question
   contained in the block, the logged gold option's text among the item's gold options, the
   item's passage contained in the prompt, and finally the longest question.

A row without a unique candidate (or every row, when the benchmark files are absent) keeps a
content hash (`fallback_id`): of the last paragraph of the block's question and its sorted option
texts, which is the same for a question asked few-shot or zero-shot, so such runs still pair
among themselves. Rows whose block lists the registry item's options in another order get their
letters mapped to the registry's order (`letter_map`), so gold and pred mean the same option in
every run.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from forgetmap.letters import LETTERS

ANCHOR = 48  # normalised characters a question must share with the start of a block
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_OPTION = re.compile(r"^([A-Z])\) ?(.*)$")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def norm(text: Any) -> str:
    """Comparable form of a text: NFKC, case-folded, letters and digits only."""
    if text is None:
        return ""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", str(text)).casefold())


@dataclass(frozen=True)
class Block:
    """The evaluated question of one prompt: question text and its listed options (maybe none)."""

    question: str
    options: tuple[str, ...]

    @property
    def last_paragraph(self) -> str:
        """The question's last paragraph: the question itself when a passage comes first."""
        paragraphs = [p.strip() for p in _PARAGRAPH.split(self.question) if p.strip()]
        return paragraphs[-1] if paragraphs else ""

    @property
    def sorted_options(self) -> list[str]:
        """The options in one order whatever order the prompt showed them in."""
        return sorted(self.options, key=lambda o: (norm(o), o))

    def fallback_id(self) -> str:
        """Content hash of the question's last paragraph and the sorted options."""
        opts = "\x1f".join(norm(o) for o in self.sorted_options)
        return (
            "h" + hashlib.sha256(f"{norm(self.last_paragraph)}\x1e{opts}".encode()).hexdigest()[:15]
        )


def split_block(text: str, tail_lines: Sequence[str] = ()) -> Block:
    """Question and options of a block: the options are the trailing lines labelled A), B), ...
    in order (a line without a label continues the option above); `tail_lines` (e.g.
    `Reasoning:`) are dropped from the end first."""
    lines = text.rstrip().split("\n")
    tails = {t.strip() for t in tail_lines}
    while lines and (not lines[-1].strip() or lines[-1].strip() in tails):
        lines.pop()
    labelled = [(i, m.group(1)) for i, ln in enumerate(lines) if (m := _OPTION.match(ln))]
    start = None
    expect = None
    for i, letter in reversed(labelled):  # walk back from the last label: ..., C, B, A
        if expect is not None and letter != expect:
            break
        if expect is None and i != labelled[-1][0]:
            break
        start = i if letter == "A" else None
        if letter == "A":
            break
        expect = chr(ord(letter) - 1)
    options: list[str] = []
    if start is not None:
        for ln in lines[start:]:
            m = _OPTION.match(ln)
            if m and m.group(1) == LETTERS[len(options)]:
                options.append(m.group(2))
            elif options:
                options[-1] = f"{options[-1]}\n{ln}"
        lines = lines[:start]
    question = "\n".join(lines).strip().strip('"').strip()
    return Block(question, tuple(o.strip() for o in options))


def blocks(prompt: str, marker: str | None, tail_lines: Sequence[str] = ()) -> list[Block]:
    """Candidate evaluated blocks of a prompt: after the last `marker`, then earlier ones."""
    if not marker or marker not in prompt:
        return [split_block(prompt, tail_lines)]
    parts = prompt.split(marker)
    return [split_block(marker.join(parts[i:]), tail_lines) for i in range(len(parts) - 1, 0, -1)]


@dataclass
class _Entry:
    item: Any
    q: str  # normalised question
    passage: str  # normalised passage ("" when none)
    gold_texts: frozenset[str]
    choices: tuple[str, ...]  # normalised


@dataclass
class Alignment:
    """Per row: item id, k, gold (registry letters when aligned), letter map, how it was found."""

    item_id: list[str] = field(default_factory=list)
    k: list[int | None] = field(default_factory=list)
    gold: list[str | None] = field(default_factory=list)
    letter_map: list[dict[str, str] | None] = field(default_factory=list)
    question: list[str] = field(default_factory=list)
    choices: list[list[str]] = field(default_factory=list)
    method: list[str] = field(default_factory=list)  # registry | hash
    gold_disagrees: int = 0  # aligned rows whose logged gold is not the registry's gold
    ambiguous: int = 0  # rows that fit several different registry items (kept a hash id)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for m in self.method:
            out[m] += 1
        return dict(out)


class Aligner:
    """Matches prompts of one task against that task's registry items (see the module doc)."""

    def __init__(
        self,
        items: Sequence[Any] | None,
        k_default: int | None = None,
        marker: str | None = "Question: ",
        tail_lines: Sequence[str] = (),
    ) -> None:
        self.marker = marker
        self.tail_lines = tuple(tail_lines)
        self.k_default = k_default
        self.entries: list[_Entry] = []
        self.anchors: dict[str, list[int]] = defaultdict(list)
        for it in items or ():
            e = _Entry(
                it,
                norm(it.question),
                norm(it.meta.get("passage")),
                frozenset(norm(it.choices[LETTERS.index(g)]) for g in it.gold)
                if it.choices and it.gold and all(g in LETTERS[: len(it.choices)] for g in it.gold)
                else frozenset(),
                tuple(norm(c) for c in it.choices),
            )
            idx = len(self.entries)
            self.entries.append(e)
            for text in {e.q, e.passage} - {""}:
                self.anchors[text[:ANCHOR]].append(idx)
        self.lengths = sorted({len(a) for a in self.anchors}, reverse=True)

    def _candidates(self, block_norm: str) -> list[int]:
        found: list[int] = []
        for n in self.lengths:
            if n <= len(block_norm):
                found.extend(self.anchors.get(block_norm[:n], ()))
        return list(dict.fromkeys(found))

    def _narrow(
        self, cands: list[int], block: Block, block_norm: str, prompt_norm: str, gold: list[int]
    ) -> list[int]:
        """Candidates whose question is in the block and whose gold options include the logged
        gold option's text; then those whose passage is in the prompt; then the longest."""
        logged_gold = {norm(block.options[i]) for i in gold if 0 <= i < len(block.options)}

        def fits(e: _Entry) -> bool:
            if e.q not in block_norm:
                return False
            return not (logged_gold and e.gold_texts and not logged_gold <= e.gold_texts)

        cands = [c for c in cands if fits(self.entries[c])]
        if len(cands) > 1:
            cands = [
                c
                for c in cands
                if not self.entries[c].passage or self.entries[c].passage in prompt_norm
            ] or cands
        if len(cands) > 1:
            longest = max(len(self.entries[c].q) for c in cands)
            cands = [c for c in cands if len(self.entries[c].q) == longest]
        return cands

    def _identical(self, cands: list[int]) -> bool:
        """True when the candidates are exact duplicates in the benchmark (interchangeable)."""
        e = self.entries
        return len({(e[c].q, e[c].passage, e[c].choices, e[c].item.gold) for c in cands}) == 1

    def match(self, prompt: str, gold: list[int]) -> tuple[Any | None, list[int], Block]:
        """(registry item or None, every tied candidate, the evaluated block) of one prompt."""
        options = blocks(prompt, self.marker, self.tail_lines)
        if not self.entries:
            return None, [], options[0]
        prompt_norm = norm(prompt)
        for block in options:
            block_norm = norm(block.question) + "".join(norm(o) for o in block.options)
            cands = self._candidates(block_norm)
            if cands:
                cands = self._narrow(cands, block, block_norm, prompt_norm, gold)
            if cands:
                return self.entries[cands[0]].item, cands, block
        return None, [], options[0]

    def align(self, prompts: Sequence[str], gold: Sequence[Sequence[int]]) -> Alignment:
        """Align every row (prompt + its logged gold option indices, in the logged order)."""
        out = Alignment()
        used: set[int] = set()
        for prompt, g in zip(prompts, gold, strict=True):
            item, tied, block = self.match(prompt or "", list(g))
            if len(tied) > 1:
                free = [c for c in tied if c not in used]
                if self._identical(tied) and free:  # duplicates: take them in turn
                    used.add(free[0])
                    item = self.entries[free[0]].item
                else:
                    item = None
                    out.ambiguous += 1
            self._emit(out, item, block, list(g))
        return out

    def _emit(self, out: Alignment, item: Any | None, block: Block, gold: list[int]) -> None:
        """One row's id, k, letters and content. The content recorded (question, options) is
        the same whichever elicitation asked the item, so compare sees the same item on both
        sides: the registry's, else the question's last paragraph and the sorted options (their
        letters mapped to that order)."""
        if item is None:
            options = block.sorted_options
            mapping = _letter_map(block.options, options)
            out.item_id.append(block.fallback_id())
            out.k.append(self.k_default or (len(options) if len(options) >= 2 else None))
            out.gold.append(_mapped(gold, mapping))
            out.letter_map.append(mapping)
            out.question.append(block.last_paragraph)
            out.choices.append(options)
            out.method.append("hash")
            return
        mapping = _letter_map(block.options, item.choices)
        if mapping is not None and gold:
            logged = {mapping[LETTERS[i]] for i in gold if LETTERS[i] in mapping}
            if not logged or not logged <= set(item.gold):
                out.gold_disagrees += 1
        out.item_id.append(str(item.item_id))
        out.k.append(item.k if item.k is not None else self.k_default)
        out.question.append(item.question)
        # registry letters only where the logged options could be mapped onto the registry's;
        # otherwise the prompt showed none (BBH) and its letters may follow another layout
        out.gold.append(item.gold if mapping is not None else None)
        out.letter_map.append(mapping)
        out.choices.append(list(item.choices) if mapping is not None else [])
        out.method.append("registry")


def _mapped(gold: list[int], mapping: dict[str, str] | None) -> str | None:
    """The logged gold option indices as letters of the mapped order (None: unmapped)."""
    if mapping is None or not gold or any(LETTERS[i] not in mapping for i in gold):
        return None
    return "".join(sorted(mapping[LETTERS[i]] for i in gold))


def _letter_map(logged: Sequence[str], registry: Sequence[str]) -> dict[str, str] | None:
    """Logged option letter -> registry letter, when the logged options are the registry's in
    some order (None when there are no logged options or they are not a permutation)."""
    if not logged or len(logged) != len(registry):
        return None
    where: dict[str, list[int]] = defaultdict(list)
    for j, c in enumerate(registry):
        where[norm(c)].append(j)
    out = {}
    for i, c in enumerate(logged):
        slots = where.get(norm(c))
        if not slots:
            return None
        out[LETTERS[i]] = LETTERS[slots.pop(0)]
    return out
