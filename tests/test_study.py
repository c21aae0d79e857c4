"""Study configs: the paper grid as data, the dry-run plan, validation errors, a real CPU study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from forgetmap.cli.main import main
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.study.config import Pair, load_study, parse_study
from forgetmap.study.pipeline import make_plan

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "configs" / "studies" / "paper.yaml"
CPU_SMALL = ROOT / "configs" / "studies" / "cpu-small.yaml"

# the study's grid, written out independently of paper.yaml
Q = "Qwen/Qwen2.5-"
EXPECTED_PAIRS = {
    "domain_continual_pretraining": [(f"{Q}{s}B", f"{Q}Coder-{s}B") for s in (3, 7, 14, 32)]
    + [(f"{Q}7B", f"{Q}Math-7B")],
    "instruction_tuning": [(f"{Q}{s}B", f"{Q}{s}B-Instruct") for s in (3, 7, 14, 32)]
    + [(f"{Q}Coder-{s}B", f"{Q}Coder-{s}B-Instruct") for s in (3, 7, 14, 32)]
    + [("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct")],
    "reasoning_from_base": [
        (f"{Q}Math-7B", f"{Q}Math-7B-Instruct"),
        (f"{Q}Math-7B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"),
        (f"{Q}32B", "Qwen/QwQ-32B"),
        ("meta-llama/Llama-3.1-8B", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"),
        (f"{Q}14B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"),
        (f"{Q}32B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"),
    ],
    "reasoning_from_instruct_low_data": [
        (f"{Q}{s}B-Instruct", f"simplescaling/s1.1-{s}B") for s in (7, 14, 32)
    ]
    + [(f"{Q}32B-Instruct", "GAIR/LIMO"), (f"{Q}32B-Instruct", "GAIR/LIMO-v2")],
    "reasoning_from_instruct_sft": [
        (f"{Q}{s}B-Instruct", f"nvidia/OpenReasoning-Nemotron-{s}B") for s in (7, 14, 32)
    ]
    + [
        (f"{Q}7B-Instruct", "open-thoughts/OpenThinker-7B"),
        (f"{Q}32B-Instruct", "open-thoughts/OpenThinker2-32B"),
        (f"{Q}7B-Instruct", "open-thoughts/OpenThinker3-7B"),
    ]
    + [(f"{Q}{s}B-Instruct", f"simplescaling/s1.1-{s}B") for s in (7, 14, 32)],
    "reasoning_from_instruct_high_data": [
        (f"{Q}7B-Instruct", "nvidia/OpenCodeReasoning-Nemotron-1.1-7B"),
        (f"{Q}7B-Instruct", "open-thoughts/OpenThinker-7B"),
        (f"{Q}7B-Instruct", "open-thoughts/OpenThinker3-7B"),
        (f"{Q}14B-Instruct", "nvidia/OpenCodeReasoning-Nemotron-1.1-14B"),
        (f"{Q}32B-Instruct", "open-thoughts/OpenThinker2-32B"),
        ("meta-llama/Llama-3.1-8B", "nvidia/OpenMath2-Llama3.1-8B"),
        ("Qwen/QwQ-32B", "PrimeIntellect/INTELLECT-2"),
    ],
}


def test_paper_grid_is_the_study() -> None:
    st = load_study(PAPER)
    for group, pairs in EXPECTED_PAIRS.items():
        assert [tuple(p) for p in st.groups[group].pairs] == pairs, group
    merging = st.groups["merging"]
    assert len(merging.merges) == 12 and len(merging.pairs) == 24
    for name in merging.merges:  # each merge against both parents
        parents = st.models[name].merge.parents
        assert {p for p in merging.pairs if p.after == name} == {
            Pair(parents[0], name),
            Pair(parents[1], name),
        }
    extra = st.groups["extra"].pairs
    assert len(extra) == 14
    assert extra[-3:] == (
        Pair("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "Skywork/Skywork-OR1-7B"),
        Pair("meta-llama/Llama-3.1-8B-Instruct", "nvidia/Llama-3.1-Nemotron-Nano-8B-v1"),
        Pair("meta-llama/Llama-3.1-8B-Instruct", "nvidia/llama-3.1-nemoguard-8b-content-safety"),
    )
    assert set(st.model_sets) == {
        "base",
        "tuned",
        "qwen_math_base",
        "qwen_math_instruct",
        "merge_base",
        "merge_tuned",
    }
    s = st.sampling
    assert (s.temperature, s.top_p, s.seeds, s.max_new_tokens) == (0.6, 0.95, (0, 1, 2), 32768)
    for mid, m in st.models.items():
        assert m.max_new_tokens == (4096 if "Qwen2.5-Math" in mid else 32768), mid
        ctx = 4096 if "Qwen2.5-Math" in mid and not mid.startswith("deepseek") else 32768
        assert m.backend_options == {"tensor_parallel_size": 4, "max_model_len": ctx}, mid
        assert m.elicitation == {"base": "cot_fewshot", "post": "cot_chat"}[m.kind]
        assert m.suite == {"base": "paper-base", "post": "paper"}[m.kind]
    assert st.models["Qwen/Qwen2.5-7B"].kind == "base"
    assert st.models["open-thoughts/OpenThinker-7B"].kind == "post"
    assert st.models["merge/qwen2.5-7b+coder-7b/slerp-0.8"].set == "merge_base"


def test_paper_dry_run_lists_every_group_and_pair(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("FORGETMAP_DATA_DIR", raising=False)  # the plan works without data
    # the command as written: a plan needs no results directory
    assert main(["study", str(PAPER), "--dry-run"]) == 0
    out = capsys.readouterr().out
    st = load_study(PAPER)
    for g in st.groups.values():
        assert g.title in out
        for p in g.pairs:
            assert f"    {p.before} -> {p.after}\n" in out
    assert "models (73 unique, each evaluated once)" in out
    assert "Skywork/Skywork-OR1-7B  set tuned · post · cot_chat" in out
    assert "max 32768 tok · max_model_len 32768 · tensor_parallel_size 4" in out
    assert "merges (12, each compared against both parents)" in out
    plan = make_plan(st)
    assert f"requests: {plan.requests:,}" in out
    # 3 seeds x the item counts of the suites: base models lack Safety/Truth
    by_id = {mp.model.id: mp for mp in plan.models}
    assert by_id["Qwen/Qwen2.5-7B-Instruct"].requests > by_id["Qwen/Qwen2.5-7B"].requests
    assert by_id["Qwen/Qwen2.5-7B"].requests % 3 == 0
    assert by_id["Qwen/Qwen2.5-Math-7B"].tokens_max == by_id["Qwen/Qwen2.5-Math-7B"].requests * 4096


def test_group_selects_model_sets_and_groups() -> None:
    st = load_study(PAPER)
    models, pairs, groups = st.select(["qwen_math_base"])
    assert {m.id for m in models} == {f"{Q}Math-1.5B", f"{Q}Math-7B"}
    assert all(f"{Q}Math-1.5B" in p or f"{Q}Math-7B" in p for p in pairs)
    assert Pair(f"{Q}7B", f"{Q}Math-7B") in pairs and len(pairs) == 4
    models, pairs, groups = st.select(["merging"])
    assert len(pairs) == 24 and list(groups) == ["merging"]
    assert (
        sum(m.merge is not None for m in models) == 12 and len(models) == 12 + 5
    )  # + 5 distinct parents
    with pytest.raises(ForgetmapError, match="no group or model set named 'nope'"):
        st.select(["nope"])


def _minimal() -> dict:
    return {
        "model_sets": {"tuned": {"kind": "post", "models": ["a", "b"]}},
        "groups": {"g": {"pairs": ["a -> b"]}},
    }


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"sampling": {"seeds": [0, 0]}}, "sampling.seeds"),
        ({"sampling": {"temprature": 0.6}}, "sampling.temprature"),
        ({"backend": "tpu"}, "backend"),
        ({"colour": 1}, "colour"),
        ({"groups": {"g": {"pairs": ["a -> c"]}}}, "groups.g.pairs[0]"),
        ({"groups": {"g": {"pairs": ["a => b"]}}}, "groups.g.pairs[0]"),
        ({"groups": {"g": {"merges": ["m"]}}}, "groups.g.merges[0]"),
        (
            {
                "model_sets": {
                    "x": {"kind": "post", "models": ["a"]},
                    "y": {"kind": "base", "models": ["a", "b"]},
                }
            },
            "model_sets.y.models[0]",
        ),  # fmt: skip
        ({"model_sets": {"x": {"kind": "chat", "models": ["a", "b"]}}}, "model_sets.x.kind"),
        ({"models": {"zz": {"path": "/x"}}}, "models.zz"),
        ({"merges": ["missing.yaml"]}, "merges[0]"),
    ],
)
def test_bad_study_configs_name_file_and_key(patch: dict, key: str) -> None:
    doc = {**_minimal(), **patch}
    with pytest.raises(ForgetmapError) as exc:
        parse_study(doc, Path("my-study.yaml"))
    assert str(exc.value).startswith(f"my-study.yaml: {key}:"), str(exc.value)


def test_running_a_study_needs_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(_minimal()))
    assert main(["study", str(p)]) == 2
    err = capsys.readouterr().err
    assert "--results" in err and "--dry-run" in err and "Traceback" not in err


def test_cli_bad_study_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({**_minimal(), "sampling": {"top_p": 2}}))
    assert main(["study", str(p), "--dry-run", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sampling.top_p" in err and "Traceback" not in err


@pytest.mark.slow
def test_cpu_small_study_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    """Real SmolLM2 GGUF (before) vs its llama.cpp Q4_0 requantization (after), made by the study."""
    res = tmp_path / "res"
    assert main(["study", str(CPU_SMALL), "--results", str(res)]) == 0
    st = load_study(CPU_SMALL)
    before, after = "smollm2-135m-instruct", "smollm2-135m-instruct-q4_0"
    store = ResultsStore(res)
    assert set(store.models()) == {before, after}
    t = store.read(columns=["model", "task", "item_id", "seed", "extract_status", "response"])
    n_tasks = len(st.models[before].tasks)
    assert t.num_rows == 2 * n_tasks * 3 * 2  # models x tasks x limit 3 x seeds 2
    assert (res / ".derived" / f"{after}.gguf").is_file()
    cmp = json.loads((res / "comparison.json").read_text())
    pair = cmp["pairs"][0]
    assert (pair["before"], pair["after"]) == (before, after)
    assert pair["seeds"] == [0, 1] and pair["n_paired"] == n_tasks * 3 * 2
    assert isinstance(pair["total"]["F_true"]["mean"], float)
    assert 0.0 <= pair["total"]["acc_pre"]["mean"] <= 1.0
    html = (res / "report" / "report.html").read_text()
    assert after in html
    # a rerun skips all done work: no new record files, the quantized model is reused
    files = sorted(store.files())
    mtime = (res / ".derived" / f"{after}.gguf").stat().st_mtime
    assert main(["study", str(CPU_SMALL), "--results", str(res), "--no-report"]) == 0
    assert sorted(store.files()) == files
    assert (res / ".derived" / f"{after}.gguf").stat().st_mtime == mtime


def test_paper_grid_runs_the_studys_modes(study_repo: Path) -> None:
    """Every model of the study's evaluation script (scripts/eval_models.sh, read at run time) is
    in the model set of its mode, with the script's context length and tensor parallelism."""
    import re

    script = (study_repo / "scripts" / "eval_models.sh").read_text()
    tp = int(re.search(r"^TENSOR_PARALLEL=(\d+)", script, re.M).group(1))
    st = load_study(PAPER)
    modes = re.findall(r'"\$MODE" = "(\w+)" \]; then\n(.*?)(?=\nelif|\nelse)', script, re.S)
    checked = 0
    for mode, body in modes:
        literal = re.search(r"MODELS=\((.*?)\)", body, re.S)
        if literal is None:  # the merge modes list the merged models' folders at run time
            continue
        listed = literal.group(1).split()
        ctx = int(re.search(r"--max_model_length (\d+)", body).group(1))
        for mid in listed:
            m = st.models[mid]
            assert m.set == mode, (mid, m.set, mode)
            assert m.backend_options["max_model_len"] == ctx, mid
            assert m.backend_options["tensor_parallel_size"] == tp, mid
            checked += 1
    assert checked >= 38 and "Skywork/Skywork-OR1-7B" in st.model_sets["tuned"].models


def test_study_name_is_its_own_not_a_merges():
    """parse_study once reused `name` as a loop variable over the merges, so a study with merges
    and no `title` got the last merge's name as name and title (paper.yaml: 'merge/...')."""
    from forgetmap.study.config import load_study

    st = load_study(Path(__file__).resolve().parents[1] / "configs" / "studies" / "paper.yaml")
    assert st.merges and st.name == "paper"
