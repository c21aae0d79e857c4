"""The `study` protocol renders the study's own prompts, byte for byte, from its checkout.

tests/fixtures/study_prompts/hashes.json holds the SHA-256 of the prompts the study's own prompt
functions produce when RUN with lighteval 0.10 (scripts/make_study_prompt_hashes.py: the study's
two task modules imported in a separate environment, documents built as lighteval builds them),
for a sample of items of every benchmark in both of the study's modes, and the gold letter each
document points at. Here forgetmap renders the same items from the same checkout
(../shared/reference/post-forget, or FORGETMAP_STUDY_REPO) without running that code, and must
hash the same. Nothing of the study's text is stored in the repository.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from forgetmap.cli.main import main
from forgetmap.errors import ForgetmapError
from forgetmap.suite.loaders import load_items
from forgetmap.suite.prompts import build_prompt
from forgetmap.suite.protocol_loader import load_protocol
from forgetmap.suite.registry import get_task, list_tasks
from forgetmap.suite.study_code import StudyCodeError
from forgetmap.suite.study_protocol import load_study_protocol, study_task_name

HERE = Path(__file__).parent
GOLDEN = HERE / "fixtures" / "study_prompts" / "hashes.json"
SALAD = HERE / "fixtures" / "salad"  # SALAD-Bench is not in the offline data
ELICITATION = {"chat": "cot_chat", "fewshot": "cot_fewshot"}


@pytest.fixture(scope="module")
def study(study_repo, data_dir, monkeypatch_module):
    monkeypatch_module.setenv("FORGETMAP_STUDY_REPO", str(study_repo))
    return load_protocol("study")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _text(prompt) -> str:
    if prompt.messages is not None:
        assert [m["role"] for m in prompt.messages] == ["user"]  # the study set no system prompt
        return prompt.messages[0]["content"]
    return prompt.text


def test_golden_prompts_of_every_benchmark(study):
    doc = json.loads(GOLDEN.read_text())
    entries = doc["entries"]
    benchmarks = {get_task(e["task"]).benchmark for e in entries}
    assert benchmarks == {t.benchmark for t in list_tasks("paper")}  # every study benchmark
    assert {e["mode"] for e in entries} == {"chat", "fewshot"}
    items: dict[str, dict] = {}
    checked = dropped = failed = 0
    for e in entries:
        spec = get_task(e["task"])
        data_dir = SALAD if spec.benchmark == "salad_bench" else None
        if spec.name not in items:
            items[spec.name] = {it.item_id: it for it in load_items(spec, data_dir=data_dir)}
        item = items[spec.name][e["item_id"]]
        elicitation = ELICITATION[e["mode"]]
        where = (e["task"], e["mode"], e["item_id"])
        if e["sha256"] is None:
            with pytest.raises(ForgetmapError) as exc:  # the study drops it or fails on it
                build_prompt(spec, item, elicitation, data_dir=data_dir, protocol=study)
            msg = str(exc.value)
            assert ("dropped by" in msg) == ("error" not in e), where
            assert ("the study's code fails on it" in msg) == ("error" in e), where
            assert "\n" not in msg and "Reasoning" not in msg, msg  # one line, no study text
            dropped += "error" not in e
            failed += "error" in e
            continue
        prompt = build_prompt(spec, item, elicitation, data_dir=data_dir, protocol=study)
        got = hashlib.sha256(_text(prompt).encode("utf-8")).hexdigest()
        assert got == e["sha256"], where
        if item.choices:  # the options the query shows, in its order: the gold letter moves along
            assert study.layout_item(spec, item, data_dir).gold == e["gold"], where
        checked += 1
    assert checked >= 200 and dropped == 6 and failed == 3


def test_study_settings(study):
    chat = study.for_task("mmlu:anatomy")
    assert (
        chat["system"] is None and chat["chat_stop"] == []
    )  # vLLM drops them with a chat template
    assert chat["chance_k"] == 4 and study.for_task("bbh:navigate")["chance_k"] == "nominal"
    assert study.for_task("salad_bench:mrq")["multi_answer"] == "any_gold"
    stops = study.for_task("arc:easy")["fewshot_stop"]
    assert stops and all(isinstance(s, str) and s for s in stops)
    assert study.excluded("bbh:movie_recommendation") and not study.excluded("piqa:validation")
    manifest = study.manifest([get_task("bbh:ruin_names")])
    assert manifest["name"] == "study" and len(manifest["excluded"]["bbh:ruin_names"]) == 2
    dyck = study.load("bbh:dyck_languages")  # the study's few-shot module fails on every item
    assert not dyck.items and len(dyck.excluded) == 250
    assert manifest["source"].startswith("study:") and len(manifest["sha256"]) == 64


def test_exclusions_follow_an_explicit_data_dir(study_repo, data_dir, monkeypatch, capsys):
    """With the benchmark files given as --data-dir / data_dir= only (no FORGETMAP_DATA_DIR),
    the items the study's code drops are still excluded, in loads, manifests and messages."""
    monkeypatch.delenv("FORGETMAP_DATA_DIR", raising=False)
    monkeypatch.setenv("FORGETMAP_STUDY_REPO", str(study_repo))
    fresh = load_protocol("study")  # nothing cached from runs that had the variable
    dyck = fresh.load("bbh:dyck_languages", data_dir=data_dir)
    assert not dyck.items and len(dyck.excluded) == 250
    ruin = fresh.manifest([get_task("bbh:ruin_names")], data_dir)["excluded"]
    assert len(ruin["bbh:ruin_names"]) == 2
    argv = ["prompt", "--protocol", "study", "--data-dir", str(data_dir),
            "--task", "bbh:ruin_names", "--item", "480506415bc44387"]  # fmt: skip
    assert main(argv) == 2
    assert "bbh_ruin_names() returns no document for it" in capsys.readouterr().err


