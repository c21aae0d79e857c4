"""Tool importers on real logs (tests/fixtures/importers, made by scripts/make_importer_fixtures*.py).

lm-eval, lighteval and inspect_ai fixtures are outputs of really running those tools on two real
small models (SmolLM2-135M-Instruct, Gemma-3-270M base) and 8 real ARC-Easy items; so is
opencompass_run (OpenCompass 0.5.4). The HELM fixture and a second OpenCompass layout are written
in those tools' documented formats (HELM was not run here; see docs/importers.md) with the models'
real answers. Each test re-reads the raw log independently
and checks the imported values against it.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from clikit import rows_by_key, run_cli

from forgetmap.importers import SEED_BASE
from forgetmap.importers.inspect_logs import _member_bytes
from forgetmap.records import ResultsStore

FIX = Path(__file__).parent / "fixtures" / "importers"
SMOL, GEMMA = "models/smollm2-135m-instruct", "models/gemma3-270m"
L = "ABCDEFGHIJ"


def _import(capsys, tmp_path: Path, tool: str, path: Path, *extra: str) -> ResultsStore:
    res = tmp_path / "res"
    code, err = run_cli(capsys, "import", tool, path, "--results", res, *extra)
    assert code == 0, err
    return ResultsStore(res)


# ---------------------------------------------------------------- lm-evaluation-harness
def _lm_eval_samples(model_dir_glob: str, task: str, seed: int) -> list[dict]:
    files = [
        f
        for f in (FIX / "lm_eval" / f"seed{seed}").rglob(f"samples_{task}_2*.jsonl")
        if model_dir_glob in str(f.parent.name)
    ]
    assert len(files) == 1, files
    return [json.loads(x) for x in files[0].read_text().splitlines() if x.strip()]


def test_lm_eval_real_logs(tmp_path, capsys):
    store = _import(capsys, tmp_path, "lm-eval", FIX / "lm_eval")
    assert store.models() == [GEMMA, SMOL]
    smol, gemma = rows_by_key(store, SMOL), rows_by_key(store, GEMMA)
    assert len(smol) == 8 + 8 + 8 and len(gemma) == 16
    assert {k[0] for k in smol} == {"arc_mini", "arc_mini_gen"}  # task names verbatim
    assert {k[2] for k in smol} == {0, 1}
    # multiple choice (loglikelihood): spot-check every row against the raw samples
    for raw in _lm_eval_samples("gemma3", "arc_mini", 0):
        r = gemma[("arc_mini", str(raw["doc_id"]), 0)]
        lls = [float(x[0]) for x in raw["filtered_resps"]]
        assert r["gold"] == L[int(raw["target"])]
        assert r["pred"] == L[lls.index(max(lls))]
        assert r["correct"] is bool(raw["acc"])
        assert r["n_choices"] == len(lls) == len(raw["doc"]["choices"]["text"])
        assert r["elicitation"] == "loglik" and r["prompt_hash"] == raw["prompt_hash"]
    assert sorted({r["n_choices"] for k, r in gemma.items() if k[0] == "arc_mini"}) == [3, 4, 5]
    # generation: raw response and filtered answer
    for raw in _lm_eval_samples("smollm2", "arc_mini_gen", 1):
        r = smol[("arc_mini_gen", str(raw["doc_id"]), 1)]
        assert r["response"] == raw["resps"][0][0]
        filt = raw["filtered_resps"][0]
        assert r["pred"] == (None if filt.strip() in ("", "[invalid]") else filt.strip())
        assert r["correct"] is bool(raw["exact_match"])
        assert r["gold"] == raw["target"] and r["elicitation"] == "cot_chat"


def test_lm_eval_then_compare(tmp_path, capsys):
    """The imported logs are a usable pair for `forgetmap compare`."""
    store = _import(capsys, tmp_path, "lm-eval", FIX / "lm_eval")
    out = tmp_path / "cmp.json"
    code, err = run_cli(
        capsys,
        "compare",
        "--results",
        store.root,
        "--before",
        GEMMA,
        "--after",
        SMOL,
        "--json",
        out,
    )
    assert code == 0, err
    pair = json.loads(out.read_text())["pairs"][0]
    cell = next(c for c in pair["cells"] if c["task"] == "arc_mini" and c["seed"] == 0)
    g, s = rows_by_key(store, GEMMA), rows_by_key(store, SMOL)
    n10 = sum(g[k]["correct"] and not s[k]["correct"] for k in g if k[0] == "arc_mini")
    assert cell["n"] == 8 and cell["n10"] == n10


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda lines: lines[:2] + ["{not json"] + lines[3:], ":3: malformed JSON line"),
        (
            lambda lines: (
                [json.dumps({k: v for k, v in json.loads(lines[0]).items() if k != "acc"})]
                + lines[1:]
            ),
            ":1: missing field 'acc'",
        ),
        (
            lambda lines: (
                [json.dumps({k: v for k, v in json.loads(lines[0]).items() if k != "doc_id"})]
                + lines[1:]
            ),
            ":1: missing field 'doc_id'",
        ),
    ],
)
def test_lm_eval_bad_lines(tmp_path, capsys, corrupt, expected):
    src = next((FIX / "lm_eval" / "seed0").rglob("samples_arc_mini_2*.jsonl"))
    d = tmp_path / "logs"
    shutil.copytree(src.parent, d)
    f = d / src.name
    f.write_text("\n".join(corrupt(f.read_text().splitlines())) + "\n")
    code, err = run_cli(capsys, "import", "lm-eval", d, "--results", tmp_path / "res")
    assert code == 2 and str(f) in err and expected in err and "Traceback" not in err


def test_lm_eval_missing_results_needs_seed_and_model(tmp_path, capsys):
    """Without its own results_<ts>.json a samples file has no seed and no model name: both are
    asked for, and another run's results file in the same folder is never used instead."""
    src = next((FIX / "lm_eval" / "seed0").rglob("samples_arc_mini_2*.jsonl"))
    shutil.copy(src, tmp_path / src.name)
    other = next((FIX / "lm_eval" / "seed1").rglob("results_*.json"))  # another run's
    shutil.copy(other, tmp_path / other.name)
    code, err = run_cli(
        capsys, "import", "lm-eval", tmp_path / src.name, "--results", tmp_path / "r"
    )
    assert code == 2 and "pass --seed N" in err and other.name in err and "another run" in err
    code, err = run_cli(
        capsys, "import", "lm-eval", tmp_path / src.name, "--results", tmp_path / "r", "--seed", "5"
    )
    assert code == 2 and "pass --model NAME" in err
    code, err = run_cli(
        capsys,
        "import",
        "lm-eval",
        tmp_path / src.name,
        "--results",
        tmp_path / "r",
        "--model",
        "x",
        "--seed",
        "5",
    )
    assert code == 0, err
    assert "note" in err and "task configs" in err  # the missing companion file is said
    rows = rows_by_key(ResultsStore(tmp_path / "r"), "x")
    assert len(rows) == 8 and {k[2] for k in rows} == {5}


