"""Loaders on the real offline benchmark files (../shared/data via FORGETMAP_DATA_DIR).

Counts are the official ones of the data README; per-item k, gold letters, ids and the option
shuffle are checked on every item of every task; malformed input is built in tmp dirs.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sys
import types
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.suite.data import data_dir as resolve_data_dir
from forgetmap.suite.loaders import (
    LETTERS,
    DataWarning,
    LoadedTask,
    clear_cache,
    fewshot_items,
    load_items,
    load_task,
    shuffle_seed,
)
from forgetmap.suite.loaders.sources import read_arrow_dir
from forgetmap.suite.registry import list_tasks

FIXTURES = Path(__file__).parent / "fixtures"

# official counts (../shared/data/README.md); BBH counts every source row (snarks has one
# truncated row that is skipped and reported, see test_bbh_truncated_snarks_row_is_reported)
OFFICIAL = {
    "mmlu": 14042, "bbh": 6511, "gpqa:diamond": 198, "musr:murder_mysteries": 250,
    "musr:object_placements": 256, "musr:team_allocation": 250, "arc:easy": 2376,
    "arc:challenge": 1172, "truthfulqa:mc1": 817, "hellaswag:validation": 10042,
    "social_iqa:validation": 1954, "mctest:test": 840, "piqa:validation": 1838,
    "commonsense_qa:validation": 1221, "ifeval:prompts": 541,
}  # fmt: skip


@pytest.fixture(scope="session")
def loaded(data_dir: Path) -> dict[str, LoadedTask]:
    """Every paper task with local data, loaded once (warnings about skipped rows collected)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        for t in list_tasks("paper"):
            if t.benchmark != "salad_bench":
                out[t.name] = load_task(t, data_dir=data_dir)
    return out


def _count(loaded: dict[str, LoadedTask], prefix: str) -> int:
    return sum(
        lt.n_items + len(lt.skipped) for n, lt in loaded.items() if n.split(":")[0] == prefix
    )


def test_counts_equal_official(loaded: dict[str, LoadedTask]) -> None:
    for key, n in OFFICIAL.items():
        got = _count(loaded, key) if ":" not in key else loaded[key].n_items
        assert got == n, key
    assert len([n for n in loaded if n.startswith("mmlu:")]) == 57
    assert len([n for n in loaded if n.startswith("bbh:")]) == 27
    skipped = {n: lt.skipped for n, lt in loaded.items() if lt.skipped}
    assert list(skipped) == ["bbh:snarks"]


def test_every_item_has_valid_k_gold_and_unique_id(loaded: dict[str, LoadedTask]) -> None:
    for name, lt in loaded.items():
        ids = [it.item_id for it in lt.items]
        assert len(ids) == len(set(ids)), name
        for it in lt.items:
            if name.startswith("ifeval:"):
                assert it.k is None and it.choices == [] and it.question
            elif lt.items and it.k is None:  # free-form BBH
                assert it.choices == [] and it.gold, (name, it.item_id)
            else:
                assert it.k == len(it.choices) >= 2, (name, it.item_id)
                assert it.gold in LETTERS[: it.k], (name, it.item_id)
                assert all(isinstance(c, str) and c for c in it.choices), (name, it.item_id)
                assert it.question.strip(), (name, it.item_id)


def _ks(lt: LoadedTask) -> Counter[int | None]:
    return Counter(it.k for it in lt.items)


def test_k_per_item(loaded: dict[str, LoadedTask]) -> None:
    assert _ks(loaded["piqa:validation"]) == {2: 1838}
    assert _ks(loaded["social_iqa:validation"]) == {3: 1954}
    assert _ks(loaded["commonsense_qa:validation"]) == {5: 1221}
    assert _ks(loaded["hellaswag:validation"]) == {4: 10042}
    assert _ks(loaded["mctest:test"]) == {4: 840}
    assert _ks(loaded["gpqa:diamond"]) == {4: 198}
    assert _ks(loaded["musr:murder_mysteries"]) == {2: 250}
    assert _ks(loaded["musr:team_allocation"]) == {3: 250}
    assert _ks(loaded["musr:object_placements"]) == {2: 4, 3: 112, 4: 96, 5: 44}
    assert _ks(loaded["truthfulqa:mc1"]) == {
        2: 43, 3: 90, 4: 219, 5: 192, 6: 135, 7: 65, 8: 36, 9: 17, 10: 9, 11: 7, 12: 3, 13: 1
    }  # fmt: skip
    assert _ks(loaded["arc:easy"]) == {4: 2365, 3: 7, 5: 4}
    assert _ks(loaded["arc:challenge"]) == {4: 1165, 3: 4, 5: 3}
    assert all(_ks(lt) == {4: lt.n_items} for n, lt in loaded.items() if n.startswith("mmlu:"))


