"""The task registry: every study task of the study's appendix B.2, its category, k and suites."""

from __future__ import annotations

from collections import Counter

import pytest

from forgetmap.errors import ForgetmapError
from forgetmap.suite import registry
from forgetmap.suite.registry import (
    category_for,
    get_task,
    list_tasks,
    resolve_tasks,
    suite_names,
)

# the study's appendix B.2 "BBH option counts" (None: free-form)
BBH_K = {
    "boolean_expressions": 2, "causal_judgement": 2, "date_understanding": 6,
    "disambiguation_qa": 3, "formal_fallacies": 2, "geometric_shapes": 11, "hyperbaton": 2,
    "logical_deduction_three_objects": 3, "logical_deduction_five_objects": 5,
    "logical_deduction_seven_objects": 7, "movie_recommendation": 6, "navigate": 2,
    "object_counting": 19, "penguins_in_a_table": 5, "reasoning_about_colored_objects": 18,
    "ruin_names": 6, "salient_translation_error_detection": 6, "snarks": 2,
    "sports_understanding": 2, "temporal_sequences": 4,
    "tracking_shuffled_objects_three_objects": 3, "tracking_shuffled_objects_five_objects": 5,
    "tracking_shuffled_objects_seven_objects": 7, "web_of_lies": 2,
    "dyck_languages": None, "word_sorting": None, "multistep_arithmetic_two": None,
}  # fmt: skip

# BBH tasks whose items carry different option counts in the official data
BBH_VARYING = {
    "movie_recommendation", "penguins_in_a_table", "reasoning_about_colored_objects",
    "date_understanding", "disambiguation_qa", "ruin_names", "geometric_shapes",
}  # fmt: skip

# the study's appendix B.2 categories of the non-MMLU/BBH tasks
OTHER_CATEGORY = {
    "commonsense_qa:validation": "Commonsense", "piqa:validation": "Commonsense",
    "arc:easy": "Logic", "arc:challenge": "Logic", "musr:murder_mysteries": "Logic",
    "musr:object_placements": "Logic", "musr:team_allocation": "Logic",
    "mctest:test": "Knowledge", "social_iqa:validation": "Language",
    "hellaswag:validation": "Language", "truthfulqa:mc1": "Safety/Truth",
    "salad_bench:mrq": "Safety/Truth", "gpqa:diamond": "Science/Tech",
}  # fmt: skip

STUDY_CATEGORIES = {
    "Commonsense", "Culture", "Logic", "Knowledge", "Language", "Liberal Arts", "Math",
    "Safety/Truth", "Science/Tech",
}  # fmt: skip


def test_paper_suite_holds_every_study_task() -> None:
    paper = list_tasks("paper")
    by_bench = Counter(t.benchmark for t in paper)
    assert by_bench == {
        "mmlu": 57, "bbh": 27, "arc": 2, "musr": 3, "gpqa": 1, "truthfulqa": 1,
        "hellaswag": 1, "social_iqa": 1, "mctest": 1, "piqa": 1, "commonsense_qa": 1,
        "salad_bench": 1, "ifeval": 1,
    }  # fmt: skip
    names = [t.name for t in paper]
    assert len(names) == len(set(names)) == 98
    assert all(n.count(":") == 1 for n in names)
    for name, cat in OTHER_CATEGORY.items():
        assert get_task(name).category == cat, name
    assert {t.category for t in paper if t.benchmark != "ifeval"} == STUDY_CATEGORIES


def test_mmlu_categories_follow_design() -> None:
    cats = Counter(t.category for t in list_tasks("paper") if t.benchmark == "mmlu")
    assert cats == {
        "Logic": 1, "Knowledge": 2, "Liberal Arts": 19, "Math": 7, "Safety/Truth": 4,
        "Science/Tech": 24,
    }  # fmt: skip
    assert category_for("mmlu:formal_logic") == "Math"
    assert category_for("mmlu:jurisprudence") == "Safety/Truth"
    assert all(get_task(t.name).k == 4 for t in list_tasks("paper") if t.benchmark == "mmlu")


