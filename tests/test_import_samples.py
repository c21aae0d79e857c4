"""Importers keep every sample (issues 13 and 15): repeats/epochs/samples as their own records,
one seed-label scheme, filters and scorers per task, companion files by timestamp, bad logs
refused without stopping a folder, the same inspect eval recognised in two formats.

Every fixture here is the output of really running the tool on two real small models
(SmolLM2-135M-Instruct, Gemma-3-270M base, converted from the PyPI GGUFs) and real ARC-Easy
items (scripts/make_importer_fixtures.py: steps lm-eval-repeats, inspect-runs,
lighteval-samples). Each test re-reads the raw logs on its own and checks the imported records
(or the comparison) against a count made from them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from clikit import compare_pair, import_store, rows_by_key, run_cli

from forgetmap.importers import SEED_BASE, split_seed_label
from forgetmap.importers.lm_eval import import_lm_eval
from forgetmap.records import ResultsStore

FIX = Path(__file__).parent / "fixtures" / "importers"
LMR = FIX / "lm_eval_repeats"
SMOL, GEMMA = "models/smollm2-135m-instruct", "models/gemma3-270m"


# ---------------------------------------------------------------- lm-eval: raw files, read here
def _raw_lm_eval(folder: str, model_dir: str, task: str) -> tuple[list[dict], dict]:
    d = next((LMR / folder).glob(f"*{model_dir}*"))
    samples = next(d.glob(f"samples_{task}_2*.jsonl"))
    ts = samples.stem.rsplit("_", 1)[1]
    results = json.loads((d / f"results_{ts}.json").read_text())
    return [json.loads(x) for x in samples.read_text().splitlines() if x.strip()], results


def _regex(pattern: str, text: str) -> str:
    """lm-eval's RegexFilter on one text, written out here (first match, first non-empty group)."""
    found = re.findall(pattern, text)
    if not found:
        return "[invalid]"
    m = found[0]
    if isinstance(m, tuple):
        m = next((x for x in m if x), "[invalid]")
    return m.strip()


def test_lm_eval_repeats_are_records(tmp_path, capsys):
    """`repeats: 2`: records = items x repeats; repeat 0's pred is lm-eval's logged filtered
    answer, repeat 1's the filter's own regex (from the run's config) on that repeat's text."""
    store, err = import_store(capsys, tmp_path / "res", "lm-eval", LMR / "torch1234")
    assert store.models() == [GEMMA, SMOL]
    for model, key in ((SMOL, "smollm2"), (GEMMA, "gemma3")):
        rows = rows_by_key(store, model)
        raw, results = _raw_lm_eval("torch1234", key, "arc_mini_cot")
        cfg = results["configs"]["arc_mini_cot"]
        assert cfg["repeats"] == 2
        strict = [x for x in raw if x["filter"] == "strict-match"]
        pattern = next(f for f in cfg["filter_list"] if f["name"] == "strict-match")["filter"][0]
        cot = {k: r for k, r in rows.items() if k[0] == "arc_mini_cot"}
        assert len(cot) == len(strict) * 2 == 16  # 8 items x 2 repeats
        torch_seed = results["config"]["torch_seed"]
        assert {k[2] for k in cot} == {torch_seed, SEED_BASE + torch_seed}
        for s in strict:
            for rep, gen in enumerate(s["resps"][0]):
                r = cot[("arc_mini_cot", str(s["doc_id"]), rep * SEED_BASE + torch_seed)]
                assert r["response"] == gen
                answer = (
                    s["filtered_resps"][0] if rep == 0 else _regex(pattern["regex_pattern"], gen)
                )
                assert r["pred"] == (None if answer == "[invalid]" else answer)
                assert r["correct"] is (answer == s["target"])
                origin = "logged" if rep == 0 else "regex"
                assert r["extract_rule"] == f"lm-eval:{origin}:strict-match/exact_match"
            assert cot[("arc_mini_cot", str(s["doc_id"]), torch_seed)]["correct"] is bool(
                s["exact_match"]
            )  # repeat 0 agrees with lm-eval's own (take_first) verdict
        mc = {k: r for k, r in rows.items() if k[0] == "arc_mini"}
        assert len(mc) == 8 and {k[2] for k in mc} == {torch_seed}
        assert {r["category"] for r in rows.values()} == {"arc_mini_suite"}  # the task group
    assert "strict-match/exact_match" in err and "none/acc" in err  # filters in the summary