def test_bbh_k_follows_design(loaded: dict[str, LoadedTask]) -> None:
    """Option-less tasks get the declared lists (tasks.yaml); parsed tasks keep each item's real count,
    which never exceeds the declared k except disambiguation_qa's three 4-option items."""
    for name, lt in loaded.items():
        if not name.startswith("bbh:"):
            continue
        spec = list_tasks("paper")[[t.name for t in list_tasks("paper")].index(name)]
        ks = _ks(lt)
        if spec.free_form:
            assert ks == {None: 250}, name
        elif spec.fixed_choices:
            assert ks == {spec.k_nominal: lt.n_items}, name
        elif name == "bbh:disambiguation_qa":
            assert ks == {3: 247, 4: 3}
        else:
            assert max(ks) <= spec.k_nominal, name
    assert _ks(loaded["bbh:date_understanding"]) == {6: 212, 5: 38}
    assert _ks(loaded["bbh:geometric_shapes"]) == {10: 200, 11: 50}
    for name in ("bbh:navigate", "bbh:causal_judgement", "bbh:web_of_lies"):
        assert {tuple(it.choices) for it in loaded[name].items} == {("Yes", "No")}, name
    assert {tuple(it.choices) for it in loaded["bbh:formal_fallacies"].items} == {
        ("valid", "invalid")
    }
    assert {tuple(it.choices) for it in loaded["bbh:sports_understanding"].items} == {("yes", "no")}


def test_bbh_golds_match_the_source_targets(loaded: dict[str, LoadedTask], data_dir: Path) -> None:
    for name in ("bbh:object_counting", "bbh:boolean_expressions", "bbh:date_understanding",
                 "bbh:navigate"):  # fmt: skip
        src = json.loads((data_dir / f"bbh/bbh/{name[4:]}.json").read_text())["examples"]
        items = loaded[name].items
        assert len(items) == len(src)
        for it, ex in zip(items, src, strict=True):
            target = ex["target"]
            if target.startswith("("):
                assert it.gold == target[1]
            else:
                assert it.choices[LETTERS.index(it.gold)] == target
            assert "Options:" not in it.question
            assert it.meta["input"] == ex["input"]
    first = loaded["bbh:date_understanding"].items[0]
    assert first.choices[1] == "12/25/1937" and first.gold == "B"


def test_bbh_comma_split_options_are_repaired(loaded: dict[str, LoadedTask]) -> None:
    repaired = [(n, it) for n, lt in loaded.items() for it in lt.items if "repaired" in it.meta]
    assert len(repaired) == 3
    for _, it in repaired:
        assert it.choices[LETTERS.index(it.gold)] == it.meta["target"]
    earth = next(it for _, it in repaired if it.meta["target"] == "dearth, wind, & fire")
    assert earth.choices == [
        "eareth, wind, & fire", "earth, bind, & fire", "earthm wind, & fire",
        "dearth, wind, & fire",
    ]  # fmt: skip
    assert sum(len(lt.repaired) for lt in loaded.values()) == 3


def test_bbh_truncated_snarks_row_is_reported(data_dir: Path) -> None:
    clear_cache()
    with pytest.warns(DataWarning, match=r"snarks\.json examples\[88\]: only 1 option"):
        lt = load_task("bbh:snarks", data_dir=data_dir)
    assert lt.n_items == 177
    assert [s.location.split("/")[-1] for s in lt.skipped] == ["snarks.json examples[88]"]


