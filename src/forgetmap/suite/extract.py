"""Answer extraction: from a raw generation to the answer the model committed to.

Extraction quality decides how much apparent "forgetting" is only a format failure, so every
prediction records which rule produced it (`Extraction.rule`). The guiding principle is
precision over recall: a rule fires only when the response commits to one answer; when nothing
unambiguous is found the status is `no_answer` and `pred` is None -- an answer is never guessed.

The rules are data: `RULE_TABLE` holds one `Rule` per row (name, answer modes, scope, pattern,
resolution, guards), in the order they are tried; the first that fires wins. The rule list
(`RULES`) and the reference section of docs/extraction.md (`rules_markdown`) are generated from
it, and a test keeps the docs up to date. Which rows apply depends on the item's `AnswerMode`
(single letter, letter set, free-form, instruction-following), which comes from the task
registry -- extraction code never names a benchmark.

Before any rule, reasoning blocks (``<think>...</think>``, ``<|begin_of_thought|>...``) are
removed, code-fence delimiter lines dropped (an answer inside a fence still counts) and sentences
repeating the prompt's format instruction cut out (`strip_reasoning`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property, lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.letters import LETTERS

__all__ = [
    "RULES",
    "RULE_TABLE",
    "AnswerMode",
    "Extraction",
    "Guard",
    "Qualifier",
    "Resolution",
    "Rule",
    "Scope",
    "Status",
    "answer_mode_for",
    "extract",
    "extract_row",
    "is_correct",
    "normalize_free_form",
    "reextract",
    "rule_names",
    "rules_markdown",
    "strip_reasoning",
]


# --- vocabulary -----------------------------------------------------------------------------


class _Documented(str, Enum):
    """A string enum whose members carry the sentence the generated docs print for them."""

    doc: str

    def __new__(cls, value: str, doc: str = "") -> _Documented:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.doc = doc
        return obj

    def __str__(self) -> str:
        return str(self.value)


class Status(_Documented):
    """`Extraction.status` (the record's `extract_status`)."""

    OK = "ok", "an answer was found and is one of the item's options (or free text)"
    NO_ANSWER = "no_answer", "the response commits to no single answer"
    INVALID = "invalid", "a letter beyond the item's options (kept as `pred`, never correct)"


class AnswerMode(_Documented):
    """What kind of answer an item takes; declared per benchmark in the task registry."""

    LETTER = "letter", "one option letter; correct when it is the gold letter"
    LETTER_SET = (
        "letter_set",
        "one or more option letters (several options may be correct); correct when the set of "
        "letters equals the gold set",
    )
    LETTER_SET_ANY = (
        "letter_set_any",
        "as `letter_set`, scored as the study did: correct when every letter given is a gold "
        "letter (one gold letter is enough)",
    )
    FREE_FORM = (
        "free_form",
        "answer text; correct when it equals the gold text after `normalize_free_form`",
    )
    INSTRUCTION = (
        "instruction",
        "instruction following: scored by the task's instruction checker (pred `pass`/`fail`), "
        "not extracted; correct when pred equals gold (`pass`)",
    )

    @classmethod
    def of(cls, value: AnswerMode | str) -> AnswerMode:
        """The mode named `value` (registry/protocol spelling; a few aliases accepted)."""
        if isinstance(value, AnswerMode):
            return value
        key = str(value).strip().lower().replace("-", "_")
        key = _MODE_ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown answer mode {value!r} (modes: {names})") from None

    @property
    def letters(self) -> bool:
        """Answers are option letters."""
        return self in (AnswerMode.LETTER, AnswerMode.LETTER_SET, AnswerMode.LETTER_SET_ANY)

    @property
    def letter_set(self) -> bool:
        return self in (AnswerMode.LETTER_SET, AnswerMode.LETTER_SET_ANY)


_MODE_ALIASES = {
    "single_letter": "letter",
    "single": "letter",
    "letters": "letter_set",
    "letter_set_exact": "letter_set",
    "letter_set:exact": "letter_set",
    "letter_set:any": "letter_set_any",
    "free": "free_form",
    "instruction_following": "instruction",
}


class Scope(_Documented):
    """Where a rule looks for its pattern."""

    LAST_LINE = "last_line", "the last non-empty line, as written"
    LAST_LINE_PLAIN = (
        "last_line_plain",
        "the last non-empty line with markdown (`*`, `_`, `#`, backticks) and surrounding quotes "
        "removed",
    )
    FIRST_LINE = (
        "first_line",
        "the first non-empty line, markdown removed, of a response of two or more lines",
    )
    LAST_MATCH = "last_match", "the last match anywhere in the text"
    EVERY_MATCH = (
        "every_match",
        "every match anywhere in the text; the answers found must all agree",
    )
    STATEMENTS = (
        "statements",
        "every match outside quotes, from all enabled statement rules together: the statement "
        "that comes last in the text and resolves wins. A statement ending its line takes its "
        "value from the next line. With options: `not X` retracts X (all retracted: "
        "`:retracted`), `B:` followed by another option's label line is a `:conflict`, a value "
        "that is no option may name one in a nested `which is X`, and an item of a numbered "
        "list whose previous item states another answer is `:alternatives` (no answer)",
    )


class Resolution(_Documented):
    """How a match becomes an answer."""

    LABEL = (
        "label",
        "group `letter`: an option label alone (`B`, `(B)`, `Option C`; a lowercase letter only "
        "when marked, never `a`/`a.`/`i.`), `invalid` beyond the options; groups `label` + "
        "`text`: a label followed by that option's own text up to small edits (another option's "
        "text: `:conflict`)",
    )
    VALUE = (
        "value",
        "group `val`: an option label (`B`, `(B) Paris`, `Option B because ...`; its text must "
        "not be another option's: `:conflict`), else an option's exact or leading text "
        "(`:text`), else a numeric option's number (`:number`), else a 1-based option number "
        "for non-numeric options (`:index`)",
    )
    MARKED_LABEL = (
        "marked_label",
        "group 1: an upper-case option label (`**B**`, `**(B)**`, `**B.**`); spans that are "
        "words (`**A bird**`) are skipped",
    )
    OPENING_LABEL = (
        "opening_label",
        "groups `letter` + `text`: the label opening the response, followed by that option's "
        "text or at most four words (another option's text: `:conflict`; beyond the options: "
        "`invalid`)",
    )
    OPTION_TEXT = "option_text", "group `val` is exactly one option's text (normalised)"
    OPTION_NUMBER = (
        "option_number",
        "numeric options only: every number on the line is the same integer, one of the options",
    )
    LETTER_SET = (
        "letter_set",
        "group `val`: several letters (`AC`, `A, C`, `A and C`), sorted; any beyond the options: "
        "`invalid`",
    )
    FREE_TEXT = (
        "free_text",
        "group `val` as written, minus markdown, quotes and a final period; a calculation "
        "(`2 * 10 = 20`) gives its value; a runaway repetition or a list item is no answer",
    )


class Guard(_Documented):
    """A condition under which a rule does not fire even though its pattern matched."""

    NOT_LISTING = "not_listing", "not when the last lines echo the option list (`A) ...`, `B) ...`)"
    NOT_LABEL_LINE = "not_label_line", "not when the line itself is an option line (`R) 17`)"
    NO_LATER_LABEL = "no_later_label", "not when a later line starts with an option label"
    ONE_PAREN_LETTER = "one_paren_letter", "only when the line holds one distinct `(X)`"
    UPPERCASE = "uppercase", "not when the value is a lower-case letter (a variable, not an answer)"


class Qualifier(_Documented):
    """Suffix of `Extraction.rule` (`answer_is:text`) saying how the answer was reached."""

    TEXT = "text", "the value was an option's text"
    NUMBER = "number", "the value was a numeric option's number"
    INDEX = "index", "the value was a 1-based option number"
    CONFLICT = "conflict", "a label whose text is another option's: no answer"
    ALTERNATIVES = "alternatives", "numbered alternative answers: no answer"
    RETRACTED = "retracted", "every stated answer was taken back (`not X`): no answer"


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extraction:
    """What was extracted: `pred` (option letter(s), or answer text for free-form tasks; None
    when nothing was found), `status` (a `Status`, equal to its string) and the `rule` that
    fired (`name` or `name:qualifier`; None when no rule fired)."""

    pred: str | None
    status: str
    rule: str | None


NO_ANSWER = Extraction(None, Status.NO_ANSWER, None)


@dataclass(frozen=True)
class _Resolved:
    """A resolved value: the answer (letter(s) or text; None for a conflict), its status and
    how it was reached."""

    answer: str | None
    status: Status = Status.OK
    qualifier: Qualifier | None = None

    @property
    def key(self) -> tuple[str | None, Status]:
        return self.answer, self.status

    def named(self, rule: str) -> Extraction:
        name = f"{rule}:{self.qualifier.value}" if self.qualifier else rule
        return Extraction(self.answer, self.status, name)


_CONFLICT = _Resolved(None, Status.NO_ANSWER, Qualifier.CONFLICT)


# --- pre-processing -------------------------------------------------------------------------

_THINK_PAIRS = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
)
_SOLUTION_TAGS = re.compile(r"<\|(?:begin|end)_of_solution\|>|</?(?:answer|solution)>", re.I)
_FENCE_LINE = re.compile(r"^\s*(```|~~~)[\w+-]*\s*$", re.M)
# a sentence repeating the prompt's format instruction is no answer ("...of the form
# 'Answer: 22'"); it is cut from its start to the end of its line
_FORMAT_ECHO = re.compile(
    r"(?:(?<=[.!?])[ \t]+|^)[^.!?\n]*"
    r"(?:last line of your response|\$LETTER|\$ANSWER|of the form ['\"]?answer:)[^\n]*",
    re.I | re.M,
)


