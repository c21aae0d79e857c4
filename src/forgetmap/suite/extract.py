"""Answer extraction: from a raw generation to the option letter the model chose.

Extraction quality decides how much apparent "forgetting" is only a format failure, so every
prediction records which rule produced it (`Extraction.rule`) and the rules are ordered from the
strictest (the requested last line `Answer: X`) to the loosest (a bare number on the last line).
The guiding principle is precision over recall: a rule fires only when the response commits to
one answer; when nothing unambiguous is found the status is `no_answer` and `pred` is None --
an answer is never guessed.

Rules, in order (the first that fires wins; `:text`, `:number`, `:index` suffixes say how a
value was mapped to an option letter):

1. ``answer_line``  -- the last non-empty line is exactly ``Answer: X`` (the prompt's format)
2. ``answer_tag``   -- the last ``Answer: ...`` / ``Final answer: ...`` anywhere (markdown allowed)
3. ``answer_is``    -- the last "the (correct) answer/option is (X)"
4. ``boxed``        -- the last ``\\boxed{...}``
5. ``bold``         -- bold option letters (``**B**``) that all agree
6. ``code``         -- ``answer = "B"`` / ``print("B")`` / ``return "B"`` in code
7. ``paren_end``    -- the last line ends with (or starts with) one ``(X)``, not an option listing
8. ``lone_letter``  -- the last line is only an option letter (``B``, ``B.``, ``Option B``)
9. ``option_text``  -- the last line is exactly one option's text
10. ``number``      -- numeric options: the last line holds exactly one number that is an option
11. ``first_line``  -- the response opens with "B) <text>" and no other option label follows

A value is resolved to a letter by (in order): an option letter, the exact (normalised) option
text, a number equal to a numeric option's text, or -- for non-numeric options only -- a
1-based option number (``:index``). A letter beyond the item's k options gives status
``invalid``. A label whose text is another option's exact text ("D) <text of C>") is a
conflict: status ``no_answer``, rule ``<rule>:conflict``, and no later rule is tried. Reasoning
blocks (``<think>...</think>``, ``<|begin_of_thought|>...``) are removed
first; code-fence delimiter lines are dropped so an answer written inside a fence still counts.

Free-form tasks (no options: BBH dyck_languages, word_sorting, multistep_arithmetic_two) take
the text after the last ``Answer:`` (or "the answer is ...", or ``\boxed{}``, or the value a
last-line calculation ends in: ``equation_end``) and compare it to the gold text after
`normalize_free_form`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.letters import LETTERS

__all__ = [
    "Extraction",
    "RULES",
    "extract",
    "is_correct",
    "normalize_free_form",
    "reextract",
    "strip_reasoning",
]

RULES: tuple[str, ...] = (
    "answer_line",
    "answer_tag",
    "answer_is",
    "boxed",
    "bold",
    "code",
    "paren_end",
    "lone_letter",
    "option_text",
    "number",
    "first_line",
)


@dataclass(frozen=True)
class Extraction:
    """What was extracted: `pred` (option letter, or answer text for free-form tasks; None when
    nothing was found), `status` (`ok`, `no_answer`, `invalid`) and the `rule` that fired."""

    pred: str | None
    status: str
    rule: str | None


NO_ANSWER = Extraction(None, "no_answer", None)

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


# --- value resolution -----------------------------------------------------------------------

_MD = re.compile(r"[*_`#]+")
_TEX_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|texttt|emph)\s*\{([^{}]*)\}")
_NUM = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


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


class _Opts:
    """An item's options in the forms the rules need (built once per call)."""

    def __init__(self, choices: list[str], k: int | None) -> None:
        self.choices = list(choices)
        self.k = k if k else (len(choices) or None)
        self.norm = [_norm(c) for c in self.choices]
        ints = [_as_int(c) for c in self.norm]
        self.numeric = bool(self.choices) and all(i is not None for i in ints)
        self.int_of = {v: i for i, v in enumerate(ints) if v is not None} if self.numeric else {}

    def letter_ok(self, letter: str) -> bool:
        return self.k is None or LETTERS.index(letter) < self.k

    def supports(self, text: str, idx: int) -> bool:
        """`text` is option `idx`'s text: exactly, as its start, or with the same words up to
        small edits (at least 80% of the option's words, and none distinctive of another)."""
        if self.by_text(text) == idx or self.by_prefix_text(text) == idx:
            return True
        if idx >= len(self.choices) or self.conflicts(text, idx):
            return False
        own = set(re.findall(r"\w+", self.norm[idx]))
        said = set(re.findall(r"\w+", _norm(text)))
        return bool(own) and len(own & said) / len(own) >= 0.8

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
        words = [set(re.findall(r"\w+", c)) for c in self.norm]
        own_unique = words[idx] - set().union(*(w for j, w in enumerate(words) if j != idx))
        if not own_unique:
            return False
        said = set(re.findall(r"\w+", _norm(text)))
        if said & own_unique:
            return False
        others = set()
        for j, w in enumerate(words):
            if j == idx:
                continue
            unique_j = w - set().union(*(v for m, v in enumerate(words) if m != j))
            if said & unique_j:
                others.add(j)
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


