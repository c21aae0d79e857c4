"""Scoring one response by what the registry declares for its task: scorer and answer mode.

The engine calls `score_response` (generations) and `score_loglik` (option log-likelihoods) and
writes the fields they return. Which scorer runs (answer extraction, or IFEval's instruction
checkers) and how an answer is compared with the gold one (`extract.AnswerMode`, with the
protocol's `multi_answer` rule for letter sets) is declared data, not a branch on a
benchmark's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forgetmap.letters import LETTERS
from forgetmap.suite.items import Item
from forgetmap.suite.registry import TaskSpec

__all__ = ["scoring_mode", "score_loglik", "score_response"]


def scoring_mode(spec: TaskSpec, multi_answer: str = "exact_set") -> str:
    """The `extract.AnswerMode` a task's answers are scored in: its declared mode, with letter
    sets scored `letter_set_any` under a protocol whose `multi_answer` is `any_gold`."""
    if spec.answer_mode == "letter_set" and multi_answer == "any_gold":
        return "letter_set_any"
    return spec.answer_mode


def score_response(
    spec: TaskSpec, item: Item, response: str, multi_answer: str = "exact_set"
) -> dict[str, Any]:
    """Record fields (pred, extract_status, extract_rule, correct, ...) of one generation."""
    if spec.scorer == "instruction_checks":
        from forgetmap.suite.ifeval import score_item

        return score_item(item, response).record_fields()
    from forgetmap.suite.extract import extract_row, is_correct

    mode = scoring_mode(spec, multi_answer)
    x = extract_row(response, list(item.choices), item.k, mode)
    return {
        "pred": x.pred,
        "extract_status": str(x.status),
        "extract_rule": x.rule,
        "correct": is_correct(x.pred, item.gold, mode),
    }


def score_loglik(
    spec: TaskSpec, item: Item, logliks: Sequence[float], multi_answer: str = "exact_set"
) -> tuple[dict[str, Any], str]:
    """Record fields of a loglik prediction (the option of highest log-likelihood) and the
    response text that records the scores."""
    from forgetmap.suite.extract import is_correct

    best = max(range(len(logliks)), key=lambda i: logliks[i])
    pred = LETTERS[best]
    response = " | ".join(f"{LETTERS[i]}: {v:.4f}" for i, v in enumerate(logliks))
    fields = {
        "pred": pred,
        "extract_status": "ok",
        "extract_rule": "argmax_loglik",
        "correct": is_correct(pred, item.gold, scoring_mode(spec, multi_answer)),
    }
    return fields, response
