"""Byte-for-byte pin of the `forgetmap` protocol's prompts on every task of the registry.

tests/golden/forgetmap_prompt_hashes.json holds, for three items of every task with data (the
first, the middle and the last) and every elicitation, the item id and the prompt_hash (SHA-256
of everything sent: messages or text, continuations, stop sequences). It was written from the
code before prompts became protocol data, so the refactor is proven not to change one byte of
what a model sees under the default protocol. To accept an intended change:
FORGETMAP_UPDATE_GOLDEN=1 pytest tests/test_prompt_pins.py, then review the diff of
tests/golden/*.txt (tests/test_prompts.py) that goes with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.suite.loaders import load_items
from forgetmap.suite.prompts import ELICITATIONS, build_prompt
from forgetmap.suite.registry import all_tasks

PINS = Path(__file__).parent / "golden" / "forgetmap_prompt_hashes.json"


def _pick(items: list[Any]) -> list[Any]:
    idx = sorted({0, len(items) // 2, len(items) - 1})
    return [items[i] for i in idx]


def _hashes(task: str) -> dict[str, Any]:
    try:
        items = load_items(task)
    except DataError as exc:
        return {"absent": str(exc).split(":", 1)[0]}
    out: dict[str, Any] = {"items": [it.item_id for it in _pick(items)]}
    for el in ELICITATIONS:
        row = []
        for it in _pick(items):
            try:
                row.append(build_prompt(task, it, el).prompt_hash)
            except ForgetmapError:
                row.append(None)  # not applicable (loglik on free-form / IFEval)
        out[el] = row
    return out


def test_forgetmap_protocol_prompts_are_pinned(data_dir: Path) -> None:
    got = {t.name: _hashes(t.name) for t in all_tasks()}
    if os.environ.get("FORGETMAP_UPDATE_GOLDEN") == "1":
        PINS.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    want = json.loads(PINS.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(want), "registered tasks changed"
    changed = [t for t in want if got[t] != want[t]]
    assert not changed, f"prompts changed for {len(changed)} task(s): {changed[:8]}"


def test_pins_cover_every_benchmark_and_elicitation() -> None:
    want = json.loads(PINS.read_text(encoding="utf-8"))
    present = {t.split(":", 1)[0] for t, v in want.items() if "items" in v}
    assert present >= {
        "mmlu", "bbh", "arc", "gpqa", "musr", "truthfulqa", "hellaswag", "social_iqa",
        "mctest", "piqa", "commonsense_qa", "ifeval", "synth",
    }  # fmt: skip
    n_hashes = sum(
        len([h for h in v.get(el, []) if h]) for v in want.values() for el in ELICITATIONS
    )
    assert n_hashes > 800


STUDY_LIKE_PINS = Path(__file__).parent / "golden" / "study_like_prompt_hashes.json"


def test_study_like_prompts_are_pinned(data_dir: Path) -> None:
    """The few-shot prompt (exemplars included) of the first evaluated item of every task under
    `study-like`: an edit of an exemplar or of its data shows up here."""
    from forgetmap.suite.protocol_loader import load_protocol

    proto = load_protocol("study-like")
    got: dict[str, Any] = {}
    for t in all_tasks():
        try:
            item = proto.load(t.name, limit=1).items[0]
        except DataError:
            continue
        got[t.name] = [
            item.item_id,
            build_prompt(t.name, item, "cot_fewshot", protocol=proto).prompt_hash,
        ]
    if os.environ.get("FORGETMAP_UPDATE_GOLDEN") == "1":
        STUDY_LIKE_PINS.write_text(
            json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        return
    want = json.loads(STUDY_LIKE_PINS.read_text(encoding="utf-8"))
    changed = sorted(t for t in set(want) | set(got) if want.get(t) != got.get(t))
    assert not changed, f"study-like prompts changed for {len(changed)} task(s): {changed[:8]}"
