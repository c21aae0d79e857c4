"""The lighteval importer on independently made lighteval 0.13.0 logs (issues 13 and 15).

The fixture (tests/fixtures/importers/lighteval_samples, scripts/make_importer_fixtures.py step
`lighteval-samples`) is the output of really running lighteval 0.13.0 on two real small models
(SmolLM2-135M-Instruct, Gemma-3-270M base, converted from the PyPI GGUFs) and real ARC-Easy
items: a task drawing two samples per item (`avg@n:n=2` beside the letter `extractive_match`),
a 20-item loglikelihood task (SmolLM2), and a run without a sampling seed. Each test reads the
raw details and results files on its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from clikit import import_store, rows_by_key, run_cli

from forgetmap.importers import SEED_BASE

FIX = Path(__file__).parent / "fixtures" / "importers"
SMOL, GEMMA = "models/smollm2-135m-instruct", "models/gemma3-270m"


# ---------------------------------------------------------------- lighteval
LES = FIX / "lighteval_samples"


def _lighteval_runs() -> list[tuple[Path, dict, dict[str, list[dict]]]]:
    """(results file, its config_general, {task: detail rows}) per run, read here."""
    out = []
    for res in sorted(LES.rglob("results_*.json")):
        ts = res.stem.split("_", 1)[1]
        general = json.loads(res.read_text())["config_general"]
        details = {
            f.name.split("_", 1)[1].rsplit("_", 1)[0]: pq.read_table(f).to_pylist()
            for f in LES.rglob(f"details_*_{ts}.parquet")
        }
        out.append((res, general, details))
    return out


def _gen_seed(general: dict):
    return general["model_config"]["generation_parameters"]["seed"]


def _copy_runs(dest: Path, seeded: bool) -> Path:
    """The fixture's seeded (or unseeded) runs only: a run without a seed is labelled 0, so
    beside a seed-0 run of the same model and task its keys collide (see the test below)."""
    for res, general, _ in _lighteval_runs():
        if (_gen_seed(general) is not None) != seeded:
            continue
        ts = res.stem.split("_", 1)[1]
        for f in [res, *LES.rglob(f"details_*_{ts}.parquet")]:
            out = dest / f.relative_to(LES)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, out)
    return dest


def test_lighteval_loglik_rows_hash_their_own_prompt(tmp_path, capsys):
    """issue 15 item 1: lighteval 0.13 leaves model_response.input empty on loglikelihood rows;
    the prompt hash comes from the doc's query and options: 20 items -> 20 hashes (it was one
    hash, of an empty string, for every row); the generation rows get their own hashes too."""
    store, _ = import_store(capsys, tmp_path / "res", "lighteval", _copy_runs(tmp_path / "l", True))
    raws = [v for _r, _g, d in _lighteval_runs() for k, v in d.items() if "arc_loglik" in k]
    assert raws and all(len(raw) == 20 for raw in raws)
    assert all(r["model_response"]["input"] is None for raw in raws for r in raw)
    rows = [r for r in rows_by_key(store, SMOL).values() if "arc_loglik" in r["task"]]
    assert len(rows) == 20 and len({r["prompt_hash"] for r in rows}) == 20
    assert {r["elicitation"] for r in rows} == {"loglik"}
    for model in (SMOL, GEMMA):
        gen = [
            r
            for r in rows_by_key(store, model).values()
            if "samples" in r["task"] and r["seed"] == 0
        ]
        assert len({r["prompt_hash"] for r in gen}) == 8  # 8 items, one hash each


def test_lighteval_several_samples_each_a_record(tmp_path, capsys):
    """issue 13 item 6: an avg@n (n=2) task: every sample is a record (sample i -> repeat i),
    scored by forgetmap's extractor since lighteval logs no per-sample verdict; its per-item
    mean is compared with lighteval's avg@n and the agreement reported."""
    from forgetmap.suite.extract import extract

    store, err = import_store(
        capsys, tmp_path / "res", "lighteval", _copy_runs(tmp_path / "l", True)
    )
    for _res, general, details in _lighteval_runs():
        if _gen_seed(general) is None:
            continue
        raw = next((v for k, v in details.items() if "samples" in k), None)
        if raw is None:
            continue
        model = general["model_name"]
        seed = _gen_seed(general)
        rows = rows_by_key(store, model)
        assert len([k for k in rows if "samples" in k[0]]) == 2 * len(raw) == 16
        agree = 0
        for d in raw:
            texts = d["model_response"]["text"]
            assert len(texts) == 2
            verdicts = []
            for i, text in enumerate(texts):
                r = next(v for k, v in rows.items()
                         if "samples" in k[0] and k[1] == d["doc"]["id"] and k[2] == i * SEED_BASE + seed)  # fmt: skip
                ex = extract(text, d["doc"]["choices"], len(d["doc"]["choices"]))
                assert r["response"] == text and r["pred"] == ex.pred
                assert r["correct"] is (ex.pred == "ABCDEFGHIJ"[d["doc"]["gold_index"]])
                assert r["extract_rule"].startswith("lighteval:forgetmap.")
                verdicts.append(r["correct"])
            agree += sum(verdicts) / 2 == d["metric"]["avg@n:n=2"]
        man = store.read_manifest(model, store.runs(model)[0])
        man = next(store.read_manifest(model, r) for r in store.runs(model)
                   if any("samples" in t for t in store.read_manifest(model, r)["tasks"]))  # fmt: skip
        task = next(t for t in man["tasks"] if "samples" in t)
        assert man["tasks"][task]["forgetmap_vs_logged"]["items_agreeing"] == agree
    assert "samples per item, one record each" in err


def test_lighteval_unseeded_run_labelled_0(tmp_path, capsys):
    """issue 15 item 3: a lighteval run without a sampling seed is no longer refused: labelled
    0 (its second sample 10^10), said in the summary - the same rule as inspect. Beside a
    seed-0 run of the same model and task its keys collide: that import is refused, naming a
    key, and --seed labels the unseeded run apart."""
    res, general, details = next(r for r in _lighteval_runs() if _gen_seed(r[1]) is None)
    d = _copy_runs(tmp_path / "run", False)
    store, err = import_store(capsys, tmp_path / "r", "lighteval", d)
    rows = rows_by_key(store, general["model_name"])
    n = sum(len(v) for v in details.values())
    assert {k[2] for k in rows} == {0, SEED_BASE} and len(rows) == 2 * n
    assert "records no sampling seed" in err
    code, err = run_cli(capsys, "import", "lighteval", LES, "--results", tmp_path / "r2")
    assert code == 2 and "occur in more than one imported run" in err
    import_store(capsys, tmp_path / "r3", "lighteval", _copy_runs(tmp_path / "s", True))
    store, _ = import_store(capsys, tmp_path / "r3", "lighteval", d, "--seed", "5")
    seeds = {k[2] for k in rows_by_key(store, general["model_name"]) if "samples" in k[0]}
    assert seeds == {0, SEED_BASE, 5, SEED_BASE + 5}
