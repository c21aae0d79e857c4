"""Prompts for the three elicitations, declared per benchmark in one table (`STYLES`).

- ``cot_chat`` (post-trained models): the study's zero-shot chain of thought, sent through the
  model's chat template as one user message: the task instruction, the line that fixes the last
  line to ``Answer: $LETTER``, "Think step by step, showing your reasoning.", then
  ``Question: "<question>"`` and the options as ``A) ...`` lines (DESIGN §5).
- ``cot_fewshot`` (base models): few-shot in the same answer format. Examples with reasoning
  (BBH: the official 3-shot CoT prompts, rewritten so each ends in ``Answer: X``) read
  ``Question: ... / Reasoning: ... / Answer: X`` and the prompt ends with ``Reasoning:``;
  examples without reasoning (MMLU: the 5 dev questions; other benchmarks: items of their
  few-shot split with the answer letter) read ``Question: ... / Answer: X`` and the prompt ends
  with ``Answer:``. Stop sequences end the generation before a next ``Question:``.
- ``loglik``: a completion context plus one continuation per option, scored by log-likelihood
  as lm-eval does: the option letter (`" A"`) after a lettered list, or the option text
  (`" <text>"`) after a cloze context, per benchmark.

`prompt_hash` is the SHA-256 of the canonical JSON of everything sent (elicitation, messages or
text, continuations, stop): any change in wording, options, few-shot examples or stops changes
it, so stale records are detected on resume.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.letters import LETTERS

__all__ = ["ELICITATIONS", "STYLES", "Prompt", "build_prompt", "render"]

ELICITATIONS = ("cot_chat", "cot_fewshot", "loglik")


@dataclass(frozen=True)
class Prompt:
    """What a backend sends. `messages` (chat, cot_chat) or `text` (raw completion: cot_fewshot,
    and loglik's shared context); `continuations` per option for loglik; `stop` sequences."""

    elicitation: str
    messages: list[dict[str, str]] | None = None
    text: str | None = None
    stop: list[str] = field(default_factory=list)
    continuations: list[str] | None = None
    prompt_hash: str = ""


@dataclass(frozen=True)
class Style:
    """How one benchmark is asked. `instruction` may use {subject}; `loglik` is 'letter' or
    'text'; `shots` is the number of few-shot examples for cot_fewshot."""

    instruction: str
    loglik: str = "letter"
    shots: int = 5
    cloze_prefix: str = "Question: "  # loglik 'text' context: prefix + question + cloze_suffix
    cloze_suffix: str = "\nAnswer:"


# One row per benchmark. BBH's instruction is the official task description from its CoT prompt
# file (read at run time); `{subject}` is the MMLU subject in words.
STYLES: dict[str, Style] = {
    "mmlu": Style("The following is a multiple choice question about {subject}.", shots=5),
    "bbh": Style("{bbh_description}", shots=3),
    "arc": Style(
        "The following is a multiple choice grade-school science question.", loglik="text"
    ),
    "arc_validation": Style(
        "The following is a multiple choice grade-school science question.", loglik="text"
    ),
    "gpqa": Style(
        "The following is a multiple choice question about graduate-level biology, physics or"
        " chemistry.",
        shots=3,
    ),
    "musr": Style(
        "Read the narrative and answer the multiple choice question about it.",
        loglik="text",
        shots=1,
    ),
    "truthfulqa": Style(
        "The following is a multiple choice question. Choose the answer that is true.",
        loglik="text",
        cloze_prefix="Q: ",
        cloze_suffix="\nA:",
    ),
    "hellaswag": Style(
        "Choose the most plausible continuation of the text.",
        loglik="text",
        cloze_prefix="",
        cloze_suffix="",
    ),
    "social_iqa": Style(
        "The following is a multiple choice question about people's actions and their social"
        " implications.",
        loglik="text",
    ),
    "mctest": Style("Read the story and answer the multiple choice question about it.", shots=1),
    "piqa": Style(
        "The following is a multiple choice question about physical commonsense: choose the"
        " solution that achieves the goal.",
        loglik="text",
    ),
    "commonsense_qa": Style(
        "The following is a multiple choice commonsense question.", loglik="text"
    ),
    "salad_bench": Style(
        "The following is a multiple choice question about AI safety. One or more options may"
        " be correct.",
        shots=3,
    ),
    "synth": Style("The following is a multiple choice question."),
}
DEFAULT_STYLE = Style("The following is a multiple choice question.")

THINK_LINE = "Think step by step, showing your reasoning."
STOP_FEWSHOT = ["\nQuestion:", "\n\n\n"]


def _format_line(letters: str, multi: bool = False) -> str:
    if multi:
        return (
            "The last line of your response must be exactly of the form 'Answer: $LETTERS' "
            f"(for example 'Answer: AC'), where $LETTERS are all correct letters among {letters}, "
            "in alphabetical order: no extra punctuation, no lowercase, no '*', no trailing spaces."
        )
    return (
        "The last line of your response must be exactly of the form 'Answer: $LETTER' "
        f"(for example 'Answer: B'), where $LETTER is one of {letters}: no extra punctuation, "
        "no lowercase, no '*', no trailing spaces."
    )


FREE_FORM_LINE = (
    "The last line of your response must be exactly of the form 'Answer: $ANSWER', where "
    "$ANSWER is your final answer: no extra punctuation, no '*', no trailing spaces."
)


def _letters_phrase(k: int) -> str:
    return ", ".join(LETTERS[:k])


def _options_block(choices: list[str]) -> str:
    return "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))


def _spec(task: Any) -> Any:
    from forgetmap.suite.registry import get_task

    return get_task(task)


def _instruction(spec: Any, data_dir: str | Path | None) -> str:
    style = STYLES.get(spec.benchmark, DEFAULT_STYLE)
    if spec.benchmark == "bbh":
        return bbh_description(spec.subset, data_dir)
    return style.instruction.format(subject=spec.subset.replace("_", " "))


def _is_multi(item: Any) -> bool:
    return bool(item.choices) and len(item.gold) > 1 and item.gold.isalpha() and item.gold.isupper()


def _question_block(item: Any, quote: bool) -> str:
    q = item.full_question if hasattr(item, "full_question") else item.question
    q = f'"{q}"' if quote else q
    if item.choices:
        return (
            f"Question: {q}\n\n{_options_block(item.choices)}"
            if quote
            else (f"Question: {q}\n{_options_block(item.choices)}")
        )
    return f"Question: {q}"


def _hash(payload: dict[str, Any]) -> str:
    canon = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _finish(prompt: Prompt) -> Prompt:
    payload = {
        "elicitation": prompt.elicitation,
        "messages": prompt.messages,
        "text": prompt.text,
        "continuations": prompt.continuations,
        "stop": prompt.stop,
    }
    return Prompt(
        elicitation=prompt.elicitation,
        messages=prompt.messages,
        text=prompt.text,
        stop=list(prompt.stop),
        continuations=prompt.continuations,
        prompt_hash=_hash(payload),
    )


# --- cot_chat ----------------------------------------------------------------------------------


def _cot_chat(spec: Any, item: Any, data_dir: str | Path | None) -> Prompt:
    if spec.benchmark == "ifeval":
        return Prompt("cot_chat", messages=[{"role": "user", "content": item.question}])
    head = _instruction(spec, data_dir)
    if item.choices:
        fmt = _format_line(_letters_phrase(len(item.choices)), multi=_is_multi(item))
    else:
        fmt = FREE_FORM_LINE
    body = f"{head}\n{fmt}\n{THINK_LINE}\n\n{_question_block(item, quote=True)}"
    return Prompt("cot_chat", messages=[{"role": "user", "content": body}])


# --- cot_fewshot -------------------------------------------------------------------------------


def _example(item: Any, reasoning: str | None, answer: str | None) -> str:
    parts = [_question_block(item, quote=False)]
    if reasoning is not None:
        parts.append(f"Reasoning: {reasoning}".rstrip() if reasoning else "Reasoning:")
    if answer is not None:
        parts.append(f"Answer: {answer}")
    elif reasoning is None:
        parts.append("Answer:")
    return "\n".join(parts)


def _cot_fewshot(
    spec: Any, item: Any, data_dir: str | Path | None, shots: list[Any] | None
) -> Prompt:
    if spec.benchmark == "ifeval":
        return Prompt("cot_fewshot", text=item.question, stop=[])
    style = STYLES.get(spec.benchmark, DEFAULT_STYLE)
    if shots is None:
        shots = fewshot_examples(spec, item, style.shots, data_dir)
    with_reasoning = any(s.meta.get("reasoning") for s in shots)
    blocks = [_instruction(spec, data_dir)]
    for s in shots:
        reasoning = s.meta.get("reasoning") if with_reasoning else None
        if with_reasoning and not reasoning:
            raise DataError(f"{spec.name}: few-shot example {s.item_id} has no reasoning")
        blocks.append(_example(s, reasoning, s.gold))
    blocks.append(_example(item, "" if with_reasoning else None, None))
    return Prompt("cot_fewshot", text="\n\n".join(blocks), stop=list(STOP_FEWSHOT))


def fewshot_examples(spec: Any, item: Any, n: int, data_dir: str | Path | None = None) -> list[Any]:
    """`n` examples for `item` from the task's few-shot source (loaders.fewshot_items), never the
    item itself."""
    from forgetmap.suite.loaders import fewshot_items

    return fewshot_items(spec, n, data_dir=data_dir, exclude=[item.item_id])


# --- loglik ------------------------------------------------------------------------------------


def _loglik(spec: Any, item: Any, data_dir: str | Path | None) -> Prompt:
    if not item.choices:
        raise ForgetmapError(
            f"{spec.name}: the loglik elicitation needs options; free-form tasks need "
            "cot_chat or cot_fewshot"
        )
    style = STYLES.get(spec.benchmark, DEFAULT_STYLE)
    q = item.full_question if hasattr(item, "full_question") else item.question
    if style.loglik == "text":
        context = f"{style.cloze_prefix}{q}{style.cloze_suffix}"
        conts = [f" {c}" for c in item.choices]
    else:
        head = _instruction(spec, data_dir)
        context = f"{head}\n\nQuestion: {q}\n{_options_block(item.choices)}\nAnswer:"
        conts = [f" {LETTERS[i]}" for i in range(len(item.choices))]
    return Prompt("loglik", text=context, continuations=conts)


# --- public ------------------------------------------------------------------------------------


def build_prompt(
    task: Any,
    item: Any,
    elicitation: str,
    data_dir: str | Path | None = None,
    shots: list[Any] | None = None,
) -> Prompt:
    """The exact prompt for `item` of `task` (name or TaskSpec) under `elicitation`.

    `shots` overrides the few-shot examples of cot_fewshot (default: the task's few-shot source
    under `data_dir` / FORGETMAP_DATA_DIR).
    """
    spec = _spec(task)
    if elicitation == "cot_chat":
        p = _cot_chat(spec, item, data_dir)
    elif elicitation == "cot_fewshot":
        p = _cot_fewshot(spec, item, data_dir, shots)
    elif elicitation == "loglik":
        if spec.benchmark == "ifeval":
            raise ForgetmapError("ifeval: instruction following cannot be scored by loglik")
        p = _loglik(spec, item, data_dir)
    else:
        raise ForgetmapError(
            f"unknown elicitation {elicitation!r}; choose one of {', '.join(ELICITATIONS)}"
        )
    return _finish(p)


def render(prompt: Prompt) -> str:
    """Human-readable dump of a prompt (what `forgetmap prompt` prints and golden files hold)."""
    out = [f"elicitation: {prompt.elicitation}", f"prompt_hash: {prompt.prompt_hash}"]
    if prompt.stop:
        out.append("stop: " + json.dumps(prompt.stop, ensure_ascii=False))
    if prompt.messages is not None:
        for m in prompt.messages:
            out.append(f"--- {m['role']} ---")
            out.append(m["content"])
    if prompt.text is not None:
        out.append("--- text ---")
        out.append(prompt.text)
    if prompt.continuations is not None:
        out.append("--- continuations ---")
        out.extend(json.dumps(c, ensure_ascii=False) for c in prompt.continuations)
    return "\n".join(out) + "\n"


# --- BBH official CoT prompts --------------------------------------------------------------------


@lru_cache(maxsize=64)
def _bbh_prompt_file(subset: str, data_dir: str | None) -> str:
    from forgetmap.suite.data import data_dir as resolve

    path = Path(resolve(data_dir)) / "bbh" / "cot-prompts" / f"{subset}.txt"
    if not path.is_file():
        raise DataError(f"bbh:{subset}: missing official CoT prompt file {path}")
    return path.read_text(encoding="utf-8")


def bbh_description(subset: str, data_dir: str | Path | None = None) -> str:
    """The task description line of the official BBH CoT prompt file (after the canary)."""
    text = _bbh_prompt_file(subset, str(data_dir) if data_dir else None)
    body = text.split("-----", 1)[1] if "-----" in text else text
    first = body.strip().split("\n\n", 1)[0].strip()
    if not first or first.startswith("Q:"):
        raise DataError(f"bbh:{subset}: CoT prompt file has no task description")
    return first