def test_lm_eval_filter_without_take_first_no_rounding(tmp_path, capsys):
    """flexible-extract keeps every repeat's answer and lm-eval logs exact_match = 0.5 where one
    repeat is right: that becomes one correct and one incorrect record, not one True."""
    store, err = import_store(capsys, tmp_path / "res", "lm-eval", LMR / "torch1234",
                         "--filter", "flexible-extract")  # fmt: skip
    rows = rows_by_key(store, SMOL)
    raw, results = _raw_lm_eval("torch1234", "smollm2", "arc_mini_cot")
    ts = results["config"]["torch_seed"]
    flex = [x for x in raw if x["filter"] == "flexible-extract"]
    halves = 0
    for s in flex:
        answers = s["filtered_resps"][0]
        assert isinstance(answers, list) and len(answers) == 2
        verdicts = []
        for rep, ans in enumerate(answers):
            r = rows[("arc_mini_cot", str(s["doc_id"]), rep * SEED_BASE + ts)]
            assert r["pred"] == (None if ans == "[invalid]" else ans)
            assert r["extract_rule"] == "lm-eval:logged:flexible-extract/exact_match"
            verdicts.append(r["correct"])
        assert sum(verdicts) / 2 == s["exact_match"]  # lm-eval's mean over the two repeats
        halves += s["exact_match"] == 0.5
    assert halves >= 1  # the case that used to become correct=True
    assert "flexible-extract/exact_match" in err


def test_lm_eval_filter_that_is_no_plain_regex_uses_forgetmap(tmp_path):
    """mc-regex (multi_choice_regex) cannot be re-applied: repeat 1 goes to forgetmap's
    extractor and says so; repeat 0 keeps lm-eval's logged answer."""
    from forgetmap.suite.extract import extract

    run = next(
        r for r in import_lm_eval(LMR / "torch1234", filter_name="mc-regex") if r.model == SMOL
    )
    rows = [r for r in run.table.to_pylist() if r["task"] == "arc_mini_cot"]
    second = [r for r in rows if split_seed_label(r["seed"])[1] == 1]
    assert len(second) == 8
    for r in second:
        ex = extract(r["response"], r["choices"], r["n_choices"])
        origin = "forgetmap." + (ex.rule or "none").replace(":", ".")
        assert r["extract_rule"] == f"lm-eval:{origin}:mc-regex/exact_match"
        assert r["pred"] == ex.pred and r["correct"] is (ex.pred == r["gold"])
    assert {r["extract_rule"] for r in rows if split_seed_label(r["seed"])[1] == 0} == {
        "lm-eval:logged:mc-regex/exact_match"
    }
    pred_from = run.manifest["tasks"]["arc_mini_cot"]["pred_from"]
    assert "logged" in pred_from and all(
        o == "logged" or o.startswith("forgetmap.") for o in pred_from
    )


def test_lm_eval_compare_per_repeat_matches_raw(tmp_path, capsys):
    """Must show: a pair's cells per repeat seed equal a count made straight from the two
    models' raw samples files (flexible-extract: lm-eval logged each repeat's answer)."""
    res = tmp_path / "res"
    import_store(capsys, res, "lm-eval", LMR / "torch1234", "--filter", "flexible-extract")
    pair, _ = compare_pair(capsys, res, GEMMA, SMOL, tmp_path)
    cells = {(c["task"], c["seed"]): c for c in pair["cells"]}
    correct: dict[str, dict[tuple[str, int], bool]] = {}
    for key in ("gemma3", "smollm2"):
        raw, results = _raw_lm_eval("torch1234", key, "arc_mini_cot")
        ts = results["config"]["torch_seed"]
        correct[key] = {
            (str(s["doc_id"]), rep * SEED_BASE + ts): ans == s["target"]
            for s in raw
            if s["filter"] == "flexible-extract"
            for rep, ans in enumerate(s["filtered_resps"][0])
        }
    seeds = sorted({k[1] for k in correct["gemma3"]})
    assert len(seeds) == 2
    for seed in seeds:
        keys = [k for k in correct["gemma3"] if k[1] == seed]
        pre = [correct["gemma3"][k] for k in keys]
        post = [correct["smollm2"][k] for k in keys]
        c = cells[("arc_mini_cot", seed)]
        n10 = sum(a and not b for a, b in zip(pre, post, strict=True))
        n01 = sum(b and not a for a, b in zip(pre, post, strict=True))
        n11 = sum(a and b for a, b in zip(pre, post, strict=True))
        assert (c["n"], c["n10"], c["n01"], c["n11"]) == (len(keys), n10, n01, n11)