# ---------------------------------------------------------------- lighteval
def _lighteval_details(model_part: str) -> list[tuple[Path, list[dict]]]:
    out = []
    for f in sorted((FIX / "lighteval" / "details").rglob("details_*.parquet")):
        if model_part in str(f):
            out.append((f, pq.read_table(f).to_pylist()))
    return out


def test_lighteval_real_logs(tmp_path, capsys):
    store = _import(capsys, tmp_path, "lighteval", FIX / "lighteval")
    assert store.models() == [GEMMA, SMOL]
    smol = rows_by_key(store, SMOL)
    assert len(smol) == 16 and {k[2] for k in smol} == {0, 1}  # seeds from results_*.json
    tasks = {k[0] for k in smol}
    assert len(tasks) == 1 and "arc_reasoning_letter:easy" in next(iter(tasks))  # verbatim
    for f, raw_rows in _lighteval_details("smollm2"):
        ts = f.stem.rsplit("_", 1)[1]
        res = next((FIX / "lighteval" / "results").rglob(f"results_{ts}.json"))
        general = json.loads(res.read_text())["config_general"]
        seed = general["model_config"]["generation_parameters"]["seed"]  # lighteval 0.13 layout
        for raw in raw_rows:
            doc = raw["doc"]
            r = next(v for k, v in smol.items() if k[1] == doc["id"] and k[2] == seed)
            gi = doc["gold_index"][0] if isinstance(doc["gold_index"], list) else doc["gold_index"]
            assert r["gold"] == L[gi] and r["n_choices"] == len(doc["choices"])
            assert r["response"] == raw["model_response"]["text"][0]
            assert r["correct"] is (raw["metric"]["extractive_match"] >= 0.5)
            assert r["elicitation"] == "cot_chat"
    gemma = rows_by_key(store, GEMMA)
    assert {r["elicitation"] for r in gemma.values()} == {"cot_fewshot"}  # no chat template


