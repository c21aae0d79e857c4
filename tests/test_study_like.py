"""The `study-like` protocol: base models reason on every benchmark from our own hand-written
exemplars; exemplars never come from an evaluated split without being excluded from it, and an
excluded item is never evaluated (the leak test runs the real runner on real data)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from test_runner_units import Instant

from forgetmap.records import ResultsStore
from forgetmap.suite.loaders import load_items
from forgetmap.suite.prompts import build_prompt
from forgetmap.suite.protocol import builtin_protocols
from forgetmap.suite.protocol_loader import load_protocol
from forgetmap.suite.registry import get_task, list_tasks

ROOT = Path(__file__).resolve().parents[1]
STUDY_LIKE = ROOT / "src" / "forgetmap" / "suite" / "protocols" / "study-like.yaml"

# benchmarks that get hand-written exemplars, and the split they come from
REASONED = {
    "arc": "validation", "mmlu": "dev", "mctest": "train",  # splits that are not evaluated
    "gpqa": "train", "musr": None, "hellaswag": "validation", "social_iqa": "validation",
    "piqa": "validation", "commonsense_qa": "validation",  # only the evaluated split exists
}  # fmt: skip


def _study_tasks(bench: str) -> list:
    return [t for t in list_tasks("paper") if t.benchmark == bench]


def test_every_benchmark_reasons_in_the_fewshot_prompt(data_dir: Path) -> None:
    proto = load_protocol("study-like")
    assert "study-like" in builtin_protocols()
    for bench, split in REASONED.items():
        for spec in _study_tasks(bench):
            tp = proto.for_task(spec)
            assert tp["fewshot_source"] == "exemplars", spec.name
            assert tp["shots"] == (1 if bench == "musr" else 3), spec.name
            shots = tp.exemplar_items()
            assert len(shots) == tp["shots"] and all(s.meta["reasoning"] for s in shots)
            assert {ex.split for ex in tp["exemplars"]} == {split or spec.split}, spec.name
            item = proto.load(spec, limit=1).items[0]
            text = build_prompt(spec, item, "cot_fewshot", protocol=proto).text
            assert text.endswith("\nReasoning:"), spec.name
            assert text.count("\nReasoning: ") == tp["shots"], spec.name
            assert text.count("\nAnswer: ") == tp["shots"], spec.name
    # BBH keeps its official CoT prompts; the zero-shot chat prompt is unchanged
    nav = load_items("bbh:navigate", limit=1)[0]
    assert build_prompt("bbh:navigate", nav, "cot_fewshot", protocol="study-like") == (
        build_prompt("bbh:navigate", nav, "cot_fewshot")
    )
    anat = load_items("mmlu:anatomy", limit=1)[0]
    assert build_prompt("mmlu:anatomy", anat, "cot_chat", protocol="study-like") == (
        build_prompt("mmlu:anatomy", anat, "cot_chat")
    )


def test_exemplars_from_evaluated_splits_are_excluded_and_recorded(data_dir: Path) -> None:
    proto = load_protocol("study-like")
    for bench, split in REASONED.items():
        for spec in _study_tasks(bench):
            ids = {ex.id for ex in proto.for_task(spec)["exemplars"]}
            evaluated = {it.item_id for it in proto.load(spec).items}
            assert not ids & evaluated, spec.name  # never evaluated under study-like
            full = {it.item_id for it in load_items(spec)}
            if split is None or split == get_task(spec).split:
                assert proto.excluded(spec) == ids and ids <= full, spec.name
                assert len(evaluated) == len(full) - len(ids), spec.name
            else:
                assert not proto.excluded(spec) and not ids & full, spec.name
    manifest = proto.manifest(list_tasks("paper"))
    assert set(manifest["excluded"]) == {
        "gpqa:diamond", "musr:murder_mysteries", "musr:object_placements",
        "musr:team_allocation", "hellaswag:validation", "social_iqa:validation",
        "piqa:validation", "commonsense_qa:validation",
    }  # fmt: skip
    assert manifest["multi_answer"] == {"salad_bench:mrq": "any_gold"}


LEAK_TASKS = [
    "gpqa:diamond", "musr:murder_mysteries", "musr:object_placements", "musr:team_allocation",
    "hellaswag:validation", "social_iqa:validation", "piqa:validation",
    "commonsense_qa:validation",
]  # fmt: skip


def test_no_exemplar_leaks_into_evaluation(data_dir: Path, tmp_path: Path) -> None:
    """A base-model run under study-like with --limit 12: the exemplars sit among the first 12
    items of these splits, so without the exclusion they would be evaluated."""
    from forgetmap.engine.runner import evaluate

    proto = load_protocol("study-like")
    first12 = {t: [it.item_id for it in load_items(t, limit=12)] for t in LEAK_TASKS}
    for t in LEAK_TASKS:
        assert proto.excluded(t) <= set(first12[t]), t  # the test can fail
    backend = Instant(chat=False)
    s = evaluate("base", backend=backend, tasks=",".join(LEAK_TASKS), seeds=(0,), limit=12,
                 results=tmp_path, progress=False, protocol="study-like")  # fmt: skip
    rows = ResultsStore(tmp_path).read(columns=["task", "item_id"]).to_pylist()
    for t in LEAK_TASKS:
        got = [r["item_id"] for r in rows if r["task"] == t]
        assert len(got) == 12 and not set(got) & proto.excluded(t), t
        kept = [x.item_id for x in load_items(t, limit=20) if x.item_id not in proto.excluded(t)]
        assert set(got) == set(kept[:12]), t  # the next items of the split take their place
    # no evaluated prompt ends with an exemplar's question (the query is never an exemplar)
    for req in backend.seen:
        query = req.text.rsplit("\n\nQuestion: ", 1)[1]
        assert "Reasoning: " not in query
    m = s.manifest
    assert m["elicitation"] == "cot_fewshot" and m["protocol"]["name"] == "study-like"
    assert {t: len(v) for t, v in m["protocol"]["excluded"].items()} == {
        t: len(proto.excluded(t)) for t in LEAK_TASKS
    }


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    w = re.findall(r"\w+", text.lower())
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def test_reasoning_is_our_own_text(data_dir: Path) -> None:
    """No 8-word run of any exemplar's reasoning appears in the study's cot_template.json (read
    at test time from the reference copy beside the data, or $FORGETMAP_STUDY_REPO; nothing of
    it is stored here)."""
    repo = os.environ.get("FORGETMAP_STUDY_REPO") or data_dir.parent / "reference" / "post-forget"
    ref = Path(repo) / "src" / "experiments" / "cot_template.json"
    assert ref.is_file(), f"reference copy of the study's code missing at {ref}"
    theirs: set[tuple[str, ...]] = set()
    for block in json.loads(ref.read_text(encoding="utf-8")).values():
        for ex in block.get("examples", []):
            theirs |= _shingles(str(ex.get("reasoning", "")))
    doc = yaml.safe_load(STUDY_LIKE.read_text(encoding="utf-8"))
    ours = [
        ex["reasoning"]
        for scope in ("benchmarks", "tasks")
        for block in doc[scope].values()
        for ex in block.get("exemplars", [])
    ]
    assert len(ours) >= 57 * 3 + 9 * 3 - 6  # MMLU 3 per subject, the others, MuSR 1 per domain
    copied = [r[:60] for r in ours if _shingles(r) & theirs]
    assert not copied, copied
    assert _shingles("the study writes this very sentence in its own words here") & _shingles(
        "so: the study writes this very sentence in its own words here too"
    )  # the check can fire


@pytest.mark.parametrize("task", ["salad_bench:mrq"])
def test_letter_sets_are_scored_any_gold(task: str) -> None:
    from forgetmap.suite.items import Item
    from forgetmap.suite.scoring import score_response

    item = Item("x", "Which are harmful?", ["a", "b", "c"], "AC", 3)
    spec = get_task(task)
    exact = score_response(spec, item, "...\nAnswer: A", "exact_set")
    anyg = score_response(
        spec, item, "...\nAnswer: A", load_protocol("study-like").for_task(task)["multi_answer"]
    )
    assert exact["pred"] == anyg["pred"] == "A"
    assert (exact["correct"], anyg["correct"]) == (False, True)
    assert score_response(spec, item, "Answer: AB", "any_gold")["correct"] is False
