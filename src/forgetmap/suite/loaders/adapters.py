"""Row adapters: one per source schema, turning native records into `Item`s.

An adapter gets the task's `TaskSpec` and the native rows (a pyarrow Table for Arrow sources,
`(location, record)` pairs otherwise) and returns a `Built` with items, skipped rows (malformed:
named by file and line, never silently dropped) and repaired rows. Hub rows use the Hub's schema,
which is the same as the local files' for every Arrow/CSV/JSONL source; adapters for the local
formats that differ (ARC request files, TruthfulQA mc_task.json, MCTest TSV) accept both forms.

Every item keeps its source row, unstripped, in the Hub's schema as `meta["row"]` (the local
formats that differ are converted): what Hub-based task code reads, e.g. the study's prompt
functions under the `study` protocol (forgetmap.suite.study_protocol).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.suite.items import (
    LETTERS,
    Item,
    Skipped,
    dedupe_ids,
    shuffled,
    stable_id,
)
from forgetmap.suite.registry import TaskSpec

Row = tuple[str, dict[str, Any]]


class Malformed(ValueError):
    """A row that cannot become an item; the message says which field is wrong."""


@dataclass
class Built:
    """Items built from one source, in source order, plus what was skipped or repaired."""

    task: str
    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    repaired: list[Skipped] = field(default_factory=list)
    description: str = ""  # the task description a source file carries (BBH CoT prompts)

    def finish(self) -> Built:
        ids = dedupe_ids([it.item_id for it in self.items])
        if ids != [it.item_id for it in self.items]:
            self.items = [
                it
                if new == it.item_id
                else Item(new, it.question, it.choices, it.gold, it.k, it.meta)
                for it, new in zip(self.items, ids, strict=True)
            ]
        return self


def _per_row(spec: TaskSpec, rows: Iterable[Row], make: Callable[[dict[str, Any]], Item]) -> Built:
    """Apply `make` to every row; Malformed/KeyError/ValueError become named skip entries."""
    out = Built(spec.name)
    for loc, rec in rows:
        try:
            it = make(rec)
            if "row" not in it.meta:
                it = Item(
                    it.item_id, it.question, it.choices, it.gold, it.k, {**it.meta, "row": rec}
                )
            out.items.append(it)
        except KeyError as exc:
            out.skipped.append(Skipped(spec.name, loc, f"missing field {exc}"))
        except (Malformed, ValueError, TypeError, IndexError) as exc:
            out.skipped.append(Skipped(spec.name, loc, str(exc)))
    return out.finish()


def _letter(i: int, k: int) -> str:
    if not 0 <= i < k:
        raise Malformed(f"answer index {i} outside 0..{k - 1}")
    return LETTERS[i]


def _texts(choices: Any, field_name: str = "choices") -> list[str]:
    if not isinstance(choices, (list, tuple)) or not choices:
        raise Malformed(f"{field_name} is not a non-empty list")
    if not all(isinstance(c, str) for c in choices):
        raise Malformed(f"{field_name} holds a non-string option")
    return [c.strip() for c in choices]


def _table_rows(table: pa.Table, where: str) -> list[Row]:
    return [(f"{where} row {i}", rec) for i, rec in enumerate(table.to_pylist())]


# --- MMLU: question, subject, choices[4], answer int -------------------------------------------


def mmlu(spec: TaskSpec, table: pa.Table, where: str) -> Built:
    """MMLU (also the Hub's cais/mmlu): vectorised checks, then one Item per row."""
    if isinstance(table, list):
        table = pa.Table.from_pylist([r for _, r in table])
    missing = [c for c in ("question", "choices", "answer") if c not in table.column_names]
    if missing:
        raise Malformed(f"{where}: missing column(s) {', '.join(missing)}")
    n_choices = pc.list_value_length(table["choices"]).to_pylist()
    answers = table["answer"].to_pylist()
    questions = table["question"].to_pylist()
    choices = table["choices"].to_pylist()
    subjects = (
        table["subject"].to_pylist() if "subject" in table.column_names else [None] * len(answers)
    )
    out = Built(spec.name)
    for i, (q, ch, a, n) in enumerate(zip(questions, choices, answers, n_choices, strict=True)):
        if q is None or not n or a is None or not 0 <= a < n or any(c is None for c in ch):
            out.skipped.append(
                Skipped(spec.name, f"{where} row {i}", "missing question/choices/answer")
            )
            continue
        out.items.append(
            Item(
                stable_id(q, ch),
                q.strip(),
                [c.strip() for c in ch],
                LETTERS[a],
                n,
                {
                    "subject": spec.subset,
                    "row": {"question": q, "subject": subjects[i], "choices": ch, "answer": a},
                },
            )
        )
    return out.finish()


# --- BBH: {input, target} ----------------------------------------------------------------------

_LETTER_OPT = re.compile(r"^\(([A-Z])\)\s?(.*)$")
_DASH_OPT = re.compile(r"^-\s+(.*?)\s*$")
_TARGET_LETTER = re.compile(r"^\(([A-Z])\)$")


def _split_options(text: str) -> tuple[str, list[tuple[str | None, str]]]:
    """(question without the options block, [(letter or None, option text)])."""
    head, sep, block = text.rpartition("\nOptions:")
    if not sep:
        return text.strip(), []
    opts: list[tuple[str | None, str]] = []
    for line in block.strip("\n").split("\n"):
        m = _LETTER_OPT.match(line.strip())
        if m:
            opts.append((m.group(1), m.group(2).strip()))
            continue
        d = _DASH_OPT.match(line.strip())
        if d:
            opts.append((None, d.group(1)))
        elif opts and line.strip():  # continuation of a multi-line option
            letter, prev = opts[-1]
            opts[-1] = (letter, f"{prev}\n{line.strip()}")
    return head.strip(), opts


def _regroup_comma_split(options: list[str], target: str) -> list[str] | None:
    """Re-join options that the BBH source split at ', ' (3 known items), guided by the target.

    A part starts a new option when the current one already has as many parts as the target or
    when it resembles the target's first part more than any later part; otherwise it continues
    the current option. Returns None when the target still is not one of the options.
    """
    tparts = target.split(", ")
    if len(tparts) < 2:
        return None

    def sim(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()

    groups: list[list[str]] = []
    for part in options:
        if groups and len(groups[-1]) < len(tparts):
            cont = max(sim(part, t) for t in tparts[1:])
            if cont >= 0.5 and cont > sim(part, tparts[0]):
                groups[-1].append(part)
                continue
        groups.append([part])
    merged = [", ".join(g) for g in groups]
    return merged if target in merged else None


def _bbh_item(spec: TaskSpec, rec: dict[str, Any], repaired: list[str]) -> Item:
    text, target = rec["input"], rec["target"]
    if not isinstance(text, str) or not isinstance(target, str):
        raise Malformed("input/target is not a string")
    meta = {"input": text, "target": target.strip(), "row": {"input": text, "target": target}}
    target = target.strip()
    iid = stable_id(text)
    if spec.free_form:
        return Item(iid, text.strip(), [], target, None, meta)
    question, opts = _split_options(text)
    if spec.fixed_choices and not opts:
        choices = list(spec.fixed_choices)
        if target not in choices:
            raise Malformed(f"target {target!r} is not one of {choices}")
        return Item(iid, question, choices, LETTERS[choices.index(target)], len(choices), meta)
    if not opts:
        raise Malformed("no 'Options:' block in input")
    choices = [t for _, t in opts]
    letters = [ltr for ltr, _ in opts]
    if any(ltr is not None for ltr in letters) and letters != list(LETTERS[: len(opts)]):
        raise Malformed(f"option letters {''.join(str(x) for x in letters)} are not A.. in order")
    m = _TARGET_LETTER.match(target)
    if m:
        gold = m.group(1)
        if gold not in LETTERS[: len(choices)]:
            raise Malformed(f"target {target} is not among the {len(choices)} options")
    elif target in choices:
        gold = LETTERS[choices.index(target)]
    else:
        merged = _regroup_comma_split(choices, target)
        if merged is None:
            raise Malformed(f"target {target!r} is neither an option letter nor an option text")
        repaired.append(
            f"options re-joined at ', ' ({len(choices)} -> {len(merged)}) to match target {target!r}"
        )
        choices = merged
        gold = LETTERS[choices.index(target)]
        meta["repaired"] = repaired[-1]
    if len(choices) < 2:
        raise Malformed(f"only {len(choices)} option parsed (truncated input)")
    return Item(iid, question, choices, gold, len(choices), meta)


def bbh(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """BBH: options parsed from the input's `Options:` block, fixed lists for the rest."""
    out = Built(spec.name)
    for loc, rec in rows:
        notes: list[str] = []
        try:
            out.items.append(_bbh_item(spec, rec, notes))
        except KeyError as exc:
            out.skipped.append(Skipped(spec.name, loc, f"missing field {exc}"))
        except Malformed as exc:
            out.skipped.append(Skipped(spec.name, loc, str(exc)))
        out.repaired.extend(Skipped(spec.name, loc, n) for n in notes)
    return out.finish()


_COT_EXAMPLE = re.compile(r"Q: (.*?)\nA: Let's think step by step\.[ \n](.*?)(?=\n\nQ: |\Z)", re.S)
_SO_ANSWER = re.compile(r"\s*So the answer is (.*?)\.?\s*$", re.S)


def bbh_cot_prompts(spec: TaskSpec, text: str, where: str) -> Built:
    """The official 3-shot CoT prompt file: Items with meta['reasoning'] and meta['description']."""
    body = text.split("-----", 1)[-1].strip("\n")
    description, _, rest = body.partition("\n\nQ: ")
    rest = "Q: " + rest
    out = Built(spec.name, description=description.strip())
    for j, m in enumerate(_COT_EXAMPLE.finditer(rest)):
        loc = f"{where} example {j + 1}"
        reasoning = m.group(2).strip()
        a = _SO_ANSWER.search(reasoning)
        if not a:
            out.skipped.append(Skipped(spec.name, loc, "no 'So the answer is X.' at the end"))
            continue
        notes: list[str] = []
        try:
            it = _bbh_item(spec, {"input": m.group(1).strip(), "target": a.group(1).strip()}, notes)
        except Malformed as exc:
            out.skipped.append(Skipped(spec.name, loc, str(exc)))
            continue
        meta = {
            **it.meta,
            "reasoning": reasoning[: a.start()].strip(),
            "answer_sentence": a.group(0).strip(),
            "description": description.strip(),
        }
        out.items.append(Item(it.item_id, it.question, it.choices, it.gold, it.k, meta))
    return out.finish()


# --- ARC --------------------------------------------------------------------------------------


def arc(spec: TaskSpec, rows: list[Row] | pa.Table, where: str) -> Built:
    """ARC original schema (Hub, validation Arrow): id, question, choices{text,label}, answerKey."""
    if isinstance(rows, pa.Table):
        rows = _table_rows(rows, where)

    def make(r: dict[str, Any]) -> Item:
        texts = _texts(r["choices"]["text"])
        labels = [str(x) for x in r["choices"]["label"]]
        key = str(r["answerKey"]).strip()
        if key not in labels:
            raise Malformed(f"answerKey {key!r} not in labels {labels}")
        return Item(
            str(r["id"]),
            r["question"].strip(),
            texts,
            LETTERS[labels.index(key)],
            len(texts),
            {"native_labels": labels},
        )

    return _per_row(spec, rows, make)


def arc_requests(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """ARC test from OLMES request files: one doc per native id (unconditioned docs dropped)."""
    docs: dict[int, Row] = {}
    for loc, rec in rows:
        doc_id = rec.get("doc_id")
        if not isinstance(doc_id, int):
            docs[-len(docs) - 1] = (loc, {"_bad": "missing doc_id"})
            continue
        if doc_id < 1_000_000 and doc_id not in docs:  # >= 1e6: unconditioned-normalisation copies
            docs[doc_id] = (loc, rec)

    def make(r: dict[str, Any]) -> Item:
        if "_bad" in r:
            raise Malformed(r["_bad"])
        doc = r["doc"]
        q = doc["query"]
        q = q.removeprefix("Question:").strip()
        q = re.sub(r"\s*Answer:\s*$", "", q)
        texts = _texts(doc["choices"])
        gold = _letter(int(doc["gold"]), len(texts))
        labels = list(LETTERS[: len(texts)])  # the request files drop the native labels
        row = {
            "id": doc["id"],
            "question": q,
            "choices": {"text": list(doc["choices"]), "label": labels},
            "answerKey": gold,
        }
        return Item(str(doc["id"]), q, texts, gold, len(texts), {"doc_id": r["doc_id"], "row": row})

    ordered = [docs[k] for k in sorted(docs)]
    return _per_row(spec, ordered, make)


# --- GPQA, MuSR, TruthfulQA -------------------------------------------------------------------


def gpqa(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """GPQA: correct + 3 incorrect answers, shuffled by the item's fixed seed."""

    def make(r: dict[str, Any]) -> Item:
        iid = str(r["Record ID"]).strip()
        if not iid:
            raise Malformed("empty 'Record ID'")
        opts = [
            r["Correct Answer"],
            r["Incorrect Answer 1"],
            r["Incorrect Answer 2"],
            r["Incorrect Answer 3"],
        ]
        opts = _texts(opts, "answers")
        if any(not o for o in opts):
            raise Malformed("an answer column is empty")
        choices, gold = shuffled(spec.name, iid, opts, 0)
        meta = {
            "subdomain": r.get("Subdomain"),
            "domain": r.get("High-level domain"),
            "shuffled": True,
            "source_choices": opts,  # the source's order: correct answer first
            "source_gold": "A",
        }
        return Item(iid, str(r["Question"]).strip(), choices, gold, 4, meta)

    return _per_row(spec, rows, make)


def musr(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """MuSR: the narrative is meta['passage']; choices is a Python-list string."""

    def make(r: dict[str, Any]) -> Item:
        raw = r["choices"]
        try:
            choices = ast.literal_eval(raw) if isinstance(raw, str) else raw
        except (ValueError, SyntaxError) as exc:
            raise Malformed(f"choices is not a Python list literal ({exc})") from exc
        choices = _texts(choices)
        gi = int(r["answer_index"])
        narrative = str(r["narrative"]).strip()
        question = str(r["question"]).strip()
        return Item(
            stable_id(narrative, question, choices),
            question,
            choices,
            _letter(gi, len(choices)),
            len(choices),
            {"passage": narrative},
        )

    return _per_row(spec, rows, make)


def truthfulqa_mc1(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """TruthfulQA MC1: {answer: 0/1} dict (original file) or {choices, labels} (Hub); shuffled."""

    def make(r: dict[str, Any]) -> Item:
        t = r["mc1_targets"]
        if isinstance(t, dict) and "choices" in t:
            texts, labels = list(t["choices"]), list(t["labels"])
        elif isinstance(t, dict):
            texts, labels = list(t), list(t.values())
        else:
            raise Malformed("mc1_targets is neither a dict nor {choices, labels}")
        hub = {
            k: {"choices": list(v), "labels": list(v.values())}
            if isinstance(v, dict) and "choices" not in v
            else v
            for k, v in r.items()
            if k in ("question", "mc1_targets", "mc2_targets")
        }
        texts = _texts(texts, "mc1_targets")
        if labels.count(1) != 1 or len(labels) != len(texts):
            raise Malformed(f"mc1_targets has {labels.count(1)} correct answers (need exactly 1)")
        q = str(r["question"]).strip()
        iid = stable_id(q)
        choices, gold = shuffled(spec.name, iid, texts, labels.index(1))
        meta = {
            "shuffled": True,
            "source_choices": texts,
            "source_gold": LETTERS[labels.index(1)],
            "row": hub,
        }
        return Item(iid, q, choices, gold, len(choices), meta)

    return _per_row(spec, rows, make)


# --- Arrow single-split benchmarks ------------------------------------------------------------


def _hellaswag_clean(arr: pa.Array) -> pa.Array:
    """lm-eval's HellaSwag preprocess: ' [title]' -> '. ', drop [bracketed] tokens, '  ' -> ' '."""
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.replace_substring(arr, " [title]", ". ")
    arr = pc.replace_substring_regex(arr, r"\[.*?\]", "")
    return pc.replace_substring(arr, "  ", " ")


def hellaswag(spec: TaskSpec, table: pa.Table | list[Row], where: str) -> Built:
    """HellaSwag: question = activity_label: ctx_a + capitalised ctx_b; endings cleaned (vectorised)."""
    if isinstance(table, list):
        table = pa.Table.from_pylist([r for _, r in table])
    ctx = pc.binary_join_element_wise(
        table["activity_label"], ": ", table["ctx_a"], " ", pc.utf8_capitalize(table["ctx_b"]), ""
    )
    questions = _hellaswag_clean(ctx).to_pylist()
    endings = table["endings"].combine_chunks()
    flat = _hellaswag_clean(endings.flatten())
    cleaned = pa.ListArray.from_arrays(endings.offsets, flat).to_pylist()
    labels = table["label"].to_pylist()
    rows = table.to_pylist()
    raw_ctx = table["ctx"].to_pylist()
    src = table["source_id"].to_pylist()
    ind = table["ind"].to_pylist()
    native = {c: table[c].to_pylist() for c in ("activity_label", "ctx_a", "ctx_b", "endings")}
    out = Built(spec.name)
    for i, (q, ch, lab) in enumerate(zip(questions, cleaned, labels, strict=True)):
        try:
            gi = int(lab)
            if not ch or q is None:
                raise Malformed("empty context or endings")
            gold = _letter(gi, len(ch))
        except (ValueError, TypeError, Malformed) as exc:
            out.skipped.append(Skipped(spec.name, f"{where} row {i}", f"bad label/endings: {exc}"))
            continue
        out.items.append(
            Item(
                stable_id(raw_ctx[i], ch),
                q,
                ch,
                gold,
                len(ch),
                {
                    "source_id": src[i],
                    "ind": ind[i],
                    **{c: v[i] for c, v in native.items()},
                    "row": rows[i],
                },
            )
        )
    return out.finish()


def social_iqa(spec: TaskSpec, rows: pa.Table | list[Row], where: str) -> Built:
    """Social IQa: context is meta['passage']; label is '1'..'3'."""
    if isinstance(rows, pa.Table):
        rows = _table_rows(rows, where)

    def make(r: dict[str, Any]) -> Item:
        choices = _texts([r["answerA"], r["answerB"], r["answerC"]], "answers")
        ctx, q = r["context"].strip(), r["question"].strip()
        return Item(
            stable_id(ctx, q, choices),
            q,
            choices,
            _letter(int(r["label"]) - 1, 3),
            3,
            {"passage": ctx},
        )

    return _per_row(spec, rows, make)


def piqa(spec: TaskSpec, rows: pa.Table | list[Row], where: str) -> Built:
    """PIQA: goal + two solutions, label 0/1."""
    if isinstance(rows, pa.Table):
        rows = _table_rows(rows, where)

    def make(r: dict[str, Any]) -> Item:
        choices = _texts([r["sol1"], r["sol2"]], "solutions")
        goal = r["goal"].strip()
        return Item(stable_id(goal, choices), goal, choices, _letter(int(r["label"]), 2), 2, {})

    return _per_row(spec, rows, make)


def commonsense_qa(spec: TaskSpec, rows: pa.Table | list[Row], where: str) -> Built:
    """CommonsenseQA: native id, choices{label A-E, text}, answerKey letter."""
    if isinstance(rows, pa.Table):
        rows = _table_rows(rows, where)

    def make(r: dict[str, Any]) -> Item:
        texts = _texts(r["choices"]["text"])
        labels = list(r["choices"]["label"])
        key = r["answerKey"]
        if key not in labels:
            raise Malformed(f"answerKey {key!r} not in labels {labels}")
        return Item(
            str(r["id"]),
            r["question"].strip(),
            texts,
            LETTERS[labels.index(key)],
            len(texts),
            {"concept": r.get("question_concept")},
        )

    return _per_row(spec, rows, make)


# --- MCTest -----------------------------------------------------------------------------------


def _mctest_text(s: str) -> str:
    return s.replace("\\newline", "\n").replace("\\tab", "\t").strip()


def mctest_tsv(
    spec: TaskSpec, stories: list[tuple[str, list[str]]], answers: list[tuple[str, list[str]]]
) -> Built:
    """MCTest TSV (id, properties, story, 4 x (question, A-D)) + .ans (4 letters per story)."""
    out = Built(spec.name)
    if len(stories) != len(answers):
        out.skipped.append(
            Skipped(
                spec.name,
                answers[0][0] if answers else "answers",
                f"{len(answers)} answer lines for {len(stories)} stories",
            )
        )
    for (loc, cols), (aloc, keys) in zip(stories, answers, strict=False):
        if len(cols) != 23:
            out.skipped.append(Skipped(spec.name, loc, f"{len(cols)} columns (need 23)"))
            continue
        if len(keys) != 4 or any(k not in "ABCD" or not k for k in keys):
            out.skipped.append(Skipped(spec.name, aloc, f"answer line {keys} is not 4 letters A-D"))
            continue
        story_id, story = cols[0], _mctest_text(cols[2])
        for j in range(4):
            q, *opts = cols[3 + 5 * j : 8 + 5 * j]
            kind, _, qtext = q.partition(": ")
            texts = [_mctest_text(o) for o in opts]
            row = {  # the Hub's schema, with this file's text
                "story": story,
                "question": _mctest_text(qtext),
                "answer_options": dict(zip("ABCD", texts, strict=True)),
                "answer": keys[j],
            }
            out.items.append(
                Item(
                    f"{story_id}.q{j + 1}",
                    _mctest_text(qtext),
                    texts,
                    keys[j],
                    4,
                    {"passage": story, "story_id": story_id, "mc_type": kind, "row": row},
                )
            )
    return out.finish()


def mctest_hub(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """MCTest from the Hub (sagnikrayc/mctest, read from its parquet conversion): fields idx{story,
    question}, story, question, answer_options{A-D}, answer. That schema is taken from the dataset
    card and could not be checked against the Hub from here; a missing field is named per row."""

    def make(r: dict[str, Any]) -> Item:
        opts = r["answer_options"]
        choices = _texts([opts[x] for x in "ABCD"], "answer_options")
        idx = r.get("idx") or {}
        iid = (
            f"{idx.get('story', '')}.q{int(idx.get('question', 0)) + 1}"
            if idx
            else stable_id(r["story"], r["question"], choices)
        )
        kind, _, qtext = str(r["question"]).partition(": ")
        ans = str(r["answer"]).strip()
        if ans not in "ABCD" or not ans:
            raise Malformed(f"answer {ans!r} is not A-D")
        return Item(
            iid,
            _mctest_text(qtext or kind),
            choices,
            ans,
            4,
            {"passage": _mctest_text(r["story"]), "mc_type": kind if qtext else None},
        )

    return _per_row(spec, rows, make)


# --- generated items (the synth benchmark) ---------------------------------------------------


def synth(spec: TaskSpec, n: int | None, where: str) -> Built:
    """The first `n` items of a family of forgetmap.suite.synthetic (no source rows)."""
    from forgetmap.suite import synthetic  # noqa: PLC0415 - the synth benchmark's declaration

    size = synthetic.SIZES.get(spec.subset)
    n = synthetic.DEFAULT_N if n is None else n
    if size is not None:
        n = min(n, size)  # a family whose pool is smaller than the default gives all it has
    return Built(spec.name, items=list(synthetic.generate(spec.subset, n)))


# --- SALAD-Bench MRQ, IFEval ------------------------------------------------------------------


def salad_mrq(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """SALAD-Bench MRQ (walledai/SaladBench mrq): question, choices[], answers[] (0-based indices
    or letters of every correct option), categories[]. Several options may be correct: gold is
    all correct letters in order (e.g. "AC"), meta['gold_set'] lists them."""

    def make(r: dict[str, Any]) -> Item:
        choices = _texts(r["choices"])
        answers = r["answers"]
        if not isinstance(answers, (list, tuple)) or not answers:
            raise Malformed("answers is not a non-empty list")
        idx = sorted({LETTERS.index(a) if isinstance(a, str) else int(a) for a in answers})
        letters = [_letter(i, len(choices)) for i in idx]
        q = str(r["question"]).strip()
        return Item(
            stable_id(q, choices),
            q,
            choices,
            "".join(letters),
            len(choices),
            {"gold_set": letters, "categories": list(r.get("categories") or [])},
        )

    return _per_row(spec, rows, make)


def ifeval(spec: TaskSpec, rows: list[Row], where: str) -> Built:
    """IFEval prompts: free-form; meta keeps instruction ids and kwargs for the checker.

    The Hub's copy (an Arrow struct) gives every instruction every kwarg, mostly None; the
    official file lists only the ones set. None values are dropped, so both give one item."""

    def make(r: dict[str, Any]) -> Item:
        ids = list(r["instruction_id_list"])
        kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in r["kwargs"]]
        if len(ids) != len(kwargs):
            raise Malformed(f"{len(ids)} instruction ids but {len(kwargs)} kwargs")
        if not str(r["prompt"]).strip():
            raise Malformed("empty prompt")
        return Item(
            str(r["key"]),
            str(r["prompt"]),
            [],
            "",
            None,
            {"instruction_id_list": ids, "kwargs": kwargs},
        )

    return _per_row(spec, rows, make)