def test_lighteval_errors(tmp_path, capsys):
    f, _ = _lighteval_details("gemma3")[0]
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(f, alone / f.name)
    code, err = run_cli(capsys, "import", "lighteval", alone, "--results", tmp_path / "r")
    assert code == 2 and "cannot tell the model name" in err and "pass --model" in err
    code, err = run_cli(
        capsys, "import", "lighteval", alone, "--results", tmp_path / "r", "--model", "g"
    )
    assert code == 2 and "sampling seed" in err and "is unknown" in err and "pass --seed" in err
    code, err = run_cli(
        capsys,
        "import",
        "lighteval",
        alone,
        "--results",
        tmp_path / "r",
        "--model",
        "g",
        "--seed",
        "3",
    )
    assert code == 0, err
    bad = tmp_path / "bad" / f.name
    bad.parent.mkdir()
    bad.write_bytes(b"PAR1garbage")
    code, err = run_cli(
        capsys,
        "import",
        "lighteval",
        bad,
        "--results",
        tmp_path / "r2",
        "--model",
        "g",
        "--seed",
        "0",
    )
    assert code == 2 and str(bad) in err and "not a readable Parquet details file" in err


# ---------------------------------------------------------------- inspect_ai
def test_inspect_real_logs(tmp_path, capsys):
    store = _import(capsys, tmp_path, "inspect", FIX / "inspect")
    models = store.models()
    assert len(models) == 2 and all(m.startswith("hf/") for m in models)
    smol = rows_by_key(store, f"hf/{SMOL}")
    # 2 epochs of --seed 0: labels seed + (epoch - 1) * 10**10 (docs/importers.md)
    assert len(smol) == 16 and {k[2] for k in smol} == {0, SEED_BASE}
    eval_file = next((FIX / "inspect").glob("*.eval"))
    with zipfile.ZipFile(eval_file) as zf:  # members are zstd: decompress via the helper
        raws = [
            json.loads(_member_bytes(zf, eval_file, n))
            for n in zf.namelist()
            if n.startswith("samples/")
        ]
    assert len(raws) == 16
    for raw in raws:
        r = smol[("arc_mini", str(raw["id"]), (raw["epoch"] - 1) * SEED_BASE)]
        score = raw["scores"]["choice"]
        assert r["correct"] is (score["value"] == "C")
        assert r["gold"] == raw["target"] and r["n_choices"] == len(raw["choices"])
        assert r["pred"] == (score.get("answer") or None)
        assert r["category"] == "science"  # sample metadata, verbatim
    gemma_json = next((FIX / "inspect").glob("*.json"))
    raw = json.loads(gemma_json.read_text())
    gemma = rows_by_key(store, raw["eval"]["model"])
    assert len(gemma) == len(raw["samples"]) == 8
    for s in raw["samples"]:
        assert gemma[("arc_mini", str(s["id"]), 0)]["correct"] is (
            s["scores"]["choice"]["value"] == "C"
        )