def test_bbh_k_free_form_and_aggregate_flags() -> None:
    bbh = {t.subset: t for t in list_tasks("paper") if t.benchmark == "bbh"}
    assert set(bbh) == set(BBH_K)
    for subset, k in BBH_K.items():
        t = bbh[subset]
        assert t.k_nominal == k, subset
        assert t.free_form is (k is None), subset
        assert t.in_aggregate is (k is not None), subset
        varies = subset in BBH_VARYING
        assert t.k == (None if varies else k), subset
    assert bbh["object_counting"].fixed_choices == tuple(str(i) for i in range(19))
    assert bbh["boolean_expressions"].fixed_choices == ("True", "False")
    assert bbh["sports_understanding"].category == "Culture"


def test_paper_base_is_the_studys_base_tasks() -> None:
    """The study's few-shot task table: every MMLU subject; no TruthfulQA, SALAD-Bench, IFEval."""
    paper = {t.name for t in list_tasks("paper")}
    base = {t.name for t in list_tasks("paper-base")}
    assert base < paper
    assert paper - base == {"truthfulqa:mc1", "salad_bench:mrq", "ifeval:prompts"}
    assert sum(t.startswith("mmlu:") for t in base) == 57
    mc = list_tasks("paper-mc")
    assert all(t.in_aggregate for t in mc)
    assert "bbh:word_sorting" not in {t.name for t in mc}


def test_small_suites_span_categories() -> None:
    quick = list_tasks("quick")
    assert 5 <= len(quick) <= 12
    assert len({t.category for t in quick}) >= 8
    assert {"paper", "paper-base", "quick", "smoke", "all"} <= set(suite_names())


def test_every_task_knows_its_sources() -> None:
    for t in list_tasks("all"):
        if t.benchmark == "synth":
            continue
        assert t.local_paths and t.local_format, t.name
        assert t.hub_id and t.hub_split and t.hub_revision, t.name
        assert t.split, t.name
    assert get_task("mmlu:anatomy").hub_config == "anatomy"
    assert get_task("arc:challenge").hub_config == "ARC-Challenge"
    assert get_task("mctest:test").local_paths == (
        "mctest/data/MCTest/mc160.test.tsv",
        "mctest/data/MCTest/mc500.test.tsv",
    )


def test_hub_revision_can_be_pinned_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGETMAP_HUB_REVISION_GPQA", "0123abcd" * 5)
    registry._tasks.cache_clear()
    try:
        assert get_task("gpqa:diamond").hub_revision == "0123abcd" * 5
    finally:
        monkeypatch.delenv("FORGETMAP_HUB_REVISION_GPQA")
        registry._tasks.cache_clear()
    assert get_task("gpqa:diamond").hub_revision == "main"


def test_unknown_task_suggests_close_names() -> None:
    with pytest.raises(ForgetmapError, match=r"unknown task 'mmlu:anatomi'.*mmlu:anatomy"):
        get_task("mmlu:anatomi")
    with pytest.raises(ForgetmapError, match=r"bbh:navigate"):
        get_task("navigate")
    with pytest.raises(ForgetmapError, match=r"forgetmap tasks"):
        get_task("zzzz:qqqq")
    assert category_for("zzzz:qqqq") is None
    with pytest.raises(ForgetmapError, match=r"unknown suite 'papr'.*paper"):
        list_tasks("papr")


def test_resolve_tasks_globs_and_dedup() -> None:
    got = resolve_tasks(tasks="bbh:logical_deduction_*,arc:easy,arc:easy")
    assert [t.name for t in got] == [
        "bbh:logical_deduction_three_objects",
        "bbh:logical_deduction_five_objects",
        "bbh:logical_deduction_seven_objects",
        "arc:easy",
    ]
    both = resolve_tasks(suite="smoke", tasks="mmlu:abstract_algebra")
    assert [t.name for t in both] == [t.name for t in list_tasks("smoke")]
    with pytest.raises(ForgetmapError, match="no task matches"):
        resolve_tasks(tasks="nope:*")
    with pytest.raises(ForgetmapError, match="no tasks selected"):
        resolve_tasks()


def test_synth_tasks_come_from_synthetic_families() -> None:
    synthetic = pytest.importorskip("forgetmap.suite.synthetic")
    synth = {t.subset: t for t in list_tasks("synth")}
    assert set(synth) == set(synthetic.FAMILIES)
    for fam, (cat, k) in synthetic.FAMILIES.items():
        assert (synth[fam].category, synth[fam].k) == (cat, k)
        assert not synth[fam].study
    assert not any(t.benchmark == "synth" for t in list_tasks("paper"))