def strip_reasoning(response: str) -> tuple[str, bool]:
    """Drop reasoning blocks; returns (visible text, truncated) where `truncated` means a
    reasoning block was opened and never closed (the model ran out of tokens while thinking).

    A closing tag without an opening one (chat templates that pre-fill ``<think>``) drops
    everything before it.
    """
    text = response
    truncated = False
    for open_tag, close_tag in _THINK_PAIRS:
        lower = text.lower()
        if close_tag in lower:
            # keep what follows the last closing tag; the opening tag may be in the template
            text = text[lower.rfind(close_tag) + len(close_tag) :]
        elif open_tag in lower:
            text = text[: lower.find(open_tag)]
            truncated = True
    text = _SOLUTION_TAGS.sub("\n", text)
    text = _FENCE_LINE.sub("", text)
    text = _FORMAT_ECHO.sub("", text)
    return text, truncated


# --- options --------------------------------------------------------------------------------

_MD = re.compile(r"[*_`#]+")
_TEX_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|texttt|emph)\s*\{([^{}]*)\}")
_NUM = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w+")


def _norm(s: str) -> str:
    """Case/space/markdown-insensitive form used to compare option texts."""
    s = unicodedata.normalize("NFKC", s)
    s = _TEX_WRAP.sub(r"\1", s)
    s = _MD.sub("", s).replace("$", "")
    s = s.strip().strip("\"'“”‘’«»").strip()
    s = re.sub(r"\s+", " ", s).lower()
    return s.rstrip(".!;:,").strip()


def _as_int(s: str) -> int | None:
    s = s.strip()
    if re.fullmatch(r"[-+]?\d+", s):
        return int(s)
    if re.fullmatch(r"[-+]?\d+\.0+", s):
        return int(float(s))
    return None