def test_inspect_errors(tmp_path, capsys):
    src = next((FIX / "inspect").glob("*.json"))
    body = json.loads(src.read_text())
    del body["samples"][2]["scores"]
    bad = tmp_path / "unscored.json"
    bad.write_text(json.dumps(body))
    code, err = run_cli(capsys, "import", "inspect", bad, "--results", tmp_path / "r")
    assert code == 2 and str(bad) in err and "missing field 'scores'" in err
    notlog = tmp_path / "other.json"
    notlog.write_text('{"hello": 1}')
    code, err = run_cli(capsys, "import", "inspect", notlog, "--results", tmp_path / "r")
    assert code == 2 and "missing field 'eval'" in err
    notzip = tmp_path / "x.eval"
    notzip.write_text("not a zip")
    code, err = run_cli(capsys, "import", "inspect", notzip, "--results", tmp_path / "r")
    assert code == 2 and "not a readable .eval log" in err


# ---------------------------------------------------------------- OpenCompass, HELM
def test_opencompass_documented_format(tmp_path, capsys):
    store = _import(capsys, tmp_path, "opencompass", FIX / "opencompass")
    run = next((FIX / "opencompass").iterdir())
    for abbr in ("gemma3-270m-hf", "smollm2-135m-instruct-hf"):
        preds = json.loads((run / "predictions" / abbr / "arc-e-mini.json").read_text())
        rows = rows_by_key(store, abbr)
        assert len(rows) == len(preds) == 8
        for idx, p in preds.items():
            r = rows[("arc-e-mini", idx, 0)]
            assert r["gold"] == p["gold"] and r["pred"] == p["prediction"]
            assert r["correct"] is (p["prediction"] == p["gold"])
            assert (
                r["n_choices"] == sum(k.startswith("label: ") for k in p)
                and r["elicitation"] == "loglik"
            )


def test_helm_documented_format(tmp_path, capsys):
    store = _import(capsys, tmp_path, "helm", FIX / "helm")
    assert store.models() == ["local/gemma3-270m", "local/smollm2-135m-instruct"]
    rows = rows_by_key(store, "local/gemma3-270m")
    run = next(d for d in (FIX / "helm").rglob("run_spec.json") if "gemma" in str(d)).parent
    preds = json.loads((run / "display_predictions.json").read_text())
    insts = {i["id"]: i for i in json.loads((run / "instances.json").read_text())}
    for p in preds:
        r = rows[("arc_mini:subset=easy,method=multiple_choice_joint", p["instance_id"], 0)]
        refs = insts[p["instance_id"]]["references"]
        assert r["gold"] == L[next(i for i, x in enumerate(refs) if "correct" in x["tags"])]
        assert r["pred"] == p["predicted_text"].strip() and r["n_choices"] == len(refs)
        assert r["correct"] is (p["stats"]["exact_match"] == 1.0)


def test_opencompass_and_helm_errors(tmp_path, capsys):
    d = tmp_path / "oc"
    shutil.copytree(FIX / "opencompass", d)
    f = next(d.rglob("predictions/*/arc-e-mini.json"))
    body = json.loads(f.read_text())
    del body["3"]["gold"]
    f.write_text(json.dumps(body))
    # one model's bad file does not stop the other model's import; --strict stops at it
    code, err = run_cli(capsys, "import", "opencompass", d, "--results", tmp_path / "r")
    assert code == 0 and "refused" in err and str(f) in err
    assert "sample 3: missing field 'gold'" in err and "1 log(s) refused" in err
    assert len(ResultsStore(tmp_path / "r").models()) == 1
    code, err = run_cli(
        capsys, "import", "opencompass", d, "--results", tmp_path / "r2", "--strict"
    )
    assert code == 2 and "sample 3: missing field 'gold'" in err
    assert not (tmp_path / "r2").exists()
    h = tmp_path / "helm"
    shutil.copytree(FIX / "helm", h)
    victim = next(h.rglob("display_predictions.json"))
    victim.unlink()
    code, err = run_cli(capsys, "import", "helm", h, "--results", tmp_path / "r3")
    assert code == 0 and "without display_predictions.json" in err and "refused" in err
    for other in h.rglob("display_predictions.json"):
        other.unlink()
    code, err = run_cli(capsys, "import", "helm", h, "--results", tmp_path / "r4")
    assert code == 2 and "nothing importable: 2 logs refused" in err
    assert err.count("without display_predictions.json") == 2


