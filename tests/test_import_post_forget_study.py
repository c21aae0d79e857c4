"""Base -> post-trained pairing of the study's own details (issue 8 item 6).

tests/fixtures/importers/post_forget_study/ was made by running the study's two task modules
themselves with lighteval 0.10 (scripts/make_post_forget_fixtures.py): SmolLM2-135M-Instruct
as a base model (the few-shot module, no chat template) and as a post-trained one (the zero-shot
module through the chat template), a few real items of every benchmark the study runs, study
text redacted. The two modes show each item in different prompts, so nothing pairs unless the
import aligns items by content: every item must pair, k must be the registry's (a 3-shot MMLU
prompt shows 16 option lines).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from forgetmap.analysis.compare import compare
from forgetmap.cli.main import main
from forgetmap.records import ResultsStore
from forgetmap.suite.loaders import load_items
from forgetmap.suite.registry import category_for, get_task

FIX = Path(__file__).parent / "fixtures" / "importers" / "post_forget_study"
BASE, TUNED = "models/smollm2-135m", "models/smollm2-135m-instruct"
# items per task the script runs (ITEMS = 2; several tasks per benchmark); the
# few-shot module has no TruthfulQA, SALAD-Bench or IFEval task
BOTH = {
    "mmlu:abstract_algebra": 2,
    "mmlu:anatomy": 2,
    "bbh:boolean_expressions": 2,
    "bbh:date_understanding": 2,
    "bbh:object_counting": 2,
    "bbh:tracking_shuffled_objects_three_objects": 2,
    "gpqa:diamond": 2,
    "musr:murder_mysteries": 2,
    "musr:object_placements": 2,
    "musr:team_allocation": 2,
    "arc:easy": 2,
    "arc:challenge": 2,
    "hellaswag:test": 2,
    "social_iqa:validation": 2,
    "mctest:test": 2,
    "piqa:validation": 2,
    "commonsense_qa:validation": 2,
}
TUNED_ONLY = {"truthfulqa:mc1": 2, "salad_bench:mrq": 2, "ifeval:prompts": 2}
HASHED = {"hellaswag:test", "salad_bench:mrq"}  # not in the registry / not in the offline data


@pytest.fixture(scope="module")
def imported(tmp_path_factory, data_dir):
    res = tmp_path_factory.mktemp("pf") / "res"
    code = main(["import", "post-forget", "--source", str(FIX), "--results", str(res)])
    assert code == 0
    return ResultsStore(res)


def _rows(store: ResultsStore, model: str) -> list[dict]:
    return store.read(models=[model]).to_pylist()


def test_every_benchmark_in_both_modes(imported):
    assert imported.models() == [BASE, TUNED]
    base, tuned = _rows(imported, BASE), _rows(imported, TUNED)
    assert {r["elicitation"] for r in base} == {"cot_fewshot"}
    assert {r["elicitation"] for r in tuned} == {"cot_chat"}
    per_task = {m: {} for m in (BASE, TUNED)}
    for m, rows in ((BASE, base), (TUNED, tuned)):
        for r in rows:
            per_task[m][r["task"]] = per_task[m].get(r["task"], 0) + 1
    assert per_task[BASE] == BOTH
    assert per_task[TUNED] == {**BOTH, **TUNED_ONLY}
    # every benchmark of the study, in the post-trained mode
    assert {t.partition(":")[0] for t in per_task[TUNED]} == {
        get_task(t).benchmark for t in per_task[TUNED] if category_for(t) is not None
    } | {"hellaswag"}


def test_base_and_tuned_pair_every_item(imported):
    """Few-shot and zero-shot prompts of the same items: every item pairs, none mismatched."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (pair,) = compare(imported, [(BASE, TUNED)], bootstrap=0).pairs
    # the one expected warning per paired task: the two modes' prompts differ (the study's design)
    prompt_warned = {
        t
        for t in BOTH
        for w in caught
        if "prompt_hash differs" in str(w.message) and f"task {t} " in str(w.message)
    }
    assert prompt_warned == set(BOTH)
    others = [str(w.message) for w in caught if "prompt_hash differs" not in str(w.message)]
    assert others == [w for w in pair.warnings if "prompt_hash" not in w]
    assert all("unpaired rows" in w for w in others), others
    assert pair.unpaired.before_only == 0
    for task, n in BOTH.items():
        u = pair.unpaired_by_task.get(task)
        assert u is None or u.before_only == 0, (task, u)
        assert pair.tasks[task].n == n, task
    # tasks the base mode does not run are the tuned side's only unpaired rows
    assert pair.unpaired.after_only == sum(TUNED_ONLY.values())
    assert pair.n_paired == sum(BOTH.values())
    assert not pair.mismatched, pair.mismatched  # same question, options and gold on both sides