def test_lm_eval_filter_on_mixed_folder(tmp_path, capsys):
    """Must show: --filter NAME on a folder whose MC task has only `none`: applied where the
    task has it, named in the summary and the records; TASK=NAME per task; unknown ones fail."""
    store, err = import_store(capsys, tmp_path / "a", "lm-eval", LMR / "torch1234",
                         "--filter", "flexible-extract")  # fmt: skip
    rules = {
        (r["task"], r["extract_rule"].split(":", 2)[2]) for r in rows_by_key(store, SMOL).values()
    }
    assert rules == {("arc_mini", "none/acc"), ("arc_mini_cot", "flexible-extract/exact_match")}
    assert "flexible-extract" in err
    man = store.read_manifest(SMOL, store.runs(SMOL)[0])
    assert man["filters"] == {"arc_mini": "none", "arc_mini_cot": "flexible-extract"}
    store, _ = import_store(capsys, tmp_path / "b", "lm-eval", LMR / "torch1234",
                       "--filter", "arc_mini_cot=mc-regex")  # fmt: skip
    assert {r["extract_rule"].split(":", 2)[2] for r in rows_by_key(store, GEMMA).values()} == {
        "none/acc",
        "mc-regex/exact_match",
    }
    code, err = run_cli(capsys, "import", "lm-eval", LMR / "torch1234", "--results", tmp_path / "c",
                     "--filter", "no-such-filter")  # fmt: skip
    assert code == 2 and "no imported task has a filter of that name" in err
    code, err = run_cli(capsys, "import", "lm-eval", LMR / "torch1234", "--results", tmp_path / "c",
                     "--filter", "arc_mini=strict-match")  # fmt: skip
    assert code == 2 and "has no filter 'strict-match'" in err and "(has: none)" in err


def test_lm_eval_torch_seed_gives_other_labels(tmp_path, capsys):
    """Must show: two runs that differ only in the torch seed (--seed 0,1234,1234,1234 and
    --seed 0,1234,99,1234: same random_seed 0) import with different seed labels, side by side
    in one results dir, and keep every seed lm-eval recorded in the manifest."""
    res = tmp_path / "res"
    import_store(capsys, res, "lm-eval", LMR / "torch1234")
    store, err = import_store(capsys, res, "lm-eval", LMR / "torch99")
    rows = rows_by_key(store, SMOL)
    cot_seeds = sorted({k[2] for k in rows if k[0] == "arc_mini_cot"})
    assert cot_seeds == [99, 1234, SEED_BASE + 99, SEED_BASE + 1234]
    raw99, res99 = _raw_lm_eval("torch99", "smollm2", "arc_mini_cot")
    raw1234, _ = _raw_lm_eval("torch1234", "smollm2", "arc_mini_cot")
    assert res99["config"]["random_seed"] == 0
    assert [s["resps"] for s in raw99] != [s["resps"] for s in raw1234]  # other samples drawn
    run99 = next(r for r in store.runs(SMOL) if store.read_manifest(SMOL, r)["seed"] == 99)
    man = store.read_manifest(SMOL, run99)
    assert man["seed_source"] == "torch_seed"
    assert man["seeds_recorded"] == {"random_seed": 0, "numpy_seed": 1234, "torch_seed": 99,
                                     "fewshot_seed": 1234}  # fmt: skip
    gk = man["tasks"]["arc_mini_cot"]["generation_kwargs"]
    assert gk["temperature"] == 0.6 and gk["max_gen_toks"] == 12 and gk["do_sample"] is True
    assert man["tasks"]["arc_mini_cot"]["repeats"] == 2
    assert "99 (repeats 0-1)" in err  # the labels in words in the summary


def test_lm_eval_samples_never_read_with_another_runs_results(tmp_path, capsys):
    """A samples file whose results_<ts>.json is missing is not read with another run's
    results file beside it (its seed would be wrong): refused, asking for --seed."""
    d99 = next((LMR / "torch99").glob("*smollm2*"))
    d1234 = next((LMR / "torch1234").glob("*smollm2*"))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for f in d99.glob("samples_*.jsonl"):
        shutil.copy(f, mixed / f.name)
    for f in d1234.glob("results_*.json"):
        shutil.copy(f, mixed / f.name)
    for f in d1234.glob("samples_*.jsonl"):
        shutil.copy(f, mixed / f.name)
    code, err = run_cli(capsys, "import", "lm-eval", mixed, "--results", tmp_path / "r")
    # the 1234 run imports; the 99 samples are refused, naming the other run's results file
    assert code == 0 and "refused" in err and "pass --seed N" in err
    assert next(d1234.glob("results_*.json")).name in err
    rows = rows_by_key(ResultsStore(tmp_path / "r"), SMOL)
    assert {split_seed_label(k[2])[0] for k in rows} == {1234}
    code, err = run_cli(
        capsys, "import", "lm-eval", mixed, "--results", tmp_path / "r2", "--strict"
    )
    assert code == 2 and "pass --seed N" in err