# a letter label at the start of a value: "B", "(B)", "B)", "B.", "[B]", "Option B", "B:"
_LABEL = re.compile(
    r"^\s*(?:(?:option|choice|letter)\s*:?\s*)?(?P<open>[(\[])?(?P<letter>[A-Za-z])(?P<close>[)\]])?"
    r"(?P<after>[.:,;!)\-–—]?)(?=\s|$)(?P<rest>.*)$",
    re.I | re.S,
)


_CONNECTIVES = frozenset(
    [
        "because",
        "since",
        "as",
        "which",
        "so",
        "but",
        "for",
        "given",
        "due",
        "with",
        "-",
        "–",
        "—",
        "is",
        "was",
        "would",
        "should",
    ]
)


_ENUMERATED = re.compile(r"^\d{1,2}[.)]\s+(\S.*)$")
_FILLER = re.compile(
    r"^(?:(?:indeed|clearly|definitely|actually|obviously|therefore|thus|then|simply|"
    r"certainly|likely|most\s+likely|probably)\s+)+",
    re.I,
)


def _resolve(value: str, opts: _Opts, strict_rest: bool = True) -> tuple[str, str] | None:
    """Map an answer value to (letter, how) or None. `how` is '' (letter), 'text', 'number' or
    'index'. Returns ('?X', ...) for a letter outside the options (caller marks invalid)."""
    v = _BOXED.sub(r"\1", value)
    v = _TEX_WRAP.sub(r"\1", v)
    v = _MD.sub("", v).replace("$", "").strip().strip("\"'“”‘’").strip()
    v = _FILLER.sub("", v)  # "indeed A", "clearly (B)"
    if not v:
        return None
    enum = _ENUMERATED.match(v)
    if enum:  # "1. Yes." -- a list number before the answer
        inner = _resolve(enum.group(1), opts, strict_rest)
        if inner is not None:
            return inner
    m = _LABEL.match(v)
    if m:
        letter, rest = m.group("letter"), m.group("rest").strip()
        wrapped = bool(m.group("open") or m.group("close"))
        marked = wrapped or bool(m.group("after")) or v.lower().startswith(("option", "choice"))
        accept = False
        if letter.isupper():
            if not rest or marked:
                accept = True
            elif opts.choices and opts.by_prefix_text(rest) is not None:
                accept = True  # "B Paris" where Paris is an option
            elif letter not in "AI" or rest.split(None, 1)[0].lower() in _CONNECTIVES:
                accept = True  # "B because ...": only A and I double as English words
            elif not strict_rest:
                accept = True
        else:
            # lowercase: only when unmistakably a label ("b", "(b)", "b)"), never "a bird"
            accept = (not rest and not m.group("after")) or (wrapped and not rest)
            accept = accept or (wrapped and m.group("close") is not None and not rest)
        if accept:
            up = letter.upper()
            # "D) <text of option C>": the label and the text disagree -- no answer
            idx = LETTERS.index(up)
            if rest and idx < len(opts.choices) and opts.conflicts(rest, idx):
                return "!", "conflict"
            if opts.choices or opts.k:
                return (up, "") if opts.letter_ok(up) else ("?" + up, "")
            return (up, "")
    if opts.choices:
        i = opts.by_text(v)
        if i is None:
            i = opts.by_prefix_text(v)
        if i is not None:
            return LETTERS[i], "text"
    n = _NUM.match(v)
    if n and (len(v) == n.end() or not v[n.end()].isalnum()):
        num = _as_int(n.group(0).replace(",", ""))
        if num is not None:
            if opts.numeric:
                if num in opts.int_of:
                    return LETTERS[opts.int_of[num]], "number"
                return None
            if opts.k and 1 <= num <= opts.k and not v[n.end() :].strip(" .").strip():
                return LETTERS[num - 1], "index"
    return None


