"""Importers on independently made inspect_ai logs (issue 15), with the seed-label
scheme of issue 13.

Every fixture is the output of really running the tool on two real small models
(SmolLM2-135M-Instruct, Gemma-3-270M base, converted from the PyPI GGUFs) and real ARC-Easy
items: scripts/make_importer_fixtures.py steps `inspect-runs` (inspect_ai 0.3.285: --seed 7 and
--seed 8 with 2 epochs at T = 0.7, an unseeded run, two scorers, `inspect log convert`, an
errored and a cancelled eval). Each test reads the raw logs on its own.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from clikit import compare_pair, import_store, rows_by_key, run_cli

from forgetmap.importers import SEED_BASE
from forgetmap.importers.inspect_logs import _member_bytes

FIX = Path(__file__).parent / "fixtures" / "importers"
SMOL, GEMMA = "models/smollm2-135m-instruct", "models/gemma3-270m"


# ---------------------------------------------------------------- inspect_ai
INS = FIX / "inspect_runs"


def _inspect_logs() -> list[tuple[Path, dict, list[dict]]]:
    """(file, header, samples) of every log in the fixture, read here without the importer."""
    out = []
    for f in sorted(INS.iterdir()):
        if f.suffix == ".eval":
            with zipfile.ZipFile(f) as zf:
                names = zf.namelist()
                head = "header.json" if "header.json" in names else "_journal/start.json"
                header = json.loads(_member_bytes(zf, f, head))
                samples = [
                    json.loads(_member_bytes(zf, f, n))
                    for n in names
                    if n.startswith("samples/") and n.endswith(".json")
                ]
        else:
            body = json.loads(f.read_text())
            header, samples = body, body.get("samples") or []
        out.append((f, header, samples))
    return out


def _pick(model_part: str, seed, status="success", fmt=".eval", scorers=1):
    for f, h, s in _inspect_logs():
        ev = h["eval"]
        if (
            model_part in ev["model"]
            and ev["model_generate_config"].get("seed") == seed
            and h.get("status", "started") == status
            and f.suffix == fmt
            and len(ev.get("scorers") or [None]) == scorers
        ):
            return f, h, s
    raise AssertionError(f"no fixture log {model_part} seed={seed} {status} {fmt}")


def test_inspect_epoch_labels_never_collide(tmp_path, capsys):
    """issue 15 item 2: a --seed 7 run (epochs 2) and a --seed 8 run (epochs 2) of one model get
    labels 7, 7+10^10 and 8, 8+10^10 - no shared label, so both import side by side - and the
    same command on the other model pairs with the first on both epochs (cells = raw count)."""
    f7, _, s7 = _pick("smollm2", 7)
    f8, _, s8 = _pick("smollm2", 8)
    g7, _, gs7 = _pick("gemma3", 7, fmt=".json")
    logs = tmp_path / "logs"
    logs.mkdir()
    for f in (f7, f8, g7):
        shutil.copy(f, logs / f.name)
    res = tmp_path / "res"
    store, err = import_store(capsys, res, "inspect", logs)
    smol = rows_by_key(store, f"hf/{SMOL}")
    assert sorted({k[2] for k in smol}) == [7, 8, SEED_BASE + 7, SEED_BASE + 8]
    assert len(smol) == len(s7) + len(s8) == 32
    for s in s7 + s8:
        seed = 7 if s in s7 else 8
        r = smol[("arc_mini", str(s["id"]), (s["epoch"] - 1) * SEED_BASE + seed)]
        assert r["correct"] is (s["scores"]["choice"]["value"] == "C")
        assert r["extract_rule"] == "inspect:logged:choice"
    pair, _ = compare_pair(capsys, res, f"hf/{GEMMA}", f"hf/{SMOL}", tmp_path)
    cells = {(c["task"], c["seed"]): c for c in pair["cells"]}
    assert sorted(s for _, s in cells) == [7, SEED_BASE + 7]
    pre = {(str(s["id"]), s["epoch"]): s["scores"]["choice"]["value"] == "C" for s in gs7}
    post = {(str(s["id"]), s["epoch"]): s["scores"]["choice"]["value"] == "C" for s in s7}
    for epoch in (1, 2):
        keys = [k for k in pre if k[1] == epoch]
        c = cells[("arc_mini", (epoch - 1) * SEED_BASE + 7)]
        assert c["n"] == len(keys) == 8
        assert c["n10"] == sum(pre[k] and not post[k] for k in keys)
        assert c["n01"] == sum(post[k] and not pre[k] for k in keys)
    assert "7 (repeats 0-1)" in err and "8 (repeats 0-1)" in err


def test_inspect_unseeded_run_is_labelled_0_and_said(tmp_path, capsys):
    """issue 15 item 3: one rule for every importer: a run without a sampling seed is labelled
    0 and the import says so (inspect and lighteval alike, see the lighteval test)."""
    f, h, samples = _pick("gemma3", None)
    store, err = import_store(capsys, tmp_path / "res", "inspect", f)
    rows = rows_by_key(store, f"hf/{GEMMA}")
    assert {k[2] for k in rows} == {0} and len(rows) == len(samples)
    assert "records no sampling seed" in err and "labelled as seed 0" in err
    man = store.read_manifest(f"hf/{GEMMA}", store.runs(f"hf/{GEMMA}")[0])
    assert man["seed_source"].startswith("none recorded")
    assert man["seeds_recorded"] == {"model_generate_config.seed": None}


def test_inspect_same_eval_in_two_formats_imported_once(tmp_path, capsys):
    """issue 15 item 4: the .eval and its `inspect log convert` .json (one eval_id) are one run:
    once in one import, and skipped when the other format was imported before."""
    f7, h7, _ = _pick("smollm2", 7)
    conv = INS / (f7.stem + ".json")
    assert (
        conv.exists() and json.loads(conv.read_text())["eval"]["eval_id"] == h7["eval"]["eval_id"]
    )
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(f7, both / f7.name)
    shutil.copy(conv, both / conv.name)
    store, err = import_store(capsys, tmp_path / "r1", "inspect", both)
    assert len(store.runs(f"hf/{SMOL}")) == 1 and len(rows_by_key(store, f"hf/{SMOL}")) == 16
    assert "the same inspect eval" in err and "imported once" in err
    res = tmp_path / "r2"
    import_store(capsys, res, "inspect", f7)
    store, err = import_store(capsys, res, "inspect", conv)
    assert len(store.runs(f"hf/{SMOL}")) == 1 and "same source run is already stored" in err
    store, err = import_store(capsys, res, "inspect", conv, "--force")  # replaces, still one run
    assert len(store.runs(f"hf/{SMOL}")) == 1 and len(rows_by_key(store, f"hf/{SMOL}")) == 16


def test_inspect_bad_logs_do_not_stop_a_folder(tmp_path, capsys):
    """issue 15 item 5: an errored and a cancelled log beside a finished one: the finished one
    is imported, both others listed with their reasons; only bad logs -> exit 2; --strict."""
    err_log, h_err, _ = _pick("smollm2", 7, status="error")
    cancelled, h_can, _ = _pick("smollm2", 7, status="cancelled")
    good, _, good_samples = _pick("smollm2", 8)
    d = tmp_path / "logs"
    d.mkdir()
    for f in (err_log, cancelled, good):
        shutil.copy(f, d / f.name)
    store, err = import_store(capsys, tmp_path / "r", "inspect", d)
    assert len(rows_by_key(store, f"hf/{SMOL}")) == len(good_samples)
    assert err.count(f"refused {d}") == 2 and "2 log(s) refused" in err
    assert "status 'error'" in err and "deliberate failure" in err
    assert "status 'cancelled'" in err
    (d / good.name).unlink()
    code, err = run_cli(capsys, "import", "inspect", d, "--results", tmp_path / "r2")
    assert code == 2 and "nothing importable: 2 logs refused" in err
    shutil.copy(good, d / good.name)
    code, err = run_cli(capsys, "import", "inspect", d, "--results", tmp_path / "r3", "--strict")
    assert code == 2 and "did not finish" in err and not (tmp_path / "r3").exists()


def test_inspect_scorer_is_visible(tmp_path, capsys):
    """issue 15 item 6: a log with two scorers: the first by default, --scorer the other; the
    summary names it and the records carry it."""
    f, h, samples = _pick("smollm2", 7, fmt=".json", scorers=2)
    names = [s["name"] for s in h["eval"]["scorers"]]
    assert names == ["choice", "includes"]
    store, err = import_store(capsys, tmp_path / "a", "inspect", f)
    assert {r["extract_rule"] for r in rows_by_key(store, f"hf/{SMOL}").values()} == {
        "inspect:logged:choice"
    }
    assert "choice" in err
    store, err = import_store(capsys, tmp_path / "b", "inspect", f, "--scorer", "includes")
    rows = rows_by_key(store, f"hf/{SMOL}")
    for s in samples:
        r = rows[("arc_mini", str(s["id"]), 7)]
        assert r["correct"] is (s["scores"]["includes"]["value"] == "C")
        assert r["extract_rule"] == "inspect:logged:includes"
    assert "includes" in err


def test_inspect_compare_scorer_and_seed_messages(tmp_path, capsys):
    """issue 15 items 2 and 6 in compare: a seeded run against an unseeded one has no items in
    common and the error says they share no seed; two sides scored by different inspect
    scorers (SmolLM2 --scorer includes, Gemma choice) get a warning naming both."""
    seeded, _, _ = _pick("smollm2", 7, fmt=".json", scorers=2)
    unseeded, _, _ = _pick("gemma3", None)
    res = tmp_path / "res"
    import_store(capsys, res, "inspect", seeded, "--scorer", "includes")
    import_store(capsys, res, "inspect", unseeded)
    code, err = run_cli(capsys, "compare", "--results", res, "--before", f"hf/{GEMMA}",
                     "--after", f"hf/{SMOL}")  # fmt: skip
    assert code == 2 and "no items in common" in err and "They share no seed" in err
    assert f"hf/{GEMMA} has seeds 0," in err and f"hf/{SMOL} has 7" in err
    g7, _, _ = _pick("gemma3", 7, fmt=".json")
    import_store(capsys, res, "inspect", g7)
    pair, err = compare_pair(capsys, res, f"hf/{GEMMA}", f"hf/{SMOL}", tmp_path)
    ws = [w for w in pair["warnings"] if "scored differently" in w]
    assert len(ws) == 1 and "inspect:logged:includes" in ws[0] and "inspect:logged:choice" in ws[0]
    assert [c["seed"] for c in pair["cells"]] == [7]  # epoch 1 of both --seed 7 runs pairs