def test_lm_eval_fractional_metric_is_refused(tmp_path, capsys):
    """A single-sample line whose metric is neither 0 nor 1 is not rounded into `correct`."""
    src = next((FIX / "lm_eval" / "seed1").rglob("samples_arc_mini_gen_2*.jsonl"))
    d = tmp_path / "logs"
    shutil.copytree(src.parent, d)
    f = d / src.name
    lines = f.read_text().splitlines()
    first = json.loads(lines[0])
    first["exact_match"] = 0.5
    f.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    code, err = run_cli(capsys, "import", "lm-eval", d, "--results", tmp_path / "r")
    assert code == 2 and f"{f}:1" in err and "'exact_match' = 0.5 is not 0 or 1" in err


# ---------------------------------------------------------------- HELM trials
def test_helm_trials_are_records(tmp_path, capsys):
    """Each HELM trial (train_trial_index) of an instance is its own record (trial t -> repeat
    t); one run directory = one run; unseeded (HELM records no sampling seed): labelled 0."""
    store, err = import_store(capsys, tmp_path / "res", "helm", FIX / "helm_trials")
    for run_dir in sorted((FIX / "helm_trials").rglob("run_spec.json")):
        spec = json.loads(run_dir.read_text())
        preds = json.loads((run_dir.parent / "display_predictions.json").read_text())
        rows = rows_by_key(store, spec["adapter_spec"]["model"])
        assert spec["adapter_spec"]["num_train_trials"] == 2 and len(rows) == len(preds) == 16
        for p in preds:
            r = rows[("arc_mini_cot:subset=easy,method=multiple_choice_joint", p["instance_id"],
                      p["train_trial_index"] * SEED_BASE)]  # fmt: skip
            assert r["correct"] is (p["stats"]["exact_match"] == 1.0)
            assert r["pred"] == (p["predicted_text"].strip() or None)
            assert r["extract_rule"] == "helm:logged:exact_match"
    assert "records no sampling seed" in err


# ---------------------------------------------------------------- compare on imported runs
def test_compare_warns_when_the_sides_used_different_filters(tmp_path, capsys):
    """Must show: SmolLM2 imported with flexible-extract, Gemma with its default strict-match:
    compare names both in a warning (JSON and stderr); the same filter on both: no warning."""
    res = tmp_path / "res"
    smol_dir = next((LMR / "torch1234").glob("*smollm2*"))
    gemma_dir = next((LMR / "torch1234").glob("*gemma3*"))
    import_store(capsys, res, "lm-eval", smol_dir, "--filter", "flexible-extract")
    import_store(capsys, res, "lm-eval", gemma_dir)
    pair, err = compare_pair(capsys, res, GEMMA, SMOL, tmp_path)
    ws = [w for w in pair["warnings"] if "scored differently" in w]
    assert len(ws) == 1 and "arc_mini_cot" in ws[0]
    assert "strict-match/exact_match" in ws[0] and "flexible-extract/exact_match" in ws[0]
    assert "scored differently" in err and "flexible-extract" in err
    same = tmp_path / "same"
    import_store(capsys, same, "lm-eval", LMR / "torch1234", "--filter", "flexible-extract")
    pair, _ = compare_pair(capsys, same, GEMMA, SMOL, tmp_path)
    assert not [w for w in pair["warnings"] if "scored differently" in w]


def test_no_items_in_common_says_the_seeds(tmp_path, capsys):
    """The same task with disjoint seed labels (SmolLM2 with torch seed 99, Gemma with 1234):
    the error says they share no seed and lists both sides' seeds."""
    res = tmp_path / "res"
    import_store(capsys, res, "lm-eval", LMR / "torch99")
    import_store(capsys, res, "lm-eval", next((LMR / "torch1234").glob("*gemma3*")), "--filter",
            "arc_mini_cot=strict-match")  # fmt: skip
    code, err = run_cli(capsys, "compare", "--results", res, "--before", GEMMA, "--after", SMOL)
    assert code == 2 and "no items in common" in err and "They share no seed" in err
    assert "1234 (repeats 0-1)" in err and "99 (repeats 0-1)" in err