class _Options:
    """An item's options in the forms the rules need (built once per response)."""

    def __init__(self, choices: Sequence[str], k: int | None) -> None:
        self.choices = list(choices)
        self.k = k if k else (len(self.choices) or None)
        self.norm = [_norm(c) for c in self.choices]
        ints = [_as_int(c) for c in self.norm]
        self.numeric = bool(self.choices) and all(i is not None for i in ints)
        self.int_of = {v: i for i, v in enumerate(ints) if v is not None} if self.numeric else {}

    @cached_property
    def words(self) -> list[set[str]]:
        return [set(_WORD.findall(c)) for c in self.norm]

    def letter_ok(self, letter: str) -> bool:
        return self.k is None or LETTERS.index(letter) < self.k

    def letter(self, letter: str) -> _Resolved:
        """A bare option letter: ok, or invalid beyond the options."""
        return _Resolved(letter, Status.OK if self.letter_ok(letter) else Status.INVALID)

    def supports(self, text: str, idx: int) -> bool:
        """`text` is option `idx`'s text: exactly, as its start, or with the same words up to
        small edits (at least 80% of the option's words, and none distinctive of another)."""
        if self.by_text(text) == idx or self.by_prefix_text(text) == idx:
            return True
        if idx >= len(self.choices) or self.conflicts(text, idx):
            return False
        own = self.words[idx]
        said = set(_WORD.findall(_norm(text)))
        return bool(own) and len(own & said) / len(own) >= 0.8

    def _unique_words(self, idx: int) -> set[str]:
        return self.words[idx] - set().union(*(w for j, w in enumerate(self.words) if j != idx))

    def conflicts(self, text: str, idx: int) -> bool:
        """`text` given with option `idx`'s label is another option's: its exact text, or its
        content -- words found in exactly one other option and none of `idx`'s own distinctive
        words ("A) Add 7UP to the vase" when only B mentions 7UP and A's distinctive word is
        coffee). Mixtures of several options are not conflicts."""
        exact = self.by_text(text)
        if exact is not None:
            return exact != idx
        if idx >= len(self.choices):
            return False
        own_unique = self._unique_words(idx)
        if not own_unique:
            return False
        said = set(_WORD.findall(_norm(text)))
        if said & own_unique:
            return False
        others = {j for j in range(len(self.choices)) if j != idx and said & self._unique_words(j)}
        return len(others) == 1

    def by_text(self, value: str) -> int | None:
        v = _norm(value)
        if not v:
            return None
        hits = [i for i, c in enumerate(self.norm) if c == v]
        return hits[0] if len(hits) == 1 else None

    def by_prefix_text(self, value: str) -> int | None:
        """Option whose text starts `value` followed by a boundary ("Yes, because ...")."""
        v = _norm(value)
        hits = [
            i
            for i, c in enumerate(self.norm)
            if c and v.startswith(c) and (len(v) == len(c) or not v[len(c)].isalnum())
        ]
        if not hits:
            return None
        longest = max(len(self.norm[i]) for i in hits)
        best = [i for i in hits if len(self.norm[i]) == longest]
        return best[0] if len(best) == 1 else None


# --- value resolution -----------------------------------------------------------------------

# a letter label at the start of a value: "B", "(B)", "B)", "B.", "[B]", "Option B", "B:"
_LABEL = re.compile(
    r"^\s*(?:(?:option|choice|letter)\s*:?\s*)?(?P<open>[(\[])?(?P<letter>[A-Za-z])(?P<close>[)\]])?"
    r"(?P<after>[.:,;!)\-–—]?)(?=\s|$)(?P<rest>.*)$",
    re.I | re.S,
)
# words after a bare label that make it a statement ("B because ..."); only A and I double as
# English words, so other letters need none
_CONNECTIVES = frozenset(
    ["because", "since", "as", "which", "so", "but", "for", "given", "due", "with"]
    + ["-", "–", "—", "is", "was", "would", "should"]
)
_ENUMERATED = re.compile(r"^\d{1,2}[.)]\s+(\S.*)$")
_FILLER = re.compile(
    r"^(?:(?:indeed|clearly|definitely|actually|obviously|therefore|thus|then|simply|"
    r"certainly|likely|most\s+likely|probably)\s+)+",
    re.I,
)
_BOXED = re.compile(r"\\boxed\s*\{(?P<val>(?:[^{}]|\{[^{}]*\})*)\}")


def _label_accepted(m: re.Match[str], v: str, opts: _Options) -> bool:
    """Whether a leading letter of a value is an option label rather than a word."""
    letter, rest = m.group("letter"), m.group("rest").strip()
    wrapped = bool(m.group("open") or m.group("close"))
    if not letter.isupper():
        # lowercase: only when unmistakably a label ("b", "(b)", "b)"), never "a bird"
        return (not rest and not m.group("after")) or (wrapped and not rest)
    marked = wrapped or bool(m.group("after")) or v.lower().startswith(("option", "choice"))
    if not rest or marked:
        return True
    if opts.choices and opts.by_prefix_text(rest) is not None:
        return True  # "B Paris" where Paris is an option
    return letter not in "AI" or rest.split(None, 1)[0].lower() in _CONNECTIVES


def _resolve(value: str, opts: _Options) -> _Resolved | None:
    """Map an answer value to an option (the `value` resolution), or None."""
    v = _BOXED.sub(r"\1", value)
    v = _TEX_WRAP.sub(r"\1", v)
    v = _MD.sub("", v).replace("$", "").strip().strip("\"'“”‘’").strip()
    v = _FILLER.sub("", v)  # "indeed A", "clearly (B)"
    if not v:
        return None
    enum = _ENUMERATED.match(v)
    if enum:  # "1. Yes." -- a list number before the answer
        inner = _resolve(enum.group(1), opts)
        if inner is not None:
            return inner
    m = _LABEL.match(v)
    if m and _label_accepted(m, v, opts):
        up, rest = m.group("letter").upper(), m.group("rest").strip()
        idx = LETTERS.index(up)
        # "D) <text of option C>": the label and the text disagree -- no answer
        if rest and idx < len(opts.choices) and opts.conflicts(rest, idx):
            return _CONFLICT
        return opts.letter(up) if (opts.choices or opts.k) else _Resolved(up)
    if opts.choices:
        i = opts.by_text(v)
        if i is None:
            i = opts.by_prefix_text(v)
        if i is not None:
            return _Resolved(LETTERS[i], qualifier=Qualifier.TEXT)
    n = _NUM.match(v)
    if n and (len(v) == n.end() or not v[n.end()].isalnum()):
        num = _as_int(n.group(0).replace(",", ""))
        if num is not None and opts.numeric:
            i = opts.int_of.get(num)
            return None if i is None else _Resolved(LETTERS[i], qualifier=Qualifier.NUMBER)
        tail = v[n.end() :].strip(" .").strip()
        if num is not None and opts.k and 1 <= num <= opts.k and not tail:
            return _Resolved(LETTERS[num - 1], qualifier=Qualifier.INDEX)
    return None


# --- free-form values -----------------------------------------------------------------------

_EQUATION_END = re.compile(r"=\s*(?P<val>-?\d+(?:\.\d+)?)\s*\.?\s*$")
_LIST_ITEM = re.compile(r"^(?:\d+[.)]|[-*•])\s")


