"""Protocol files: built-ins, user files, resolution order, one-line errors, prompt_hash and the
run manifest, `--protocol` on eval / prompt / study / tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_runner_units import Instant

from forgetmap.cli.main import main as cli_main
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.suite.loaders import load_items
from forgetmap.suite.prompts import build_prompt
from forgetmap.suite.protocol import SETTINGS, builtin_protocols
from forgetmap.suite.protocol_loader import load_protocol


def _write(tmp_path: Path, doc: object, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_builtins_and_defaults() -> None:
    assert {"forgetmap", "study-like"} <= set(builtin_protocols())
    fm = load_protocol()
    assert fm.name == "forgetmap" and fm.source == "builtin:forgetmap"
    assert load_protocol("forgetmap") is fm  # cached by content
    for t in ("mmlu:anatomy", "ifeval:prompts", "synth:addition"):
        assert set(fm.for_task(t).settings) == set(SETTINGS)


def test_resolution_order_and_origins(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "name": "mine",
        "defaults": {"shots": 2, "chat": "{{ instruction }} | {{ full_question }}"},
        "benchmarks": {"mmlu": {"instruction": "About {{ subject }}."}},
        "tasks": {"mmlu:anatomy": {"shots": 1}},
    })  # fmt: skip
    p = load_protocol(str(path))
    anat, virology, bbh, ifeval = (
        p.for_task(t) for t in ("mmlu:anatomy", "mmlu:virology", "bbh:navigate", "ifeval:prompts")
    )
    assert anat["shots"] == 1 and anat.where("shots") == f"{path}: tasks.mmlu:anatomy.shots"
    assert virology["shots"] == 2 and virology.where("shots") == f"{path}: defaults.shots"
    # the registry's own declaration for BBH beats a protocol's defaults ...
    assert bbh["shots"] == 3 and bbh.where("shots") == "tasks.yaml: benchmarks.bbh.protocol.shots"
    # ... and IFEval keeps its verbatim prompt
    assert ifeval["chat"] == "{{ question }}"
    assert virology["instruction"] == "About {{ subject }}."


def test_user_protocol_changes_prompts_and_hash_only_when_the_prompt_changes(
    data_dir: Path, tmp_path: Path
) -> None:
    item = load_items("mmlu:anatomy", limit=1)[0]
    base = build_prompt("mmlu:anatomy", item, "cot_chat")
    same = _write(tmp_path, {"name": "same-prompts", "defaults": {"chance_k": 4}}, "same.yaml")
    assert build_prompt("mmlu:anatomy", item, "cot_chat", protocol=str(same)) == base
    other = _write(tmp_path, {"benchmarks": {"mmlu": {"instruction": "Q about {{ subject }}."}}})
    p = build_prompt("mmlu:anatomy", item, "cot_chat", protocol=str(other))
    assert p.messages[0]["content"].startswith("Q about anatomy.\n")
    assert p.prompt_hash != base.prompt_hash
    system = _write(tmp_path, {"defaults": {"system": "You answer {{ task }}."}}, "sys.yaml")
    p = build_prompt("mmlu:anatomy", item, "cot_chat", protocol=str(system))
    assert p.messages[0] == {"role": "system", "content": "You answer mmlu:anatomy."}
    assert p.messages[1] == base.messages[0]


def test_fewshot_settings(data_dir: Path, tmp_path: Path) -> None:
    item = load_items("gpqa:diamond", limit=1)[0]
    path = _write(tmp_path, {
        "benchmarks": {"gpqa": {"shots": 1, "fewshot_stop": ["\n\nQ"], "fewshot_source": "eval_split"}},
        "defaults": {"fewshot_example": "Q: {{ full_question }}\n{{ options }}\nA:{% if answer %} {{ answer }}{% endif %}"},
    })  # fmt: skip
    p = build_prompt("gpqa:diamond", item, "cot_fewshot", protocol=str(path))
    assert p.stop == ["\n\nQ"]
    assert p.text.count("\nA:") == 2 and p.text.endswith("\nA:")
    assert p.text.count(item.question) == 1  # the item is never its own example


BAD = [
    ({"defaults": {"shot": 3}}, "defaults.shot: unknown setting; did you mean 'shots'?"),
    ({"defaults": {"shots": "three"}}, "defaults.shots: must be an integer >= 0, got 'three'"),
    ({"benchmarks": {"mmlx": {"shots": 1}}}, "benchmarks.mmlx: unknown benchmark; did you mean 'mmlu'?"),
    ({"tasks": {"mmlu:anatomi": {"shots": 1}}}, "tasks.mmlu:anatomi: unknown task 'mmlu:anatomi'"),
    ({"defaults": {"chat": "{{ instruction }"}}, "defaults.chat: template error at line 1"),
    ({"defaults": {"chat": "{{ questoin }}"}}, "defaults.chat: unknown template variable 'questoin'"),
    ({"defaults": {"chance_k": 1}}, "defaults.chance_k: must be item, nominal or an integer >= 2"),
    ({"defaults": {"fewshot_source": "train"}}, "defaults.fewshot_source: must be one of split, eval_split, exemplars"),
    ({"defaults": {"fewshot_stop": "Q:"}}, "defaults.fewshot_stop: must be a list of non-empty strings"),
    ({"defaults": {"answer_format": {"letterz": "x"}}}, "defaults.answer_format.letterz: unknown answer mode"),
    ({"benchmarks": {"arc": {"exemplars": [{"split": "validation", "id": "x"}]}}},
     "benchmarks.arc.exemplars[0].answer: required"),
    ({"benchmarks": {"arc": {"exemplars": [{"task": "arc:easy", "split": "dev", "id": "x",
                                            "answer": "A", "reasoning": "r"}]}}},
     "benchmarks.arc.exemplars[0].split: arc:easy has no split 'dev'"),
    ({"benchmarks": {"arc": {"fewshot_source": "exemplars"}}},
     "benchmarks.arc.fewshot_source"),
    ({"nmae": "x"}, "nmae: unknown key"),
    ("defaults: [1, 2\n", "not valid YAML (line 2)"),
    ("- a\n- b\n", "a protocol file must be a YAML mapping"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_protocol_files_get_one_line_errors_naming_file_and_key(
    tmp_path: Path, doc: object, message: str
) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(ForgetmapError) as info:
        load_protocol(str(path))
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: "), text
    assert message in text, text


def test_missing_or_unknown_protocols(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(
        ForgetmapError, match=r"unknown protocol 'studylike'; did you mean 'study-like'"
    ):
        load_protocol("studylike")
    with pytest.raises(ForgetmapError, match=r"nope\.yaml: protocol file not found"):
        load_protocol(str(tmp_path / "nope.yaml"))
    loop = _write(tmp_path, {"extends": str(tmp_path / "p.yaml")})
    with pytest.raises(ForgetmapError, match=r"extends: circular reference"):
        load_protocol(str(loop))
    bad = _write(tmp_path, {"defaults": {"shots": -1}}, "bad.yaml")
    assert (
        cli_main(["prompt", "--task", "mmlu:anatomy", "--item", "0", "--protocol", str(bad)]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{bad}: defaults.shots" in err


def test_exemplar_errors_name_the_exemplar_when_used(data_dir: Path, tmp_path: Path) -> None:
    ex = {"task": "arc:challenge", "split": "validation", "reasoning": "because", "answer": "A"}
    wrong_id = _write(tmp_path, {"benchmarks": {"arc": {
        "fewshot_source": "exemplars", "shots": 1, "exemplars": [{**ex, "id": "no-such-id"}]}}})  # fmt: skip
    item = load_items("arc:easy", limit=1)[0]
    with pytest.raises(ForgetmapError) as info:
        build_prompt("arc:easy", item, "cot_fewshot", protocol=str(wrong_id))
    assert str(info.value) == (
        f"{wrong_id}: benchmarks.arc.exemplars[0]: no item 'no-such-id' in arc:challenge split "
        "validation"
    )
    real = load_items("arc_validation:challenge", limit=1)[0]
    wrong = "B" if real.gold != "B" else "C"
    wrong_answer = _write(tmp_path, {"benchmarks": {"arc": {
        "fewshot_source": "exemplars", "shots": 1,
        "exemplars": [{**ex, "id": real.item_id, "answer": wrong}]}}}, "w.yaml")  # fmt: skip
    with pytest.raises(
        ForgetmapError, match=rf"answer '{wrong}' but the gold answer .* is '{real.gold}'"
    ):
        build_prompt("arc:easy", item, "cot_fewshot", protocol=str(wrong_answer))


def test_eval_records_protocol_and_exclusions_in_the_manifest(
    data_dir: Path, tmp_path: Path
) -> None:
    first = load_items("piqa:validation", limit=2)
    path = _write(tmp_path, {"name": "held-out", "benchmarks": {"piqa": {
        "fewshot_source": "exemplars", "shots": 2, "multi_answer": "any_gold",
        "exemplars": [{"split": "validation", "id": it.item_id, "answer": it.gold,
                       "reasoning": f"Reasoning {i}."} for i, it in enumerate(first)]}}})  # fmt: skip
    proto = load_protocol(str(path))
    assert proto.excluded("piqa:validation") == {it.item_id for it in first}
    from forgetmap.engine.runner import evaluate

    backend = Instant(chat=False)
    s = evaluate("m", backend=backend, tasks="piqa:validation", seeds=(0,), limit=5,
                 results=tmp_path / "r", progress=False, protocol=str(path))  # fmt: skip
    rows = ResultsStore(tmp_path / "r").read().to_pylist()
    ids = [r["item_id"] for r in rows]
    assert len(ids) == 5 and not set(ids) & proto.excluded("piqa:validation")
    assert all("Reasoning 0." in r.text and r.text.endswith("Reasoning:") for r in backend.seen)
    m = s.manifest["protocol"]
    assert m["name"] == "held-out" and m["source"] == str(path.resolve())
    assert m["excluded"] == {"piqa:validation": sorted(it.item_id for it in first)}
    assert m["chance_k"] == {"piqa:validation": "item"}
    assert s.manifest["datasets"]["piqa:validation"]["n_excluded"] == 2
    stored = json.loads(next((tmp_path / "r").glob("m-*/*/manifest.json")).read_text())
    assert stored["protocol"]["name"] == "held-out"
    # the same prompts under another protocol name are not evaluated twice
    same = _write(tmp_path, {**yaml.safe_load(path.read_text()), "name": "renamed"}, "q.yaml")
    again = evaluate("m", backend=Instant(chat=False), tasks="piqa:validation", seeds=(0,),
                     limit=5, results=tmp_path / "r", progress=False, protocol=str(same))  # fmt: skip
    assert (again.n_skipped, again.n_written) == (5, 0)


def test_cli_protocol_flags(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = load_items("piqa:validation", limit=1)[0]
    path = _write(tmp_path, {"name": "held-out", "benchmarks": {"piqa": {
        "fewshot_source": "exemplars", "shots": 1,
        "exemplars": [{"split": "validation", "id": item.item_id, "answer": item.gold,
                       "reasoning": "Mine."}]}}})  # fmt: skip
    assert cli_main(["prompt", "--task", "piqa:validation", "--item", "1", "--protocol", str(path),
                     "--elicitation", "cot_fewshot"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "protocol: held-out" in out and "excluded: 1 item(s) of piqa:validation" in out
    assert "Reasoning: Mine.\nAnswer: " in out
    assert (
        cli_main(["prompt", "--task", "piqa:validation", "--item", "0", "--protocol", str(path)])
        == 2
    )
    assert "is an exemplar of protocol 'held-out'" in capsys.readouterr().err
    assert cli_main(["tasks", "--json", "--protocol", str(path)] + ["--suite", "smoke"]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    full = len(load_items("piqa:validation"))
    assert rows["piqa:validation"]["n_items"] == full - 1
    assert rows["piqa:validation"]["excluded"] == [item.item_id]
    assert rows["piqa:validation"]["protocol"] == "held-out"


def test_study_sets_protocol_per_model_set(tmp_path: Path) -> None:
    from forgetmap.study.config import load_study

    proto = _write(tmp_path, {"name": "mine"}, "mine.yaml")
    cfg = _write(tmp_path, {
        "protocol": "study-like",
        "model_sets": {"base": {"kind": "base", "models": ["a"], "protocol": "mine.yaml"},
                       "tuned": {"kind": "post", "models": ["b", "c"]}},
        "models": {"c": {"protocol": "forgetmap"}},
        "groups": {"g": {"pairs": ["a -> b", "a -> c"]}},
    }, "study.yaml")  # fmt: skip
    st = load_study(cfg)
    assert st.models["a"].protocol == str(proto.resolve())
    assert (st.models["b"].protocol, st.models["c"].protocol) == ("study-like", "forgetmap")
    st = load_study(cfg, protocol="forgetmap")  # --protocol replaces the study-level default only
    assert (st.models["a"].protocol, st.models["b"].protocol) == (str(proto.resolve()), "forgetmap")
    bad = _write(tmp_path, {**yaml.safe_load(cfg.read_text()), "protocol": "nope"}, "bad.yaml")
    with pytest.raises(ForgetmapError, match=r"bad\.yaml: protocol: unknown protocol 'nope'"):
        load_study(bad)


def test_docs_list_every_setting() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocols.md").read_text()
    for name in SETTINGS:
        assert f"| `{name}` |" in doc, name


def test_option_layouts_change_prompt_gold_and_records(data_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, {"name": "layouts", "benchmarks": {"truthfulqa": {"option_order": "source"}},
                             "tasks": {"bbh:boolean_expressions": {"choices": ["False", "True"]},
                                       "bbh:object_counting": {"choices": "range:1:19"}}})  # fmt: skip
    proto = load_protocol(str(path))
    tqa = proto.load("truthfulqa:mc1", limit=20).items
    assert {it.gold for it in tqa} == {"A"}  # the source lists the true answer first
    raw = load_items("truthfulqa:mc1", limit=20)
    assert len({it.gold for it in raw}) > 1 and [it.item_id for it in raw] == [
        it.item_id for it in tqa
    ]
    for r, t in zip(raw, tqa, strict=True):
        assert t.choices[0] == r.choices[r.gold_index] and sorted(t.choices) == sorted(r.choices)
    counting = {it.meta["target"]: it.gold for it in proto.load("bbh:object_counting").items}
    assert counting["5"] == "E" and counting["18"] == "R"  # 1 -> A, as the study counted
    assert {it.k for it in proto.load("bbh:object_counting").items} == {19}
    boolean = proto.load("bbh:boolean_expressions", limit=10).items
    for it, before in zip(boolean, load_items("bbh:boolean_expressions", limit=10), strict=True):
        assert (
            it.choices == ["False", "True"] and it.choices[it.gold_index] == before.meta["target"]
        )
    p = build_prompt("bbh:boolean_expressions", boolean[0], "cot_chat", protocol=proto)
    assert p.messages[0]["content"].endswith("A) False\nB) True")
    # recorded and scored with the protocol's letters
    from forgetmap.engine.runner import evaluate

    evaluate("m", backend=Instant(answer="Answer: A"), tasks="truthfulqa:mc1", seeds=(0,), limit=3,
             results=tmp_path / "r", progress=False, protocol=str(path))  # fmt: skip
    rows = ResultsStore(tmp_path / "r").read().to_pylist()
    assert [(r["gold"], r["pred"], r["correct"]) for r in rows] == [("A", "A", True)] * 3
    bad = _write(tmp_path, {"tasks": {"bbh:object_counting": {"choices": "range:5:9"}}}, "bad.yaml")
    it = next(i for i in load_items("bbh:object_counting") if int(i.meta["target"]) > 9)
    with pytest.raises(
        ForgetmapError, match=r"bad\.yaml: tasks\.bbh:object_counting\.choices: .* is not one of"
    ):
        build_prompt("bbh:object_counting", it, "cot_chat", protocol=str(bad))
