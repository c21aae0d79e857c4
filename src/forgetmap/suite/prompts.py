"""Prompts for the three elicitations, rendered from a protocol's settings (docs/protocols.md).

What a prompt says is data: the registry (tasks.yaml) declares each benchmark's instruction,
few-shot source and count, stop sequences and loglik form, and a protocol may override any of
them and the templates themselves. This module only renders: it never looks at a benchmark's
name. Under the default `forgetmap` protocol:

- ``cot_chat`` (post-trained models): zero-shot chain of thought, sent through the model's chat
  template as one user message: the task instruction, the line that fixes the last line to
  ``Answer: $LETTER``, "Reason through it step by step before you answer.", then
  ``Question: "<question>"`` and the options as ``A) ...`` lines (the study's appendix B.2).
- ``cot_fewshot`` (base models): few-shot in the same answer format. Examples with reasoning
  (BBH: the official 3-shot CoT prompts, rewritten so each ends in ``Answer: X``; exemplars of a
  protocol) read ``Question: ... / Reasoning: ... / Answer: X`` and the prompt ends with
  ``Reasoning:``; examples without reasoning read ``Question: ... / Answer: X`` and the prompt
  ends with ``Answer:``. Stop sequences end the generation before a next ``Question:``.
- ``loglik``: a completion context plus one continuation per option, scored by log-likelihood
  as lm-eval does: the option letter (`" A"`) after a lettered list, or the option text
  (`" <text>"`) after a cloze context, as the benchmark declares.

Tasks whose answer mode is `instruction` (IFEval) declare the item itself as their prompt.

`prompt_hash` is the SHA-256 of the canonical JSON of everything sent (elicitation, messages or
text, continuations, stop): any change in wording, options, few-shot examples or stops changes
it, so stale records are detected on resume; the protocol's name is not part of it, so two
protocols that send the same prompt share records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.letters import LETTERS
from forgetmap.records.schema import ELICITATIONS
from forgetmap.suite.items import Item
from forgetmap.suite.protocol import Protocol, TaskProtocol, uses
from forgetmap.suite.protocol import render as render_template
from forgetmap.suite.protocol_loader import load_protocol
from forgetmap.suite.registry import TaskSpec, get_task

__all__ = ["ELICITATIONS", "Prompt", "build_prompt", "fewshot_examples", "render"]


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


# -- template variables ---------------------------------------------------------------------------


def _task_vars(spec: TaskSpec) -> dict[str, Any]:
    return {
        "task": spec.name,
        "benchmark": spec.benchmark,
        "subset": spec.subset,
        "subject": spec.subset.replace("_", " "),
    }


def _item_vars(tp: TaskProtocol, item: Item) -> dict[str, Any]:
    """What templates see of an item: never its gold answer (only examples carry `answer`)."""
    letters = LETTERS[: len(item.choices)]
    options = "\n".join(
        render_template(tp["option"], letter=letters[i], text=c, index=i)
        for i, c in enumerate(item.choices)
    )
    passage = item.meta.get("passage") or ""
    return {
        **_task_vars(tp.spec),
        "question": item.question,
        "passage": passage,
        "full_question": item.full_question,
        "choices": list(item.choices),
        "options": options,
        "letters": ", ".join(letters),
        "k": len(item.choices) or None,
        "meta": dict(item.meta),
    }


def _instruction(tp: TaskProtocol, data_dir: str | Path | None) -> str:
    values = _task_vars(tp.spec)
    if uses(tp["instruction"], "description"):
        from forgetmap.suite.loaders import task_description

        values["description"] = task_description(tp.spec, data_dir)
    return render_template(tp["instruction"], **values)


def _messages(tp: TaskProtocol, content: str, instruction: str) -> list[dict[str, str]]:
    msgs = []
    if tp["system"] is not None:
        system = render_template(tp["system"], **_task_vars(tp.spec), instruction=instruction)
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": content})
    return msgs


# -- the three elicitations -----------------------------------------------------------------------


def _cot_chat(tp: TaskProtocol, item: Item, data_dir: str | Path | None) -> Prompt:
    own = tp.protocol.render_prompt(tp, item, "cot_chat", data_dir)
    if own is not None:
        return Prompt("cot_chat", messages=_messages(tp, own, ""), stop=list(tp["chat_stop"]))
    head = _instruction(tp, data_dir)
    values = _item_vars(tp, item)
    fmt = tp["answer_format"].get(tp.spec.answer_mode)
    answer_format = render_template(fmt, letters=values["letters"], k=values["k"]) if fmt else ""
    body = render_template(tp["chat"], instruction=head, answer_format=answer_format, **values)
    return Prompt("cot_chat", messages=_messages(tp, body, head), stop=list(tp["chat_stop"]))


def fewshot_examples(
    tp: TaskProtocol, item: Item, data_dir: str | Path | None = None
) -> list[Item]:
    """The few-shot examples of `item` from the protocol's source, never the item itself."""
    from forgetmap.suite.loaders import eval_sample, fewshot_items

    n, source = tp["shots"], tp["fewshot_source"]
    if n == 0:
        return []
    if source == "exemplars":
        shots = tp.exemplar_items(data_dir)
        return [s for s in shots if s.item_id != item.item_id][:n]
    if source == "split":
        shots = fewshot_items(tp.spec, n, data_dir=data_dir, exclude=[item.item_id])
    else:
        shots = eval_sample(tp.spec, n, data_dir=data_dir, exclude=[item.item_id])
    return [tp.layout(s) for s in shots]