def normalize_free_form(text: str | None) -> str | None:
    """Comparable form of a free-form answer: markdown, quotes, surrounding brackets of LaTeX,
    trailing period and repeated spaces removed, lowercased; integers written as floats ("24.0")
    become integers."""
    if text is None:
        return None
    s = _TEX_WRAP.sub(r"\1", unicodedata.normalize("NFKC", text))
    s = re.sub(r"[*`$]+", "", s).strip().strip("\"'“”").strip()
    s = re.sub(r"\s+", " ", s).lower().rstrip(".").strip()
    i = _as_int(s)
    return str(i) if i is not None else s


def _degenerate(val: str) -> bool:
    """A runaway repetition ("[ ] > > [ ] > > [ ] ..." until the token limit) is no answer."""
    toks = val.split()
    if len(toks) < 30:
        return False
    grams = [tuple(toks[i : i + 3]) for i in range(len(toks) - 2)]
    return len(set(grams)) / len(grams) < 0.3


def _free_text(val: str) -> _Resolved | None:
    """The `free_text` resolution of a value."""
    val = _BOXED.sub(r"\1", val)
    if not normalize_free_form(val) or _degenerate(val):
        return None
    eq = _EQUATION_END.search(_MD.sub("", val))
    if eq and "=" in val:  # "2 * 10 = 20." states the value 20
        return _Resolved(eq.group("val"))
    v = _TEX_WRAP.sub(r"\1", val)
    v = re.sub(r"[*`$]+", "", v).strip().strip("\"'“”").strip()
    return _Resolved(v[:-1].rstrip() if v.endswith(".") else v)


# --- the rule table -------------------------------------------------------------------------

_ANY_LETTERS = frozenset({AnswerMode.LETTER, AnswerMode.LETTER_SET, AnswerMode.LETTER_SET_ANY})
_SETS = frozenset({AnswerMode.LETTER_SET, AnswerMode.LETTER_SET_ANY})
_FREE = frozenset({AnswerMode.FREE_FORM})


@dataclass(frozen=True)
class Rule:
    """One extraction rule: a row of `RULE_TABLE`."""

    name: str
    modes: frozenset[AnswerMode]
    scope: Scope
    pattern: re.Pattern[str]
    resolution: Resolution
    guards: tuple[Guard, ...]
    summary: str


# values are captured in a lookahead so that several statements on one line are all found
_ANSWER_TAG = re.compile(
    r"(?:^|[^a-z])(?:final\s+|correct\s+|my\s+)?answer\s*(?:\*\*|__)?\s*(?:[:：]|-\s)\s*"
    r"(?=(?P<val>[^\n]*))",
    re.I,
)
_ANSWER_IS = re.compile(
    r"\b(?:answer|option|choice)(?:\s+(?:to|for)\s+(?:this|the)\s+question)?\s*(?:\*\*)?\s+"
    r"(?:is|would\s+be|should\s+be|must\s+be)\s*:?\s*(?=(?P<val>[^\n]*))",
    re.I,
)
_FREE_IS = re.compile(
    r"\bthe\s+(?:final\s+)?answer(?:\s+(?:to|for)\s+(?:this|the)\s+question)?\s+"
    r"(?:is|will\s+be|would\s+be|should\s+be)\s*:?\s*(?=(?P<val>[^\n]*))",
    re.I,
)
_PAREN = re.compile(r"\(([A-Z])\)")
_LISTING = re.compile(r"^\s*(?:[-*]\s*)?\(?([A-Z])[).:]\s+\S")
_ANY_LABEL_LINE = re.compile(r"^\s*\(?([A-Z])[).:]\s")
_ENUM_LINE = re.compile(r"^\s*\d{1,2}[.)]\s")


def _row(
    name: str,
    modes: frozenset[AnswerMode],
    scope: Scope,
    pattern: str | re.Pattern[str],
    resolution: Resolution,
    summary: str,
    *guards: Guard,
) -> Rule:
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
    return Rule(name, modes, scope, compiled, resolution, tuple(guards), summary)