# --- rules ----------------------------------------------------------------------------------

_ANSWER_LINE = re.compile(r"^Answer: ([A-Z])$")
# values are captured in a lookahead so that several statements on one line are all found
_ANSWER_TAG = re.compile(
    r"(?:^|[^a-z])(?:final\s+|correct\s+|my\s+)?answer\s*(?:\*\*|__)?\s*(?:[:：]|-\s)\s*(?=(?P<val>[^\n]*))",
    re.I,
)
_ANSWER_IS = re.compile(
    r"\b(?:answer|option|choice)(?:\s+(?:to|for)\s+(?:this|the)\s+question)?\s*(?:\*\*)?\s+"
    r"(?:is|would\s+be|should\s+be|must\s+be)\s*:?\s*(?=(?P<val>[^\n]*))",
    re.I,
)
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_BOLD = re.compile(r"\*\*([^*\n]{1,200}?)\*\*")
_CODE = re.compile(
    r"""(?:\b(?:answer|ans|result|choice|final_answer)\s*=\s*|["'](?:answer|final_answer)["']\s*:\s*(?=["'])"""
    r"""|\bprint\s*\(\s*|\breturn\s+)"""
    r"""(?P<q>['"]?)(?P<val>[A-Z]|\d{1,3})(?P=q)\s*\)?""",
    re.I,
)
_PAREN = re.compile(r"\(([A-Z])\)")
_LISTING = re.compile(r"^\s*(?:[-*]\s*)?\(?([A-Z])[).:]\s+\S")


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _finish(res: tuple[str, str] | None, rule: str) -> Extraction | None:
    if res is None:
        return None
    letter, how = res
    name = f"{rule}:{how}" if how else rule
    if letter == "!":
        return Extraction(None, "no_answer", name)
    if letter.startswith("?"):
        return Extraction(letter[1:], "invalid", name)
    return Extraction(letter, "ok", name)


def _rule_answer_line(lines: list[str], opts: _Opts) -> Extraction | None:
    if not lines:
        return None
    m = _ANSWER_LINE.match(lines[-1])
    if not m:
        return None
    letter = m.group(1)
    if opts.letter_ok(letter):
        return Extraction(letter, "ok", "answer_line")
    return Extraction(letter, "invalid", "answer_line")


def _quoted(text: str, m: re.Match[str]) -> bool:
    """The match sits inside quotes ("...'Answer: B', it is..."): a mention, not an answer."""
    first_alpha = next((i for i, c in enumerate(m.group(0)) if c.isalpha()), 0)
    pos = m.start() + first_alpha
    return pos > 0 and text[pos - 1] in "'\"‘“`"