def test_k_and_ids_are_the_registrys(imported, data_dir):
    """k is the registry item's (never a count of option lines in a few-shot prompt); item ids
    are the registry's where the benchmark files are present."""
    rows = _rows(imported, BASE) + _rows(imported, TUNED)
    checked = 0
    for task in sorted({r["task"] for r in rows}):
        if task in HASHED:
            continue
        spec = get_task(task)
        items = {it.item_id: it for it in load_items(spec)}
        for r in (r for r in rows if r["task"] == task):
            assert r["item_id"] in items, (task, r["item_id"])
            assert r["n_choices"] == items[r["item_id"]].k, (task, r["item_id"])
            if r["choices"]:  # the prompt listed the options: letters in the registry's order
                assert r["choices"] == items[r["item_id"]].choices, (task, r["item_id"])
                assert r["gold"] == items[r["item_id"]].gold, (task, r["item_id"])
            elif items[r["item_id"]].choices:  # options only in the study's instruction (BBH):
                # its letters are kept, unmapped (object_counting's start at 1, the registry's at 0)
                assert task.startswith("bbh:") and task != "bbh:boolean_expressions", task
            checked += 1
    both = sum(n for t, n in BOTH.items() if t not in HASHED)
    tuned_only = sum(n for t, n in TUNED_ONLY.items() if t not in HASHED)
    assert checked == 2 * both + tuned_only
    # GPQA's options were drawn into new positions by the study's code: mapped back by text
    # (here its second item's gold "11" was shown as A, the registry's B)
    gpqa = [r for r in rows if r["task"] == "gpqa:diamond"]
    assert gpqa and all(r["choices"] for r in gpqa)
    mmlu = [r for r in rows if r["task"].startswith("mmlu:")]
    assert {r["n_choices"] for r in mmlu} == {4}


def test_alignment_report(data_dir):
    """Every task aligned with the benchmark files but two, which pair by a normalised question
    hash: the study's unlabelled HellaSwag split (not in the registry) and SALAD-Bench (not in
    the offline data)."""
    from forgetmap.importers.post_forget import PostForgetImport, import_post_forget

    report: list[PostForgetImport] = []
    import_post_forget(source=FIX, report=report)
    align = report[0].alignment
    assert set(align) == set(BOTH) | set(TUNED_ONLY)
    assert {t for t, a in align.items() if a.method == "hash"} == HASHED
    registry = {t: a for t, a in align.items() if a.method == "registry"}
    assert set(registry) == set(align) - HASHED
    assert {t: a.aligned for t, a in registry.items()} == {t: a.rows for t, a in registry.items()}
    # the tuned PIQA task was run twice: the earlier file is reported, its rows not imported
    (sup,) = report[0].superseded
    assert (sup["model"], sup["task"], sup["seed"]) == (TUNED, "piqa:validation", 0)
    assert len(sup["superseded"]) == 1 and sup["superseded"][0] < sup["kept"]
    assert align["piqa:validation"].rows == BOTH["piqa:validation"] * 2