RULE_TABLE: tuple[Rule, ...] = (
    _row(
        "answer_set", _SETS, Scope.LAST_MATCH,
        re.compile(
            r"answer\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*"
            r"(?P<val>[A-Z](?:\s*(?:,|and|&|/)?\s*[A-Z])*)(?![A-Za-z])",
            re.I,
        ),
        Resolution.LETTER_SET,
        "several correct options: `Answer: AC`, `Answer: A, C` (the last one)",
    ),
    _row(
        "answer_line", _ANY_LETTERS, Scope.LAST_LINE, r"^Answer: (?P<letter>[A-Z])$",
        Resolution.LABEL, "the requested format: the last line is exactly `Answer: X`",
    ),
    _row(
        "answer_tag", _ANY_LETTERS, Scope.STATEMENTS, _ANSWER_TAG, Resolution.VALUE,
        "`Answer: ...` / `Final answer: ...` anywhere (markdown allowed)",
    ),
    _row(
        "answer_is", _ANY_LETTERS, Scope.STATEMENTS, _ANSWER_IS, Resolution.VALUE,
        "\"the (correct) answer/option is (X)\", \"the answer would be X\"",
    ),
    _row(
        "boxed", _ANY_LETTERS, Scope.LAST_MATCH, _BOXED, Resolution.VALUE,
        "`\\boxed{...}` (math and reasoning models)",
    ),
    _row(
        "bold", _ANY_LETTERS, Scope.EVERY_MATCH, r"\*\*([^*\n]{1,200}?)\*\*",
        Resolution.MARKED_LABEL, "bold option letters (`**B**`) that all agree",
    ),
    _row(
        "code", _ANY_LETTERS, Scope.LAST_MATCH,
        r"""(?i:\b(?:answer|ans|result|choice|final_answer)\s*=\s*"""
        r"""|["'](?:answer|final_answer)["']\s*:\s*(?=["'])|\bprint\s*\(\s*|\breturn\s+)"""
        r"""(?P<q>['"]?)(?P<val>[A-Za-z]|\d{1,3})(?P=q)\s*\)?""",
        Resolution.VALUE, "`answer = \"B\"`, `print(\"B\")`, `return \"B\"` (coder models)",
        Guard.UPPERCASE,
    ),
    _row(
        "paren_end", _ANY_LETTERS, Scope.LAST_LINE_PLAIN,
        r"^(?=.*\((?P<letter>[A-Z])\)[\s.!)\]\"']*$)|^\((?P<label>[A-Z])\)\s*(?P<text>.+)$",
        Resolution.LABEL,
        "the last line ends with one `(X)`, or starts with `(X)` and that option's text",
        Guard.ONE_PAREN_LETTER, Guard.NOT_LISTING,
    ),
    _row(
        "lone_letter", _ANY_LETTERS, Scope.LAST_LINE_PLAIN,
        r"^(?i:(?:final\s+)?(?:option|choice|letter)\s*:?\s*)?[(\[]?(?P<letter>[A-Za-z])"
        r"[)\]]?[.!]?$|^(?:option\s+)?\(?(?P<label>[A-Z])[).:]\s+(?P<text>.+)$",
        Resolution.LABEL,
        "the last line is only an option letter (`B`, `B.`, `Option B`) or `B) <B's text>`",
        Guard.NOT_LISTING,
    ),
    _row(
        "option_text", _ANY_LETTERS, Scope.LAST_LINE, r"^(?P<val>.+)$", Resolution.OPTION_TEXT,
        "the last line is exactly one option's text", Guard.NOT_LISTING,
    ),
    _row(
        "number", _ANY_LETTERS, Scope.LAST_LINE_PLAIN, _NUM, Resolution.OPTION_NUMBER,
        "numeric options: the last line holds exactly one number that is an option",
        Guard.NOT_LISTING, Guard.NOT_LABEL_LINE,
    ),
    _row(
        "first_line", _ANY_LETTERS, Scope.FIRST_LINE,
        r"^(?:\((?=[A-Z]\))|(?=[A-Z][).:]))(?P<letter>[A-Z])[).:](?:\s+(?P<text>\S.*))?$",
        Resolution.OPENING_LABEL,
        "the response opens with its answer (`B) <text>` then an explanation)",
        Guard.NO_LATER_LABEL,
    ),
    _row(
        "answer_tag", _FREE, Scope.STATEMENTS, _ANSWER_TAG, Resolution.FREE_TEXT,
        "the text after the last `Answer:`",
    ),
    _row(
        "answer_is", _FREE, Scope.STATEMENTS, _FREE_IS, Resolution.FREE_TEXT,
        "\"the (final) answer is ...\"",
    ),
    _row(
        "boxed", _FREE, Scope.LAST_MATCH, _BOXED, Resolution.FREE_TEXT, "`\\boxed{...}`",
    ),
    _row(
        "equation_end", _FREE, Scope.LAST_LINE_PLAIN, _EQUATION_END, Resolution.FREE_TEXT,
        "the last line is a calculation ending in its value (`... = 2 + 5 = 7`)",
    ),
)  # fmt: skip


def rule_names(mode: AnswerMode | str | None = None) -> tuple[str, ...]:
    """Rule names in the order they are tried (for `mode`, or all of them)."""
    rows = RULE_TABLE if mode is None else _rows_for(AnswerMode.of(mode))
    return tuple(dict.fromkeys(r.name for r in rows))


@cache
def _rows_for(mode: AnswerMode) -> tuple[Rule, ...]:
    return tuple(r for r in RULE_TABLE if mode in r.modes)


RULES: tuple[str, ...] = rule_names()


# --- the engine -----------------------------------------------------------------------------


class _Context:
    """One response's visible text and options, in the forms the scopes need."""

    def __init__(self, text: str, opts: _Options) -> None:
        self.text = text
        self.opts = opts
        self.lines = [ln.strip() for ln in text.splitlines() if ln.strip()]

    @cached_property
    def plain_last(self) -> str | None:
        if not self.lines:
            return None
        return _MD.sub("", self.lines[-1]).strip().strip("\"'")

    @cached_property
    def plain_first(self) -> str | None:
        return _MD.sub("", self.lines[0]).strip() if len(self.lines) >= 2 else None

    def following(self, pos: int) -> list[str]:
        return [ln.strip() for ln in self.text[pos:].splitlines() if ln.strip()]


def _is_listing(lines: list[str]) -> bool:
    """The tail of the response is the option list echoed back (A) ..., B) ...)."""
    tail = [m.group(1) for ln in lines[-3:] if (m := _LISTING.match(ln))]
    return len(set(tail)) >= 2


_GUARDS: dict[Guard, Callable[[re.Match[str], _Context], bool]] = {
    Guard.NOT_LISTING: lambda m, ctx: not _is_listing(ctx.lines),
    Guard.NOT_LABEL_LINE: lambda m, ctx: not _ANY_LABEL_LINE.match(m.string),
    Guard.NO_LATER_LABEL: lambda m, ctx: (
        not any(_ANY_LABEL_LINE.match(_MD.sub("", ln)) for ln in ctx.lines[1:])
    ),
    Guard.ONE_PAREN_LETTER: lambda m, ctx: len(set(_PAREN.findall(m.string))) == 1,
    Guard.UPPERCASE: lambda m, ctx: not (m.group("val").isalpha() and not m["val"].isupper()),
}


def _scoped_match(rule: Rule, ctx: _Context) -> re.Match[str] | None:
    """The match a single-candidate scope gives the rule."""
    scope = rule.scope
    if scope is Scope.LAST_MATCH:
        last = deque(rule.pattern.finditer(ctx.text), maxlen=1)
        return last[0] if last else None
    if scope is Scope.LAST_LINE:
        line = ctx.lines[-1] if ctx.lines else None
    elif scope is Scope.LAST_LINE_PLAIN:
        line = ctx.plain_last
    else:
        line = ctx.plain_first
    return None if line is None else rule.pattern.search(line)


def _resolve_label(m: re.Match[str], ctx: _Context) -> _Resolved | None:
    opts = ctx.opts
    text = m.groupdict().get("text")
    if text is not None and m.group("label"):
        letter, idx = m.group("label"), LETTERS.index(m.group("label"))
        if not opts.choices or not opts.letter_ok(letter) or idx >= len(opts.choices):
            return None
        if opts.conflicts(text, idx):
            return _CONFLICT
        return _Resolved(letter) if opts.supports(text, idx) else None
    letter = m.group("letter")
    if not letter.isupper():
        last = m.string
        if last == letter or last.lower() in ("a.", "i."):
            return None  # a lowercase bare letter is a word fragment, not an answer
    return opts.letter(letter.upper())