def test_layouts_follow_the_study(study):
    """GPQA's drawn position, TruthfulQA's true-first order, BBH object_counting's 1..19."""
    gpqa = study.load("gpqa:diamond").items
    golds = {it.gold for it in gpqa}
    assert len(golds) == 4  # positions drawn per document, not the registry's shuffle
    for it in gpqa[:20]:
        assert it.choices[ord(it.gold) - 65] == it.meta["row"]["Correct Answer"].strip()
    tqa = study.load("truthfulqa:mc1").items
    assert {it.gold for it in tqa} == {"A"}
    oc = study.load("bbh:object_counting").items[0]
    assert oc.choices == [str(i) for i in range(1, 20)]
    assert oc.choices[ord(oc.gold) - 65] == oc.meta["target"]
    with pytest.raises(ForgetmapError, match="no loglik prompts"):
        build_prompt("arc:easy", study.load("arc:easy").items[0], "loglik", protocol=study)


def test_task_names():
    assert study_task_name("community|bbh_reasoning_letter:causal_judgment|0") == (
        "bbh:causal_judgement"
    )
    assert study_task_name("community|hellaswag_reasoning_letter:main|0|0") == "hellaswag:test"
    assert study_task_name("social_iqa_reasoning_letter:main") == "social_iqa:validation"
    assert study_task_name("community|ifeval_reasoning|0") == "ifeval:prompts"


def test_prompt_cli(study_repo, data_dir, capsys, monkeypatch):
    monkeypatch.delenv("FORGETMAP_STUDY_REPO", raising=False)
    argv = ["prompt", "--protocol", "study", "--task", "piqa:validation", "--item", "0"]
    assert main(argv) == 2
    assert "--study-repo" in capsys.readouterr().err
    assert main([*argv, "--study-repo", str(study_repo), "--elicitation", "cot_fewshot"]) == 0
    out = capsys.readouterr().out
    assert "protocol: study (study:" in out and out.rstrip().endswith("Reasoning:")
    bad = [
        "prompt",
        "--protocol",
        "study",
        "--task",
        "bbh:ruin_names",
        "--item",
        "480506415bc44387",
    ]
    assert main([*bad, "--study-repo", str(study_repo)]) == 2
    err = capsys.readouterr().err
    # the file, line and prompt function of each module that drops it
    assert "dropped by the study's code" in err
    assert (
        "custom_tasks_extractor_prompt.py:" in err and "custom_tasks_extractor_few_shot.py:" in err
    )
    assert err.count("bbh_ruin_names() returns no document for it") == 2
    # an item the study's code fails on: which module and function, and its error
    dyck = ["prompt", "--protocol", "study", "--task", "bbh:dyck_languages", "--item", "0"]
    assert main([*dyck, "--study-repo", str(study_repo)]) == 2
    err = capsys.readouterr().err
    assert "custom_tasks_extractor_few_shot.py:" in err
    assert "bbh_dyck_languages() fails on it: " in err and "brace" in err
    assert "custom_tasks_extractor_prompt.py" not in err  # its zero-shot prompt is fine


# --- bad checkouts: one line naming the file and the key -------------------------------------


def _copy(study_repo: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "checkout"
    shutil.copytree(study_repo / "src", dst / "src")
    shutil.copytree(study_repo / "config", dst / "config")
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_bad_checkouts_name_file_and_key(study_repo, tmp_path, data_dir):
    with pytest.raises(ForgetmapError, match="--study-repo: not a directory"):
        load_study_protocol(tmp_path / "missing")
    co = _copy(study_repo, tmp_path)
    chat = co / "src/experiments/custom_tasks_extractor_prompt.py"
    few = co / "src/experiments/custom_tasks_extractor_few_shot.py"

    (co / "src/experiments/cot_template.json").unlink()
    with pytest.raises(ForgetmapError) as exc:
        load_study_protocol(co)
    assert "cot_template.json: files.exemplars: not found" in str(exc.value)
    shutil.copy(study_repo / "src/experiments/cot_template.json", co / "src/experiments")

    text = chat.read_text()
    chat.write_text(text.replace("TASKS_TABLE = [", "TASKS = [", 1))
    with pytest.raises(ForgetmapError) as exc:
        load_study_protocol(co).for_task("arc:easy")
        load_study_protocol(co).checkout.configs("chat")
    msg = str(exc.value)
    assert msg.startswith(str(chat)) and "TASKS_TABLE" in msg and "\n" not in msg

    chat.write_text(text.replace("import random", "import random\nimport subprocess", 1))
    with pytest.raises(StudyCodeError) as exc:
        load_study_protocol(co).checkout.configs("chat")
    assert str(exc.value).startswith(f"{chat}:") and "imports 'subprocess'" in str(exc.value)

    chat.write_text(text)
    few_text = few.read_text()
    _edit(few, "json_file_path = ''", "json_file_path = ''\nimport os\nos.system('touch PWNED')")
    with pytest.raises(StudyCodeError) as exc:  # read, never run: nothing is executed
        load_study_protocol(co).checkout.configs("fewshot")
    assert str(exc.value).startswith(f"{few}:") and "os.system is not known" in str(exc.value)
    assert not (Path.cwd() / "PWNED").exists() and not (co / "PWNED").exists()
    few.write_text(few_text)

    for f in (co / "config" / "tasks").rglob("*.txt"):
        f.write_text("# nothing\n")
    with pytest.raises(ForgetmapError) as exc:
        load_study_protocol(co).checkout.configs("chat")
    assert "files.task_lists: no task names" in str(exc.value)