def _cot_fewshot(
    tp: TaskProtocol, item: Item, data_dir: str | Path | None, shots: list[Item] | None
) -> Prompt:
    own = tp.protocol.render_prompt(tp, item, "cot_fewshot", data_dir)
    if own is not None:
        return Prompt("cot_fewshot", text=own, stop=list(tp["fewshot_stop"]))
    if shots is None:
        shots = fewshot_examples(tp, item, data_dir)
    with_reasoning = any(s.meta.get("reasoning") for s in shots)
    examples = []
    for s in shots:
        reasoning = s.meta.get("reasoning") if with_reasoning else None
        if with_reasoning and not reasoning:
            raise DataError(f"{tp.spec.name}: few-shot example {s.item_id} has no reasoning")
        examples.append(
            render_template(
                tp["fewshot_example"], **_item_vars(tp, s), reasoning=reasoning, answer=s.gold
            )
        )
    values = _item_vars(tp, item)
    query = render_template(
        tp["fewshot_example"], **values, reasoning="" if with_reasoning else None, answer=None
    )
    head = _instruction(tp, data_dir)
    text = render_template(
        tp["fewshot"], instruction=head, examples=examples, query=query, **values
    )
    return Prompt("cot_fewshot", text=text, stop=list(tp["fewshot_stop"]))


def _loglik(tp: TaskProtocol, item: Item, data_dir: str | Path | None) -> Prompt:
    tp.protocol.render_prompt(tp, item, "loglik", data_dir)  # a protocol may have no loglik
    if not item.choices:
        raise ForgetmapError(
            f"{tp.spec.name}: the loglik elicitation needs options; {tp.spec.answer_mode} tasks "
            "need cot_chat or cot_fewshot"
        )
    values = _item_vars(tp, item)
    head = _instruction(tp, data_dir) if uses(tp["loglik_context"], "instruction") else ""
    context = render_template(tp["loglik_context"], instruction=head, **values)
    conts = [
        render_template(tp["loglik_continuation"], letter=LETTERS[i], text=c, index=i)
        for i, c in enumerate(item.choices)
    ]
    return Prompt("loglik", text=context, continuations=conts)


# -- public ---------------------------------------------------------------------------------------


def build_prompt(
    task: str | TaskSpec,
    item: Item,
    elicitation: str,
    data_dir: str | Path | None = None,
    shots: list[Item] | None = None,
    protocol: str | Protocol | None = None,
) -> Prompt:
    """The exact prompt for `item` of `task` (name or TaskSpec) under `elicitation` and
    `protocol` (a built-in name, a protocol file, or None: `forgetmap`).

    `shots` overrides the few-shot examples of cot_fewshot (default: the protocol's few-shot
    source under `data_dir` / FORGETMAP_DATA_DIR).
    """
    tp = load_protocol(protocol).for_task(get_task(task))
    item = tp.layout(item)
    if shots is not None:
        shots = [tp.layout(s) for s in shots]
    if elicitation == "cot_chat":
        p = _cot_chat(tp, item, data_dir)
    elif elicitation == "cot_fewshot":
        p = _cot_fewshot(tp, item, data_dir, shots)
    elif elicitation == "loglik":
        p = _loglik(tp, item, data_dir)
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