# ---------------------------------------------------------------- lm-eval <= 0.4.2 layout
def test_lm_eval_042_layout(tmp_path, capsys):
    """lm-eval 0.4.2 (really run): results.json + one JSON array per task named after the model
    args, no filter names, no seeds: read, every row checked against the raw arrays; no seed
    recorded -> labelled 0 and said."""
    root = FIX / "lm_eval_042"
    store, err = import_store(capsys, tmp_path / "res", "lm-eval", root)
    assert store.models() == [SMOL]
    assert "records no sampling seed" in err
    for results in sorted(root.rglob("results.json")):
        body = json.loads(results.read_text())
        args = body["config"]["model_args"]
        model = args.split("pretrained=")[1].split(",")[0]
        rows = rows_by_key(store, model)
        prefix = re.sub("/|=", "__", args)
        mc = json.loads((results.parent / f"{prefix}_arc_mini.jsonl").read_text())
        gen = json.loads((results.parent / f"{prefix}_arc_mini_gen.jsonl").read_text())
        assert len(rows) == len(mc) + len(gen) == 16 and {k[2] for k in rows} == {0}
        for s in mc:
            r = rows[("arc_mini", str(s["doc_id"]), 0)]
            lls = [float(x[0]) for x in s["filtered_resps"]]
            assert (
                r["pred"] == "ABCDE"[lls.index(max(lls))] and r["gold"] == "ABCDE"[int(s["target"])]
            )
            assert r["correct"] is bool(s["acc"]) and r["extract_rule"] == "lm-eval:argmax:none/acc"
            assert r["prompt_hash"]  # hashed from the logged context (0.4.2 logs no hash)
        for s in gen:
            r = rows[("arc_mini_gen", str(s["doc_id"]), 0)]
            ans = s["filtered_resps"][0]
            assert r["response"] == s["resps"][0][0]
            assert r["pred"] == (None if ans.strip() in ("", "[invalid]") else ans.strip())
            assert r["correct"] is bool(s["exact_match"])
            assert r["extract_rule"] == "lm-eval:logged:letter/exact_match"
        man = store.read_manifest(model, store.runs(model)[0])
        assert man["tool_version"] == "<=0.4.2" and man["seed_source"].startswith("none")


# ---------------------------------------------------------------- OpenCompass n > 1
def test_opencompass_n2_every_replica_a_record(tmp_path, capsys):
    """OpenCompass 0.5.4 with n = 2 (really run): 12 predictions = 6 items x 2 replicas; each
    replica of an item is its own record (item i mod 6, replica i div 6 -> repeat), and the
    verdict is AccEvaluator's (its details log no `correct`: prediction == reference)."""
    run = next((FIX / "opencompass_n2").rglob("predictions")).parent
    preds = json.loads((run / "predictions" / "gemma3-270m_hf" / "arc-e-mini-n2.json").read_text())
    details = json.loads((run / "results" / "gemma3-270m_hf" / "arc-e-mini-n2.json").read_text())
    assert "n=2" in next((run / "configs").glob("*.py")).read_text().replace(" ", "")
    store, err = import_store(capsys, tmp_path / "res", "opencompass", FIX / "opencompass_n2")
    rows = rows_by_key(store, "gemma3-270m_hf")
    assert len(preds) == 12 and len(rows) == 12
    assert sorted({k[2] for k in rows}) == [0, SEED_BASE]
    for idx, p in preds.items():
        replica, item = divmod(int(idx), 6)
        assert p["origin_prompt"] == preds[str(item)]["origin_prompt"]  # same item, replica r
        r = rows[("arc-e-mini-n2", str(item), replica * SEED_BASE)]
        d = details["details"][idx]
        assert r["response"] == p["prediction"] and r["pred"] == d["predictions"]
        assert r["correct"] is (d["predictions"] == d["references"]) and r["gold"] == p["gold"]
        assert r["extract_rule"] == "opencompass:logged:eval-details"
    man = store.read_manifest("gemma3-270m_hf", store.runs("gemma3-270m_hf")[0])
    assert man["datasets"]["arc-e-mini-n2"] == {"scorer": "eval-details", "replicas": 2, "items": 6}
    assert "records no sampling seed" in err