_NEGATED = re.compile(r"^\s*not\s+(.+)$", re.I)
_NESTED_IS = re.compile(r"\b(?:which|that)\s+(?:is|would\s+be)\s*:?\s*(?P<val>.*)$", re.I)


def _last_resolved(
    patterns: list[tuple[re.Pattern[str], str]], text: str, opts: _Opts
) -> Extraction | None:
    """The answer statement that comes last in the text (any of `patterns`: ``Answer: X`` and
    "the answer is X" compete by position) and resolves to an option. Statements whose value
    is no option at all ("the answer is a multiple choice question") are passed over; a letter
    outside the options, or a conflicting label, is final."""
    found = [
        (m.start(), m, rule)
        for pattern, rule in patterns
        for m in pattern.finditer(text)
        if not _quoted(text, m)
    ]
    retracted: set[str] = set()
    rule = patterns[0][1]
    for _, m, rule in sorted(found, key=lambda x: x[0], reverse=True):
        val = m.group("val")
        if not _MD.sub("", val).strip():
            # "**Answer:**\n\nB": value on the next non-empty line
            following = _lines(text[m.end("val") :])
            if not following:
                continue
            val = following[0]
        neg = _NEGATED.match(_MD.sub("", val))
        if neg:  # "The answer is not D)": D said earlier no longer counts
            gone = _resolve(neg.group(1), opts)
            if gone is not None:
                retracted.add(gone[0])
            continue
        res = _resolve(val, opts)
        if res is not None and res[0] in retracted:
            continue
        if res is not None and re.fullmatch(r"\s*\(?[A-Z]\)?\s*:\s*", _MD.sub("", val)):
            # "The answer is B:\nD) <text>": the stated letter introduces another option
            following = _lines(text[m.end("val") :])
            nxt = _ANY_LABEL_LINE.match(_MD.sub("", following[0])) if following else None
            if nxt and nxt.group(1) != res[0].lstrip("?"):
                return Extraction(None, "no_answer", f"{rule}:conflict")
        if res is None:
            nested = _NESTED_IS.search(val)  # "the correct answer, which is C) ..."
            res = _resolve(nested.group("val"), opts) if nested else None
        if res is not None:
            if _enumerated_alternative(text, m, res[0], opts):
                return Extraction(None, "no_answer", f"{rule}:alternatives")
            return _finish(res, rule)
    if retracted:  # every stated answer was taken back: no answer, and no weaker cue either
        return Extraction(None, "no_answer", f"{rule}:retracted")
    return None


def _enumerated_alternative(text: str, m: re.Match[str], letter: str, opts: _Opts) -> bool:
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
    return got is not None and got[0] != letter


_ENUM_LINE = re.compile(r"^\s*\d{1,2}[.)]\s")


def _rule_boxed(text: str, opts: _Opts) -> Extraction | None:
    found = _BOXED.findall(text)
    if not found:
        return None
    return _finish(_resolve(found[-1], opts), "boxed")


def _rule_bold(text: str, opts: _Opts) -> Extraction | None:
    letters: list[str] = []
    for span in _BOLD.findall(text):
        m = _LABEL.match(_MD.sub("", span).strip())
        if not m or not m.group("letter").isupper():
            continue
        rest = m.group("rest").strip()
        if rest and not (m.group("open") or m.group("close") or m.group("after")):
            continue  # "**A bird**" is not a label
        letters.append(m.group("letter"))
    if not letters or len(set(letters)) != 1:
        return None
    return _finish((letters[-1] if opts.letter_ok(letters[-1]) else "?" + letters[-1], ""), "bold")


def _rule_code(text: str, opts: _Opts) -> Extraction | None:
    found = list(_CODE.finditer(text))
    if not found:
        return None
    val = found[-1].group("val")
    if val.isalpha() and not val.isupper():
        return None
    return _finish(_resolve(val, opts), "code")