def _resolve_marked(m: re.Match[str], ctx: _Context) -> _Resolved | None:
    label = _LABEL.match(_MD.sub("", m.group(1)).strip())
    if not label or not label.group("letter").isupper():
        return None
    if label.group("rest").strip() and not (
        label.group("open") or label.group("close") or label.group("after")
    ):
        return None  # "**A bird**" is not a label
    return ctx.opts.letter(label.group("letter"))


def _resolve_opening(m: re.Match[str], ctx: _Context) -> _Resolved | None:
    opts, letter = ctx.opts, m.group("letter")
    if not opts.choices:
        return None
    if not opts.letter_ok(letter):
        return _Resolved(letter, Status.INVALID)
    rest, idx = (m.group("text") or "").strip(), LETTERS.index(letter)
    if opts.conflicts(rest, idx):
        return _CONFLICT
    return _Resolved(letter) if opts.supports(rest, idx) or len(rest.split()) <= 4 else None


def _resolve_number(m: re.Match[str], ctx: _Context) -> _Resolved | None:
    opts = ctx.opts
    if not opts.numeric:
        return None
    ints = {_as_int(n) for n in _NUM.findall(m.string)}
    if len(ints) != 1 or None in ints:
        return None
    i = opts.int_of.get(ints.pop())  # type: ignore[arg-type]
    return None if i is None else _Resolved(LETTERS[i])


def _resolve_set(m: re.Match[str], ctx: _Context) -> _Resolved | None:
    letters = re.sub(r"(?i)\band\b|[,&/\s]", "", m.group("val"))
    if not letters.isupper():
        return None
    uniq = "".join(sorted(set(letters)))
    ok = all(ctx.opts.letter_ok(c) for c in uniq)
    return _Resolved(uniq, Status.OK if ok else Status.INVALID)


def _resolve_text(m: re.Match[str], ctx: _Context) -> _Resolved | None:
    i = ctx.opts.by_text(m.group("val")) if ctx.opts.choices else None
    return None if i is None else _Resolved(LETTERS[i])


_RESOLVERS: dict[Resolution, Callable[[re.Match[str], _Context], _Resolved | None]] = {
    Resolution.LABEL: _resolve_label,
    Resolution.VALUE: lambda m, ctx: _resolve(m.group("val"), ctx.opts),
    Resolution.MARKED_LABEL: _resolve_marked,
    Resolution.OPENING_LABEL: _resolve_opening,
    Resolution.OPTION_TEXT: _resolve_text,
    Resolution.OPTION_NUMBER: _resolve_number,
    Resolution.LETTER_SET: _resolve_set,
    Resolution.FREE_TEXT: lambda m, ctx: _free_text(m.group("val")),
}


def _fire(rule: Rule, ctx: _Context) -> Extraction | None:
    """Apply one non-statement rule: its scope's match, its guards, its resolution."""
    resolve = _RESOLVERS[rule.resolution]
    if rule.scope is Scope.EVERY_MATCH:
        found = [r for m in rule.pattern.finditer(ctx.text) if (r := resolve(m, ctx))]
        if not found or len({r.key for r in found}) != 1:
            return None
        return found[-1].named(rule.name)
    m = _scoped_match(rule, ctx)
    if m is None or not all(_GUARDS[g](m, ctx) for g in rule.guards):
        return None
    res = resolve(m, ctx)
    return None if res is None else res.named(rule.name)


def _quoted(text: str, m: re.Match[str]) -> bool:
    """The match sits inside quotes ("...'Answer: B', it is..."): a mention, not an answer."""
    first_alpha = next((i for i, c in enumerate(m.group(0)) if c.isalpha()), 0)
    pos = m.start() + first_alpha
    return pos > 0 and text[pos - 1] in "'\"‘“`"


def _statements(rules: Sequence[Rule], ctx: _Context) -> Extraction | None:
    """The statements scope: matches of all `rules`, latest first (ties: table order)."""
    found = [
        (m.start(), m, rule.name)
        for rule in rules
        for m in rule.pattern.finditer(ctx.text)
        if not _quoted(ctx.text, m)
    ]
    found.sort(key=lambda x: x[0], reverse=True)
    if rules[0].resolution is Resolution.FREE_TEXT:
        for _, m, name in found:
            val = m.group("val")
            if not _MD.sub("", val).strip():
                following = ctx.following(m.end("val"))
                # "...the given answer:\n1. The first step" introduces a list, not the answer
                val = following[0] if following and not _LIST_ITEM.match(following[0]) else ""
            res = _free_text(val)
            if res is not None:
                return res.named(name)
        return None
    return _option_statements(found, rules[0].name, ctx)


_NEGATED = re.compile(r"^\s*not\s+(.+)$", re.I)
_NESTED_IS = re.compile(r"\b(?:which|that)\s+(?:is|would\s+be)\s*:?\s*(?P<val>.*)$", re.I)
_INTRO_LABEL = re.compile(r"\s*\(?[A-Z]\)?\s*:\s*")


def _option_statements(
    found: list[tuple[int, re.Match[str], str]], rule: str, ctx: _Context
) -> Extraction | None:
    """Statements resolved against the options (see `Scope.STATEMENTS`). Statements whose value
    is no option at all ("the answer is a multiple choice question") are passed over; a letter
    outside the options, or a conflicting label, is final."""
    retracted: set[tuple[str | None, Status]] = set()
    for _, m, rule in found:  # the last rule seen names a retraction
        val = m.group("val")
        if not _MD.sub("", val).strip():
            following = ctx.following(m.end("val"))  # "**Answer:**\n\nB"
            if not following:
                continue
            val = following[0]
        neg = _NEGATED.match(_MD.sub("", val))
        if neg:  # "The answer is not D)": D said earlier no longer counts
            gone = _resolve(neg.group(1), ctx.opts)
            if gone is not None:
                retracted.add(gone.key)
            continue
        res = _resolve(val, ctx.opts)
        if res is not None and res.key in retracted:
            continue
        if res is not None and _INTRO_LABEL.fullmatch(_MD.sub("", val)):
            # "The answer is B:\nD) <text>": the stated letter introduces another option
            following = ctx.following(m.end("val"))
            nxt = _ANY_LABEL_LINE.match(_MD.sub("", following[0])) if following else None
            if nxt and nxt.group(1) != res.answer:
                return _CONFLICT.named(rule)
        if res is None:
            nested = _NESTED_IS.search(val)  # "the correct answer, which is C) ..."
            res = _resolve(nested.group("val"), ctx.opts) if nested else None
        if res is not None:
            if _enumerated_alternative(ctx.text, m, res, ctx.opts):
                return Extraction(None, Status.NO_ANSWER, f"{rule}:{Qualifier.ALTERNATIVES.value}")
            return res.named(rule)
    if retracted:  # every stated answer was taken back: no answer, and no weaker cue either
        return Extraction(None, Status.NO_ANSWER, f"{rule}:{Qualifier.RETRACTED.value}")
    return None