# ---------------------------------------------------------------- common errors
@pytest.mark.parametrize("tool", ["lm-eval", "lighteval", "inspect", "opencompass", "helm"])
def test_missing_path_and_empty_dir(tmp_path, capsys, tool):
    code, err = run_cli(capsys, "import", tool, tmp_path / "nope", "--results", tmp_path / "r")
    assert code == 2 and "no such file or directory" in err
    (tmp_path / "empty").mkdir()
    code, err = run_cli(capsys, "import", tool, tmp_path / "empty", "--results", tmp_path / "r")
    assert code == 2 and "found under" in err and "Traceback" not in err


def test_one_model_name_for_two_models_is_an_error(tmp_path, capsys):
    """--model over logs of two models would merge them: refused, naming a clashing key."""
    code, err = run_cli(
        capsys,
        "import",
        "lm-eval",
        FIX / "lm_eval" / "seed0",
        "--results",
        tmp_path / "r",
        "--model",
        "one",
    )
    assert code == 2 and "occur in more than one imported run" in err and "task=" in err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.parquet"))


def test_lighteval_single_file_finds_its_results(tmp_path, capsys):
    """PATH may be one details file: model and seed come from OUT/results/<model>/ above it."""
    f, raw = _lighteval_details("gemma3")[0]
    store = _import(capsys, tmp_path, "lighteval", f)
    rows = rows_by_key(store, GEMMA)
    assert len(rows) == len(raw) == 8 and {k[2] for k in rows} == {0}


def test_opencompass_real_run(tmp_path, capsys):
    """A real OpenCompass 0.5.4 run (custom mcq dataset, PPL inference): details are a dict with a
    'type' entry besides the per-sample ones, whose answer key is 'predictions'."""
    store = _import(capsys, tmp_path, "opencompass", FIX / "opencompass_run")
    assert store.models() == ["gemma3-270m_hf", "smollm2-135m-instruct_hf"]
    for abbr in store.models():
        preds = next((FIX / "opencompass_run").rglob(f"predictions/{abbr}/arc-e-mini.json"))
        res = json.loads((preds.parents[2] / "results" / abbr / "arc-e-mini.json").read_text())
        rows = rows_by_key(store, abbr)
        raw = json.loads(preds.read_text())
        assert len(rows) == len(raw) == 6
        for idx, p in raw.items():
            r = rows[("arc-e-mini", idx, 0)]
            det = res["details"][idx]
            assert r["correct"] is det["correct"] is (p["prediction"] == p["gold"])
            assert r["pred"] == det["predictions"] == p["prediction"] and r["gold"] == p["gold"]
            assert r["n_choices"] == 4 and r["elicitation"] == "loglik"


def test_reextract_on_tool_logs(tmp_path, capsys):
    """--reextract re-reads lm-eval's raw generations with forgetmap's extractor."""
    from forgetmap.suite.extract import extract

    store = _import(capsys, tmp_path, "lm-eval", FIX / "lm_eval" / "seed1", "--reextract")
    rows = rows_by_key(store, SMOL)
    assert len(rows) == 8
    for r in rows.values():
        ex = extract(r["response"], r["choices"], r["n_choices"], r["task"])
        assert (r["pred"], r["extract_status"], r["extract_rule"]) == (ex.pred, ex.status, ex.rule)
        assert r["correct"] is (ex.pred == r["gold"])
    run = store.runs(SMOL)[0]
    assert store.read_manifest(SMOL, run)["reextracted"] is True