def _is_listing(lines: list[str]) -> bool:
    """The tail of the response is the option list echoed back (A) ..., B) ...)."""
    tail = [m.group(1) for ln in lines[-3:] if (m := _LISTING.match(ln))]
    return len(set(tail)) >= 2


def _rule_paren_end(lines: list[str], opts: _Opts) -> Extraction | None:
    if not lines:
        return None
    last = _MD.sub("", lines[-1]).strip()
    found = set(_PAREN.findall(last))
    if len(found) != 1:
        return None
    letter = found.pop()
    ends = re.search(r"\(([A-Z])\)[\s.!)\]\"']*$", last)
    starts = re.match(r"^\(([A-Z])\)", last)
    if not (ends or starts) or _is_listing(lines):
        return None
    if starts and not ends:
        rest = last[starts.end() :].strip()
        # "(B) Paris" must be that option's text (or nothing), not "(B) is wrong"
        if rest and opts.choices and opts.by_prefix_text(rest) != LETTERS.index(letter):
            return None
        if rest and not opts.choices:
            return None
    return _finish((letter if opts.letter_ok(letter) else "?" + letter, ""), "paren_end")


_LONE = re.compile(
    r"^(?:(?:final\s+)?(?:option|choice|letter)\s*:?\s*)?[(\[]?([A-Z])[)\]]?[.!]?$", re.I
)


_LABELLED_TEXT = re.compile(r"^(?:option\s+)?\(?([A-Z])[).:]\s+(.+)$")


def _rule_lone_letter(lines: list[str], opts: _Opts) -> Extraction | None:
    if not lines:
        return None
    last = _MD.sub("", lines[-1]).strip().strip("\"'")
    m = _LONE.match(last)
    if not m:
        # "B) London": a label followed by that same option's text, not an echoed list
        lt = _LABELLED_TEXT.match(last)
        if not lt or not opts.choices or _is_listing(lines):
            return None
        letter = lt.group(1)
        idx = LETTERS.index(letter)
        if not opts.letter_ok(letter) or idx >= len(opts.choices):
            return None
        if opts.conflicts(lt.group(2), idx):
            return Extraction(None, "no_answer", "lone_letter:conflict")
        if not opts.supports(lt.group(2), idx):
            return None
        return Extraction(letter, "ok", "lone_letter")
    letter = m.group(1)
    bare = last == letter
    if not letter.isupper() and (bare or last.lower() in ("a.", "i.")):
        return None  # a lowercase bare letter is a word fragment, not an answer
    letter = letter.upper()
    if len(lines) > 1 and _is_listing(lines):
        return None
    return _finish((letter if opts.letter_ok(letter) else "?" + letter, ""), "lone_letter")


def _rule_option_text(lines: list[str], opts: _Opts) -> Extraction | None:
    if not lines or not opts.choices:
        return None
    last = lines[-1]
    # "B) Paris" as the last line of a listing is an echo, not an answer
    if _is_listing(lines):
        return None
    i = opts.by_text(last)
    if i is None:
        return None
    return Extraction(LETTERS[i], "ok", "option_text")


def _rule_number(lines: list[str], opts: _Opts) -> Extraction | None:
    if not lines or not opts.numeric:
        return None
    if _is_listing(lines) or _ANY_LABEL_LINE.match(_MD.sub("", lines[-1])):
        return None  # "R) 17\nS) 18": the options echoed, not a count
    nums = _NUM.findall(_MD.sub("", lines[-1]))
    ints = {_as_int(n) for n in nums}
    if len(ints) != 1 or None in ints:
        return None
    num = ints.pop()
    if num in opts.int_of:
        return Extraction(LETTERS[opts.int_of[num]], "ok", "number")
    return None


_FIRST = re.compile(r"^(?:\(([A-Z])\)|([A-Z])[).:])(?:\s+(\S.*))?$")
_ANY_LABEL_LINE = re.compile(r"^\s*\(?([A-Z])[).:]\s")