def _enumerated_alternative(text: str, m: re.Match[str], res: _Resolved, opts: _Options) -> bool:
    """The statement is an item of a numbered list whose previous item states another answer
    ("1. The answer is A.\n2. The answer is B."): alternatives listed, not an answer."""
    start = text.rfind("\n", 0, m.start()) + 1
    line = text[start : text.find("\n", m.start()) if "\n" in text[m.start() :] else len(text)]
    if not _ENUM_LINE.match(line):
        return False
    before = [ln for ln in text[:start].splitlines() if ln.strip()]
    if not before or not _ENUM_LINE.match(before[-1]):
        return False
    prev = _ANSWER_IS.search(before[-1]) or _ANSWER_TAG.search(before[-1])
    got = _resolve(prev.group("val"), opts) if prev else None
    return got is not None and got.key != res.key


def _run_rules(
    text: str, opts: _Options, mode: AnswerMode, rules: Iterable[str] | None
) -> Extraction:
    """The enabled rows of `mode`, in table order; statement rows are tried together at the
    position of the first of them."""
    wanted = None if rules is None else set(rules)
    rows = [r for r in _rows_for(mode) if wanted is None or r.name in wanted]
    ctx = _Context(text, opts)
    statements_done = False
    for rule in rows:
        if rule.scope is Scope.STATEMENTS:
            if statements_done:
                continue
            statements_done = True
            got = _statements([r for r in rows if r.scope is Scope.STATEMENTS], ctx)
        else:
            got = _fire(rule, ctx)
        if got is not None:
            return got
    return NO_ANSWER


# --- entry points ---------------------------------------------------------------------------


def extract_row(
    response: str | None,
    choices: Sequence[str] | None,
    k: int | None,
    mode: AnswerMode | str,
    rules: Iterable[str] | None = None,
) -> Extraction:
    """Extract the answer of one response in a given answer mode -- the one row function that
    `extract`, `reextract` and the engine go through.

    `choices` are the option texts in order (letters A, B, ...); `k` the number of options when
    `choices` is unknown (imported logs; neither means letters of unknown count). `rules`
    restricts extraction to some rule names (benchmarks measure each rule alone).
    """
    mode = AnswerMode.of(mode)
    if mode is AnswerMode.INSTRUCTION:
        raise ValueError(
            "answer mode 'instruction': responses are scored by the task's instruction checker, "
            "not extracted"
        )
    if response is None or not response.strip():
        return NO_ANSWER
    text, truncated = strip_reasoning(response)
    if not text.strip():
        return Extraction(None, Status.NO_ANSWER, "think_unclosed" if truncated else None)
    opts = _Options(choices or (), k if mode.letters else None)
    return _run_rules(text, opts, mode, rules)


@lru_cache(maxsize=4096)
def answer_mode_for(task: str | None) -> AnswerMode | None:
    """The answer mode the task registry declares for `task`; None for unknown tasks."""
    if not task:
        return None
    from forgetmap.errors import ForgetmapError
    from forgetmap.suite.registry import get_task

    try:
        spec = get_task(task)
    except ForgetmapError:
        return None
    declared = getattr(spec, "answer_mode", None)
    if declared:
        return AnswerMode.of(declared)
    return AnswerMode.FREE_FORM if spec.free_form else AnswerMode.LETTER


def extract(
    response: str | None,
    choices: Sequence[str] | None,
    k: int | None = None,
    task: str | None = None,
    rules: Iterable[str] | None = None,
    *,
    mode: AnswerMode | str | None = None,
) -> Extraction:
    """Extract the answer of one response.

    `mode` is the item's answer mode; when None it is the one the registry declares for `task`,
    else letters when there are options (`choices` or `k`) and free-form text when there are
    none. See `extract_row` for the other arguments.
    """
    if mode is None:
        mode = answer_mode_for(task) or (
            AnswerMode.LETTER if (choices or k) else AnswerMode.FREE_FORM
        )
    return extract_row(response, choices, k, mode, rules)


# --- correctness ----------------------------------------------------------------------------


def _letter_set(s: str) -> frozenset[str] | None:
    """The letters of "AC", "A, C", "C and A"; None when `s` is not a set of letters."""
    letters = re.sub(r"\bAND\b|[\s,;/&+]", "", s.upper())
    return frozenset(letters) if letters and letters.isalpha() and letters.isascii() else None


def _set_exact(pred: str, gold: str) -> bool:
    p, g = _letter_set(pred), _letter_set(gold)
    return p is not None and p == g


def _set_any(pred: str, gold: str) -> bool:
    p, g = _letter_set(pred), _letter_set(gold)
    return p is not None and g is not None and p <= g


_MATCHERS: dict[AnswerMode, Callable[[str, str], bool]] = {
    AnswerMode.LETTER: lambda p, g: p == g.strip().upper(),
    AnswerMode.LETTER_SET: _set_exact,
    AnswerMode.LETTER_SET_ANY: _set_any,
    AnswerMode.FREE_FORM: lambda p, g: normalize_free_form(p) == normalize_free_form(g),
    AnswerMode.INSTRUCTION: lambda p, g: p.strip().lower() == g.strip().lower(),
}


def is_correct(
    pred: str | None,
    gold: str | None,
    mode: AnswerMode | str | None = None,
    *,
    free_form: bool | None = None,
) -> bool:
    """Whether an extracted answer is right, per `AnswerMode` (default: a single letter).

    `free_form=True/False` is the older spelling of `mode=free_form`/`letter`.
    """
    if mode is None:
        mode = AnswerMode.FREE_FORM if free_form else AnswerMode.LETTER
    if pred is None or gold is None:
        return False
    return _MATCHERS[AnswerMode.of(mode)](pred, gold)