def test_content_of_first_items(loaded: dict[str, LoadedTask], data_dir: Path) -> None:
    it = loaded["mmlu:anatomy"].items[0]
    assert it.question.startswith("A lesion causing compression of the facial nerve")
    assert it.gold == "A" and len(it.item_id) == 16
    hs = loaded["hellaswag:validation"].items[0]
    assert hs.question == "Roof shingle removal: A man is sitting on a roof. He"
    assert hs.gold == "D" and hs.choices[3] == "starts pulling up roofing on a roof."
    si = loaded["social_iqa:validation"].items[0]
    assert si.gold == "C" and si.meta["passage"].startswith("Tracy didn't go home")
    cs = loaded["commonsense_qa:validation"].items[0]
    assert (cs.item_id, cs.gold, cs.choices[0]) == ("1afa02df02c908a558b4036e80242fac", "A", "bank")
    arc = loaded["arc:easy"].items[0]
    assert arc.item_id == "Mercury_417466" and arc.gold == "A"
    assert arc.question == (
        "Which statement best explains why photosynthesis is the foundation of most food webs?"
    )
    mc = loaded["mctest:test"].items[0]
    assert (mc.item_id, mc.gold, mc.meta["mc_type"]) == ("mc160.test.0.q1", "A", "multiple")
    assert "\\newline" not in mc.meta["passage"] and "\n" in mc.meta["passage"]
    assert mc.full_question.endswith(mc.question) and mc.full_question.startswith("Todd is")
    assert loaded["mctest:test"].items[-1].item_id == "mc500.test.149.q4"
    op = loaded["musr:object_placements"].items[0]
    assert op.choices == ["piano", "producer's desk", "recording booth"] and op.gold == "B"
    assert op.meta["passage"].startswith("In the heart of the bustling studio")
    ife = loaded["ifeval:prompts"].items[0]
    assert ife.item_id == "1000" and ife.meta["instruction_id_list"][0] == "punctuation:no_comma"