def _rule_first_line(lines: list[str], opts: _Opts) -> Extraction | None:
    """The response opens with its answer ("B) 6/19/2019" then an explanation): the first line
    is a label with that option's text or a short text (not a restated question), and no other
    label line follows (an option listing or a second answer makes it ambiguous)."""
    if len(lines) < 2 or not opts.choices:
        return None
    m = _FIRST.match(_MD.sub("", lines[0]).strip())
    if not m:
        return None
    letter = m.group(1) or m.group(2)
    rest = (m.group(3) or "").strip()
    if any(_ANY_LABEL_LINE.match(_MD.sub("", ln)) for ln in lines[1:]):
        return None
    if not opts.letter_ok(letter):
        return Extraction(letter, "invalid", "first_line")
    idx = LETTERS.index(letter)
    if opts.conflicts(rest, idx):
        return Extraction(None, "no_answer", "first_line:conflict")
    if opts.supports(rest, idx) or len(rest.split()) <= 4:
        return Extraction(letter, "ok", "first_line")
    return None


# --- free-form ------------------------------------------------------------------------------

_FREE_IS = re.compile(
    r"\bthe\s+(?:final\s+)?answer(?:\s+(?:to|for)\s+(?:this|the)\s+question)?\s+"
    r"(?:is|will\s+be|would\s+be|should\s+be)\s*:?\s*"
    r"(?=(?P<val>[^\n]*))",
    re.I,
)


def _degenerate(val: str) -> bool:
    """A runaway repetition ("[ ] > > [ ] > > [ ] ..." until the token limit) is no answer."""
    toks = val.split()
    if len(toks) < 30:
        return False
    grams = [tuple(toks[i : i + 3]) for i in range(len(toks) - 2)]
    return len(set(grams)) / len(grams) < 0.3


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


def _clean_free(val: str) -> str:
    """The answer text as the model wrote it, minus markdown, quotes and a final period."""
    v = _TEX_WRAP.sub(r"\1", val)
    v = re.sub(r"[*`$]+", "", v).strip().strip("\"'“”").strip()
    return v[:-1].rstrip() if v.endswith(".") else v


def _extract_free(text: str) -> Extraction:
    # the statement that comes last in the text wins, whichever phrasing it uses
    found = [
        (m.start(), m, rule)
        for pattern, rule in ((_ANSWER_TAG, "answer_tag"), (_FREE_IS, "answer_is"))
        for m in pattern.finditer(text)
        if not _quoted(text, m)
    ]
    for _, m, rule in sorted(found, key=lambda x: x[0], reverse=True):
        val = m.group("val")
        if not _MD.sub("", val).strip():
            following = _lines(text[m.end("val") :])
            # "...the given answer:\n1. The first step" introduces a list, not the answer
            val = following[0] if following and not _LIST_ITEM.match(following[0]) else ""
        val = _BOXED.sub(r"\1", val)
        if not normalize_free_form(val) or _degenerate(val):
            continue
        eq = _EQUATION_END.search(_MD.sub("", val))
        if eq and "=" in val:  # "2 * 10 = 20." states the value 20
            return Extraction(eq.group(1), "ok", rule)
        return Extraction(_clean_free(val), "ok", rule)
    boxed = _BOXED.findall(text)
    if boxed and normalize_free_form(boxed[-1]):
        return Extraction(_clean_free(boxed[-1]), "ok", "boxed")
    lines = _lines(text)
    m = _EQUATION_END.search(_MD.sub("", lines[-1])) if lines else None
    if m:  # "... = 2 + 5 = 7": a calculation that ends in its value
        return Extraction(m.group(1), "ok", "equation_end")
    return NO_ANSWER


_EQUATION_END = re.compile(r"=\s*(-?\d+(?:\.\d+)?)\s*\.?\s*$")


# --- entry points ---------------------------------------------------------------------------