def _per_distinct(fn: Callable[..., Any], out_type: pa.DataType, *columns: pa.Array) -> pa.Array:
    """`fn` applied once per distinct combination of the columns' values, as an array over rows
    (dictionary-encoded keys; nulls are values like any other)."""
    n = len(columns[0])
    codes = []
    dicts = []
    for col in columns:
        enc = pc.dictionary_encode(col, null_encoding="encode")
        dicts.append(enc.dictionary.to_pylist())
        codes.append(pc.cast(enc.indices, pa.int64()))
    key = pa.array([0] * n, pa.int64())
    for c, d in zip(codes, dicts, strict=True):
        key = pc.add(pc.multiply(key, len(d)), c)
    uniq = pc.unique(key)
    values = []
    for u in uniq.to_pylist():
        args = []
        for d in reversed(dicts):
            u, r = divmod(u, len(d))
            args.append(d[r])
        values.append(fn(*reversed(args)))
    return pc.take(pa.array(values, out_type), pc.index_in(key, uniq))


def _row_modes(table: pa.Table, mode: AnswerMode | str | None) -> list[AnswerMode | None]:
    """Each row's declared mode: `mode` for all rows, else the registry's for its task."""
    n = table.num_rows
    if mode is not None:
        return [AnswerMode.of(mode)] * n
    if "task" not in table.column_names:
        return [None] * n
    declared = _per_distinct(
        lambda t: answer_mode_for(t).value if answer_mode_for(t) else None,
        pa.string(),
        pc.cast(table.column("task").combine_chunks(), pa.string()),
    )
    return [AnswerMode.of(v) if v else None for v in declared.to_pylist()]


def _column(table: pa.Table, name: str, type_: pa.DataType) -> list[Any]:
    if name not in table.column_names:
        return [None] * table.num_rows
    return pc.cast(table.column(name), type_).to_pylist()


def reextract(table: pa.Table, mode: AnswerMode | str | None = None) -> pa.Table:
    """Recompute `pred`, `extract_status`, `extract_rule` and `correct` from `response`,
    `choices`, `n_choices` and `gold` (``import table --reextract``).

    A row's answer mode is `mode`, else the one the registry declares for its task, else
    letters when it has options, a k > 0 or a single-letter gold, else free-form. Identical
    (response, options, mode) rows are extracted once and correctness is computed once per
    distinct (pred, gold, mode). Instruction-following rows keep their scored pred.
    """
    if "response" not in table.column_names:
        from forgetmap.errors import SchemaError

        raise SchemaError("--reextract needs a 'response' column with the raw generations")
    modes = _row_modes(table, mode)
    golds = _column(table, "gold", pa.string())
    old = {c: _column(table, c, pa.string()) for c in ("pred", "extract_status", "extract_rule")}
    cache: dict[tuple, Extraction] = {}
    rows: list[Extraction] = []
    final_modes: list[str] = []
    for i, (resp, ch, k, g) in enumerate(
        zip(
            table.column("response").to_pylist(),
            _column(table, "choices", pa.list_(pa.string())),
            _column(table, "n_choices", pa.int64()),
            golds,
            strict=True,
        )
    ):
        m = modes[i]
        if m is None:
            letters = bool(ch) or bool(k) or bool(g and re.fullmatch(r"[A-Z]", g.strip()))
            m = AnswerMode.LETTER if letters else AnswerMode.FREE_FORM
        final_modes.append(m.value)
        if m is AnswerMode.INSTRUCTION:
            rows.append(Extraction(*(old[c][i] for c in old)))
            continue
        key = (resp, tuple(ch or ()), k or None, m)
        if key not in cache:
            cache[key] = extract_row(resp, ch, k or None, m)
        rows.append(cache[key])
    preds = pa.array([x.pred for x in rows], pa.string())
    correct = _per_distinct(
        lambda p, g, m: is_correct(p, g, m), pa.bool_(), preds, pa.array(golds, pa.string()),
        pa.array(final_modes, pa.string()),
    )  # fmt: skip
    out = table
    for name, arr in (
        ("pred", preds),
        ("extract_status", pa.array([x.status and str(x.status) for x in rows], pa.string())),
        ("extract_rule", pa.array([x.rule for x in rows], pa.string())),
        ("correct", correct),
    ):
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, arr)
        else:
            out = out.append_column(name, arr)
    return out


# --- generated documentation ----------------------------------------------------------------

DOCS_BEGIN = "<!-- BEGIN GENERATED: forgetmap.suite.extract.rules_markdown() -- `make docs` -->"
DOCS_END = "<!-- END GENERATED -->"


def _enum_list(cls: type[_Documented]) -> list[str]:
    return [f"- `{m.value}`: {m.doc}" for m in cls]  # type: ignore[attr-defined]


def rules_markdown() -> str:
    """The reference section of docs/extraction.md, generated from `RULE_TABLE` and the
    vocabularies (`make docs` rewrites it; a test checks it is current)."""
    out = ["### Answer modes", "", *_enum_list(AnswerMode), "", "### Rules, in the order tried", ""]
    out += [
        "| # | rule | answer modes | scope | resolution | guards | fires on |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(RULE_TABLE, 1):
        modes = ", ".join(m.value for m in AnswerMode if m in r.modes)
        guards = ", ".join(f"`{g.value}`" for g in r.guards) or "–"
        out.append(
            f"| {i} | `{r.name}` | {modes} | `{r.scope.value}` | `{r.resolution.value}` "
            f"| {guards} | {r.summary.replace('|', '&#124;')} |"
        )
    out += ["", "Patterns (Python `re`):", ""]
    for i, r in enumerate(RULE_TABLE, 1):
        case = " (case-insensitive)" if r.pattern.flags & re.I else ""
        out += [f"{i}. `{r.name}`{case}", "", "   ```text", f"   {r.pattern.pattern}", "   ```", ""]
    for title, cls in (
        ("Scopes", Scope),
        ("Resolutions", Resolution),
        ("Guards", Guard),
        ("Rule-name qualifiers", Qualifier),
        ("Statuses", Status),
    ):
        out += ["", f"### {title}", "", *_enum_list(cls)]
    return "\n".join(out) + "\n"