def _lm_eval_hellaswag_preprocess(text: str) -> str:
    """lm-evaluation-harness hellaswag/utils.py `preprocess`, the reference."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def test_hellaswag_preprocessing_matches_lm_eval(
    loaded: dict[str, LoadedTask], data_dir: Path
) -> None:
    table = read_arrow_dir(data_dir / "hellaswag/hellaswag/none/validation", "t").to_pylist()
    items = loaded["hellaswag:validation"].items
    for it, row in zip(items, table, strict=True):
        ctx = row["ctx_a"] + " " + row["ctx_b"].capitalize()
        assert it.question == _lm_eval_hellaswag_preprocess(row["activity_label"] + ": " + ctx)
        assert it.choices == [_lm_eval_hellaswag_preprocess(e) for e in row["endings"]]
    assert not any("[title]" in it.question for it in items)


def test_gpqa_and_truthfulqa_shuffle_is_fixed_and_balanced(
    loaded: dict[str, LoadedTask], data_dir: Path
) -> None:
    with (data_dir / "gpqa/gpqa_diamond.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["Record ID"]: r for r in csv.DictReader(fh)}
    for it in loaded["gpqa:diamond"].items:
        assert it.choices[LETTERS.index(it.gold)] == rows[it.item_id]["Correct Answer"].strip()
    golds = Counter(it.gold for it in loaded["gpqa:diamond"].items)
    assert set(golds) == set("ABCD") and max(golds.values()) < 80
    src = json.loads((data_dir / "truthfulqa/data/v0/mc_task.json").read_text())
    tq = loaded["truthfulqa:mc1"].items
    for it, rec in zip(tq, src, strict=True):
        correct = next(a for a, v in rec["mc1_targets"].items() if v == 1)
        assert it.choices[LETTERS.index(it.gold)] == correct.strip()
        assert sorted(it.choices) == sorted(a.strip() for a in rec["mc1_targets"])
    assert Counter(it.gold for it in tq)["A"] < 400  # the source has the answer always first
    assert shuffle_seed("gpqa:diamond", "rec06pnAkLOr2t2mp") == shuffle_seed(
        "gpqa:diamond", "rec06pnAkLOr2t2mp"
    )


def test_ids_and_order_stable_across_loads(loaded: dict[str, LoadedTask], data_dir: Path) -> None:
    clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        for name in ("mmlu:professional_law", "gpqa:diamond", "truthfulqa:mc1", "bbh:ruin_names",
                     "hellaswag:validation", "musr:murder_mysteries"):  # fmt: skip
            again = load_task(name, data_dir=data_dir)
            assert again is not loaded[name]
            assert [(i.item_id, i.gold, i.choices) for i in again.items] == [
                (i.item_id, i.gold, i.choices) for i in loaded[name].items
            ], name


def test_mmlu_exact_duplicates_get_suffixed_ids(loaded: dict[str, LoadedTask]) -> None:
    dup = [it.item_id for n, lt in loaded.items() if n.startswith("mmlu:") for it in lt.items
           if "~" in it.item_id]  # fmt: skip
    assert len(dup) == 27  # exact question+choices duplicates inside MMLU subjects


def test_cache_and_limit(data_dir: Path) -> None:
    a = load_task("piqa:validation", data_dir=data_dir)
    assert load_task("piqa:validation", data_dir=data_dir) is a
    assert load_items("piqa:validation", data_dir=data_dir, limit=5) == a.items[:5]


def test_fewshot_items(data_dir: Path, loaded: dict[str, LoadedTask]) -> None:
    dev = fewshot_items("mmlu:anatomy", 5, data_dir=data_dir)
    assert len(dev) == 5 and not {i.item_id for i in dev} & {
        i.item_id for i in loaded["mmlu:anatomy"].items
    }
    cot = fewshot_items("bbh:navigate", 3, data_dir=data_dir)
    assert len(cot) == 3 and all(i.meta["reasoning"] and i.choices == ["Yes", "No"] for i in cot)
    assert cot[0].gold == "B" and cot[0].meta["answer_sentence"] == "So the answer is No."
    for t in list_tasks("paper"):
        if t.benchmark == "bbh":
            ex = fewshot_items(t, 3, data_dir=data_dir)
            assert len(ex) == 3 and all(e.meta["reasoning"] for e in ex), t.name
    mc = fewshot_items("mctest:test", 2, data_dir=data_dir)
    assert mc[0].item_id == "mc160.train.0.q1"
    arc = fewshot_items("arc:challenge", 2, data_dir=data_dir)
    assert len(arc) == 2 and arc[0].item_id not in {
        i.item_id for i in loaded["arc:challenge"].items
    }
    first = loaded["gpqa:diamond"].items[0].item_id
    g = fewshot_items("gpqa:diamond", 3, data_dir=data_dir, exclude=[first])
    assert len(g) == 3 and first not in {i.item_id for i in g}
    assert all(i.meta["from_eval_split"] for i in g)
    assert [i.item_id for i in g] == [
        i.item_id for i in fewshot_items("gpqa:diamond", 3, data_dir=data_dir, exclude=[first])
    ]


# --- errors -------------------------------------------------------------------------------------


def test_missing_data_dir_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FORGETMAP_DATA_DIR", raising=False)
    monkeypatch.delenv("FORGETMAP_SOURCE", raising=False)
    with pytest.raises(DataError, match="no benchmark data dir: pass --data-dir"):
        load_items("piqa:validation")
    with pytest.raises(DataError, match=rf"{tmp_path / 'nope'} \(from --data-dir\) does not exist"):
        resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv("FORGETMAP_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"gone \(from FORGETMAP_DATA_DIR\) does not exist"):
        load_items("piqa:validation")


def test_missing_benchmark_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"mmlu:anatomy: .* not found: {tmp_path}/mmlu/hails"):
        load_items("mmlu:anatomy", data_dir=tmp_path)
    with pytest.raises(DataError, match=r"salad_bench/mrq\.jsonl"):
        load_items("salad_bench:mrq", data_dir=tmp_path)


def test_unknown_task_error() -> None:
    with pytest.raises(ForgetmapError, match=r"did you mean .*hellaswag:validation"):
        load_items("hellaswag:valdation")


def test_malformed_rows_are_skipped_and_named(tmp_path: Path, data_dir: Path) -> None:
    musr = tmp_path / "musr"
    musr.mkdir()
    src_rows = list(csv.DictReader((data_dir / "musr/team_allocation.csv").open(encoding="utf-8")))
    with (musr / "team_allocation.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(src_rows[0]))
        w.writeheader()
        w.writerow(src_rows[0])
        w.writerow({**src_rows[1], "choices": "['a', 'b'"})  # unparsable list literal
        w.writerow({**src_rows[2], "answer_index": "7"})  # answer outside the options
    with pytest.warns(DataWarning, match=r"team_allocation\.csv"):
        lt = load_task("musr:team_allocation", data_dir=tmp_path)
    assert lt.n_items == 1
    lines = [s.location.rsplit(":", 1)[1] for s in lt.skipped]
    assert len(lines) == 2 and int(lines[0]) > 2 and int(lines[1]) > int(lines[0])
    assert "not a Python list literal" in lt.skipped[0].reason
    assert "answer index 7 outside 0..2" in lt.skipped[1].reason

    ife = tmp_path / "ifeval"
    ife.mkdir()
    good = (data_dir / "ifeval/input_data.jsonl").read_text().splitlines()[:2]
    (ife / "input_data.jsonl").write_text("\n".join([good[0], "{not json", good[1], "[1]"]) + "\n")
    with pytest.warns(DataWarning, match=r"input_data\.jsonl:2: not valid JSON"):
        lt = load_task("ifeval:prompts", data_dir=tmp_path)
    assert lt.n_items == 2
    assert [s.location.rsplit(":", 1)[1] for s in lt.skipped] == ["2", "4"]


def test_unreadable_arrow_file_is_named(tmp_path: Path, data_dir: Path) -> None:
    dst = tmp_path / "piqa/piqa/plain_text/validation"
    shutil.copytree(data_dir / "piqa/piqa/plain_text/validation", dst)
    (dst / "data-00000-of-00001.arrow").write_bytes(b"not an arrow stream")
    with pytest.raises(DataError, match=r"cannot read Arrow stream .*data-00000-of-00001\.arrow"):
        load_items("piqa:validation", data_dir=tmp_path)


# --- SALAD-Bench fixture and the Hub path --------------------------------------------------------


def test_salad_mrq_fixture() -> None:
    items = load_items("salad_bench:mrq", data_dir=FIXTURES / "salad")
    assert [(i.k, i.gold) for i in items] == [(3, "AC"), (4, "A"), (5, "ACE")]
    assert items[2].meta["gold_set"] == ["A", "C", "E"]
    assert items[0].meta["categories"] == ["O4: privacy", "O12: personal information"]
    assert len({i.item_id for i in items}) == 3


class _FakeDatasets(types.ModuleType):
    """Stands in for `datasets` (no Hub on these machines): records each load_dataset call
    and returns rows in the Hub schema. Only the call construction and the Hub adapters run."""

    def __init__(self, rows: dict[tuple[str, str | None, str], list[dict[str, Any]]]) -> None:
        super().__init__("datasets")
        self.rows = rows
        self.calls: list[tuple[Any, ...]] = []

    def load_dataset(self, path: str, name: str | None = None, *, split: str, revision: str):
        self.calls.append((path, name, split, revision))
        return self.rows[(path, name, split)]


def test_hub_call_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    mmlu_row = {"question": "2+2?", "subject": "abstract_algebra", "choices": ["3", "4", "5", "6"],
                "answer": 1}  # fmt: skip
    arc_row = {"id": "Mercury_1", "question": "Q?", "answerKey": "2",
               "choices": {"text": ["x", "y", "z"], "label": ["1", "2", "3"]}}  # fmt: skip
    mct = {"idx": {"story": "mc160.test.0", "question": 0}, "story": "Once\\newlinethere.",
           "question": "one: Who?", "answer_options": {"A": "a", "B": "b", "C": "c", "D": "d"},
           "answer": "C"}  # fmt: skip
    fake = _FakeDatasets({
        ("cais/mmlu", "abstract_algebra", "test"): [mmlu_row],
        ("allenai/ai2_arc", "ARC-Easy", "test"): [arc_row],
        ("sagnikrayc/mctest", "mc160", "test"): [mct],
        ("sagnikrayc/mctest", "mc500", "test"): [{**mct, "idx": {"story": "mc500.test.0",
                                                                  "question": 3}}],
    })  # fmt: skip
    monkeypatch.setitem(sys.modules, "datasets", fake)
    clear_cache()
    try:
        m = load_items("mmlu:abstract_algebra", source="hub")
        assert (m[0].gold, m[0].k) == ("B", 4)
        a = load_items("arc:easy", source="hub")
        assert (a[0].item_id, a[0].gold, a[0].k) == ("Mercury_1", "B", 3)
        t = load_items("mctest:test", source="hub")
        assert [i.item_id for i in t] == ["mc160.test.0.q1", "mc500.test.0.q4"]
        assert t[0].meta["passage"] == "Once\nthere." and t[0].question == "Who?"
    finally:
        clear_cache()
    assert fake.calls == [
        ("cais/mmlu", "abstract_algebra", "test", "main"),
        ("allenai/ai2_arc", "ARC-Easy", "test", "main"),
        ("sagnikrayc/mctest", "mc160", "test", "refs/convert/parquet"),
        ("sagnikrayc/mctest", "mc500", "test", "refs/convert/parquet"),
    ]


def test_auto_source_falls_back_to_hub_only_when_files_are_missing(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    fake = _FakeDatasets({("walledai/SaladBench", "mrq", "train"): [
        {"question": "q", "choices": ["a", "b"], "answers": [1], "categories": []}]})  # fmt: skip
    monkeypatch.setitem(sys.modules, "datasets", fake)
    clear_cache()
    try:
        assert load_items("salad_bench:mrq", data_dir=data_dir, source="auto")[0].gold == "B"
        assert len(load_items("piqa:validation", data_dir=data_dir, source="auto")) == 1838
    finally:
        clear_cache()
    assert [c[0] for c in fake.calls] == ["walledai/SaladBench"]


def test_hub_without_datasets_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    clear_cache()
    with pytest.raises(ForgetmapError, match=r"pip install 'forgetmap\[hub\]'"):
        load_items("piqa:validation", source="hub")


def test_hub_schema_rows_give_the_same_items_as_local_files(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, loaded: dict[str, LoadedTask]
) -> None:
    """Rows shaped like the Hub datasets (built here from the local files) must produce exactly
    the local items: same ids, shuffles and golds whichever source a run used."""
    tq = json.loads((data_dir / "truthfulqa/data/v0/mc_task.json").read_text())
    tq_hub = [
        {"question": r["question"],
         "mc1_targets": {"choices": list(r["mc1_targets"]), "labels": list(r["mc1_targets"].values())}}
        for r in tq
    ]  # fmt: skip
    bbh = json.loads((data_dir / "bbh/bbh/ruin_names.json").read_text())["examples"]
    with (data_dir / "musr/object_placements.csv").open(newline="", encoding="utf-8") as fh:
        musr = list(csv.DictReader(fh))
    with (data_dir / "gpqa/gpqa_diamond.csv").open(newline="", encoding="utf-8") as fh:
        gpqa = list(csv.DictReader(fh))
    fake = _FakeDatasets({
        ("truthfulqa/truthful_qa", "multiple_choice", "validation"): tq_hub,
        ("lukaemon/bbh", "ruin_names", "test"): bbh,
        ("TAUR-Lab/MuSR", None, "object_placements"): musr,
        ("Idavidrein/gpqa", "gpqa_diamond", "train"): gpqa,
    })  # fmt: skip
    monkeypatch.setitem(sys.modules, "datasets", fake)
    clear_cache()
    try:
        for name in ("truthfulqa:mc1", "bbh:ruin_names", "musr:object_placements", "gpqa:diamond"):
            hub = load_task(name, source="hub")
            assert hub.source.startswith("hub:")
            assert [(i.item_id, i.question, i.choices, i.gold, i.k) for i in hub.items] == [
                (i.item_id, i.question, i.choices, i.gold, i.k) for i in loaded[name].items
            ], name
    finally:
        clear_cache()


def test_registry_k_matches_the_data(loaded: dict[str, LoadedTask]) -> None:
    """A task-level k in the table holds for every item; a null k means the items really vary."""
    specs = {t.name: t for t in list_tasks("paper")}
    for name, lt in loaded.items():
        spec, ks = specs[name], set(_ks(lt))
        if spec.free_form:
            assert ks == {None}, name
        elif spec.k is not None:
            assert ks == {spec.k}, name
        else:
            assert len(ks) > 1, name