def extract(
    response: str | None,
    choices: list[str] | None,
    k: int | None = None,
    task: str | None = None,
    rules: tuple[str, ...] | None = None,
) -> Extraction:
    """Extract the answer of one response.

    `choices` are the option texts in order (letters A, B, ...); `k` the number of options when
    `choices` is unknown (imported logs); both empty/None means a free-form task whose answer is
    the text after ``Answer:``. `task` selects task-specific formats (SALAD-Bench MRQ: several
    letters, ``Answer: AC``). `rules` restricts extraction to a subset of RULES (benchmarks
    measure each rule alone); None runs all of them in order.
    """
    if response is None or not response.strip():
        return NO_ANSWER
    choices = list(choices or [])
    text, truncated = strip_reasoning(response)
    if not text.strip():
        return Extraction(None, "no_answer", "think_unclosed" if truncated else None)
    return _extract_text(text, choices, k, task, rules, mc=bool(choices) or bool(k))


def _extract_text(
    text: str,
    choices: list[str],
    k: int | None,
    task: str | None,
    rules: tuple[str, ...] | None,
    mc: bool,
) -> Extraction:
    """Rules on reasoning-stripped text; `mc` False means free-form, True with neither choices
    nor k means option letters of unknown count (imported logs)."""
    if not mc:
        return _extract_free(text)
    opts = _Opts(choices, k)
    if task is not None and task.split(":", 1)[0] in MULTI_ANSWER_BENCHMARKS:
        got = _rule_multi(text, opts)
        if got is not None:
            return got
    lines = _lines(text)
    # with both rules enabled they compete by position (rule "answer_tag" runs both); alone,
    # each sees only its own phrasing
    statements = [(_ANSWER_TAG, "answer_tag")]
    if rules is None or "answer_is" in rules:
        statements.append((_ANSWER_IS, "answer_is"))
    attempts = {
        "answer_line": lambda: _rule_answer_line(lines, opts),
        "answer_tag": lambda: _last_resolved(statements, text, opts),
        "answer_is": lambda: _last_resolved([(_ANSWER_IS, "answer_is")], text, opts),
        "boxed": lambda: _rule_boxed(text, opts),
        "bold": lambda: _rule_bold(text, opts),
        "code": lambda: _rule_code(text, opts),
        "paren_end": lambda: _rule_paren_end(lines, opts),
        "lone_letter": lambda: _rule_lone_letter(lines, opts),
        "option_text": lambda: _rule_option_text(lines, opts),
        "number": lambda: _rule_number(lines, opts),
        "first_line": lambda: _rule_first_line(lines, opts),
    }
    for name in RULES:
        if rules is not None and name not in rules:
            continue
        got = attempts[name]()
        if got is not None:
            return got
    return NO_ANSWER


# benchmarks whose items may have several correct options (gold = all correct letters, sorted)
MULTI_ANSWER_BENCHMARKS = ("salad_bench",)
_MULTI = re.compile(
    r"answer\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(?P<val>[A-Z](?:\s*(?:,|and|&|/)?\s*[A-Z])*)(?![A-Za-z])",
    re.I,
)


def _rule_multi(text: str, opts: _Opts) -> Extraction | None:
    """``Answer: AC`` / ``Answer: A, C`` (several correct options), the last one."""
    found = list(_MULTI.finditer(text))
    if not found:
        return None
    raw = found[-1].group("val")
    letters = re.sub(r"(?i)\band\b|[,&/\s]", "", raw)
    if not letters.isupper():
        return None
    uniq = "".join(sorted(set(letters)))
    if not all(opts.letter_ok(c) for c in uniq):
        return Extraction(uniq, "invalid", "answer_tag:multi")
    return Extraction(uniq, "ok", "answer_tag:multi")


def is_correct(pred: str | None, gold: str | None, free_form: bool = False) -> bool:
    """Whether an extracted answer matches the gold one: letters exactly (multi-answer golds
    such as "AC" included), free-form answers after `normalize_free_form` ("-33.0" == "-33")."""
    if pred is None or gold is None:
        return False
    if free_form:
        return normalize_free_form(pred) == normalize_free_form(gold)
    return pred == gold.strip().upper()


def reextract(table: pa.Table) -> pa.Table:
    """Recompute `pred`, `extract_status`, `extract_rule` and `correct` from `response`,
    `choices`, `n_choices` and `gold` (``import table --reextract``).

    Rows are multiple-choice when they have options or a k > 0, or when the gold answer is a
    single letter; otherwise free-form, compared by `normalize_free_form`. Identical
    (response, options) pairs are extracted once. Other columns are kept as they are.
    """
    n = table.num_rows
    if "response" not in table.column_names:
        from forgetmap.errors import SchemaError

        raise SchemaError("--reextract needs a 'response' column with the raw generations")
    responses = table.column("response").to_pylist()
    choices = table.column("choices").to_pylist() if "choices" in table.column_names else [None] * n
    ks = (
        pc.cast(table.column("n_choices"), pa.int64()).to_pylist()
        if "n_choices" in table.column_names
        else [None] * n
    )
    gold_col = (
        pc.cast(table.column("gold"), pa.string())
        if "gold" in table.column_names
        else pa.chunked_array([pa.nulls(n, pa.string())])
    )
    golds = gold_col.to_pylist()
    tasks = table.column("task").to_pylist() if "task" in table.column_names else [None] * n
    cache: dict[tuple, Extraction] = {}
    preds: list[str | None] = []
    statuses: list[str] = []
    rules: list[str | None] = []
    free: list[bool] = []
    for resp, ch, k, g, t in zip(responses, choices, ks, golds, tasks, strict=True):
        is_mc = (
            bool(ch) or bool(k) or (g is not None and re.fullmatch(r"[A-Z]", g.strip()) is not None)
        )
        multi = t is not None and t.split(":", 1)[0] in MULTI_ANSWER_BENCHMARKS
        key = (resp, tuple(ch or ()), k if k else None, is_mc, multi)
        ex = cache.get(key)
        if ex is None:
            ex = _extract_row(resp, list(ch or []), k or None, t, is_mc)
            cache[key] = ex
        preds.append(ex.pred)
        statuses.append(ex.status)
        rules.append(ex.rule)
        free.append(not is_mc)
    pred_arr = pa.array(preds, pa.string())
    free_arr = pa.array(free, pa.bool_())
    gold_norm = pa.array([normalize_free_form(g) for g in golds], pa.string())
    pred_norm = pa.array([normalize_free_form(p) for p in preds], pa.string())
    gold_letter = pc.utf8_upper(pc.utf8_trim_whitespace(gold_col))
    mc_correct = pc.and_(
        pc.equal(pc.fill_null(pred_arr, ""), pc.fill_null(gold_letter, "\x00")),
        pc.equal(pa.array(statuses, pa.string()), "ok"),
    )
    ff_correct = pc.equal(pc.fill_null(pred_norm, "\x01"), pc.fill_null(gold_norm, "\x00"))
    correct = pc.if_else(free_arr, ff_correct, mc_correct)
    out = table
    for name, arr in (
        ("pred", pred_arr),
        ("extract_status", pa.array(statuses, pa.string())),
        ("extract_rule", pa.array(rules, pa.string())),
        ("correct", correct),
    ):
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, arr)
        else:
            out = out.append_column(name, arr)
    return out


def _extract_row(
    response: str | None, choices: list[str], k: int | None, task: str | None, mc: bool
) -> Extraction:
    if response is None or not response.strip():
        return NO_ANSWER
    text, truncated = strip_reasoning(response)
    if not text.strip():
        return Extraction(None, "no_answer", "think_unclosed" if truncated else None)
    return _extract_text(text, choices, k, task, None, mc)
