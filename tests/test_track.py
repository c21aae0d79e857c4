"""`forgetmap track` on a real LoRA run of SmolLM2-135M-Instruct (tests/trainkit.py): curve files
from log-likelihood probes on real ARC-Easy/PIQA/HellaSwag items, resume, half-written
checkpoints, the store-only curve, and bad --checkpoints."""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from trainkit import cached_run

from forgetmap.cli.main import main
from forgetmap.records import ResultsStore
from forgetmap.track.checkpoints import discover
from forgetmap.track.naming import checkpoint_model_name
from forgetmap.track.run import run_track

pytestmark = pytest.mark.slow

TASKS = "arc:easy,piqa:validation,hellaswag:validation"
PROBE = dict(tasks=TASKS, seeds=(0, 1), limit=6, elicitation="loglik", progress=False)


@pytest.fixture(scope="session")
def lora_run(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base HF dir, Trainer output dir with checkpoint-2/4/6): trained once, cached beside
    pytest's temp folders (or in $FORGETMAP_TRAINKIT_CACHE), copied for this session."""
    cache = os.environ.get("FORGETMAP_TRAINKIT_CACHE")
    root = Path(cache) if cache else tmp_path_factory.getbasetemp().parent / "forgetmap-trainkit"
    root.mkdir(parents=True, exist_ok=True)
    return cached_run(smollm2_gguf, root, tmp_path_factory.mktemp("trainkit"))


@pytest.fixture(scope="module")
def tracked(lora_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    base, run = lora_run
    work = tmp_path_factory.mktemp("track")
    results = work / "results"
    first = run_track(
        str(base), run, results=results, out=work / "out", run_name="sft", base_name="base",
        settle_s=0.0, **PROBE,
    )  # fmt: skip
    return base, run, results, work, first


def test_track_writes_curve_files(tracked) -> None:
    base, run, results, work, r = tracked
    out = work / "out"
    assert r.steps == [2, 4, 6] and r.models == [checkpoint_model_name("sft", s) for s in r.steps]
    assert [s.model for s in r.evaluations] == ["base", "sft/step-2", "sft/step-4", "sft/step-6"]
    # every model evaluated: 3 tasks x 6 items x 2 seeds
    assert all(s.n_written == 36 for s in r.evaluations)
    for name in ("curve.csv", "curve.png", "curve.svg", "items_first_forgotten.csv", "index.html"):
        assert (out / name).stat().st_size > 0, name
    curve = pacsv.read_csv(out / "curve.csv").to_pylist()
    assert sorted({row["step"] for row in curve}) == [2, 4, 6]
    for step in (2, 4, 6):
        rows = {row["category"]: row for row in curve if row["step"] == step}
        assert "Total" in rows and len(rows) >= 2  # categories of ARC/PIQA/HellaSwag + Total
        pair = r.comparison.pair("base", f"sft/step-{step}")
        total = rows["Total"]
        assert total["F_true"] == pytest.approx(pair.total.F_true.mean)
        assert total["BT_true"] == pytest.approx(pair.total.BT_true.mean)
        assert total["acc_post"] == pytest.approx(pair.total.acc_post.mean)
        lo, hi = total["F_true_ci_low"], total["F_true_ci_high"]
        assert lo <= total["F_true"] <= hi
    html = (out / "index.html").read_text()
    assert "step 6" in html and "curve.csv" in html and "<script" not in html
    assert (out / "report" / "report.html").is_file()


def test_adapter_checkpoints_change_the_model(tracked) -> None:
    """The adapters are really applied: the trained model's option log-likelihoods differ from
    the base's (an ignored adapter would reproduce the base exactly)."""
    _, _, results, _, _ = tracked
    t = ResultsStore(results).read(columns=["model", "task", "item_id", "seed", "response"])
    by = defaultdict(dict)
    for row in t.to_pylist():
        by[row["model"]][(row["task"], row["item_id"], row["seed"])] = row["response"]
    assert by["base"].keys() == by["sft/step-6"].keys()
    changed = sum(by["base"][k] != by["sft/step-6"][k] for k in by["base"])
    assert changed == len(by["base"])  # every score moves after 6 steps at lr 5e-3


def test_first_forgotten_matches_a_direct_count(tracked) -> None:
    """items_first_forgotten.csv against a plain per-item reading of the records."""
    _, _, results, work, r = tracked
    t = ResultsStore(results).read(columns=["model", "task", "item_id", "correct"]).to_pylist()
    votes: dict = defaultdict(lambda: defaultdict(list))
    for row in t:
        votes[(row["task"], row["item_id"])][row["model"]].append(row["correct"])
    expected = {}
    for key, models in votes.items():
        share = {m: sum(v) / len(v) for m, v in models.items()}
        if share["base"] <= 0.5:
            continue
        wrong = [share[m] < 0.5 for m in r.models]
        for i in range(len(wrong)):
            if all(wrong[i:]):
                expected[key] = r.steps[i]
                break
    strings = pacsv.ConvertOptions(column_types={"item_id": pa.string()})
    csv = pacsv.read_csv(work / "out" / "items_first_forgotten.csv", convert_options=strings)
    got = {(row["task"], row["item_id"]): row["first_forgotten_step"] for row in csv.to_pylist()}
    assert got == expected


def test_rerun_skips_every_done_checkpoint_and_notes_half_written(tracked) -> None:
    base, run, results, work, first = tracked
    # training "still saving" checkpoint-8: weights truncated
    half = run / "checkpoint-8"
    shutil.copytree(run / "checkpoint-6", half)
    weights = half / "adapter_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    try:
        again = run_track(
            str(base), run, results=results, out=work / "out2", run_name="sft",
            base_name="base", settle_s=0.0, **PROBE,
        )  # fmt: skip
    finally:
        shutil.rmtree(half)
    assert again.n_written == 0 and all(s.n_written == 0 for s in again.evaluations)
    assert [s.n_skipped for s in again.evaluations] == [36] * 4
    assert again.steps == [2, 4, 6]
    assert len(again.notes) == 1 and "checkpoint-8" in again.notes[0]
    assert "truncated" in again.notes[0]
    assert again.curve.equals(first.curve)


def test_half_written_checkpoints_are_skipped_with_a_reason(lora_run, tmp_path: Path) -> None:
    _, run = lora_run
    root = tmp_path / "run"
    for step in (2, 4, 6, 8):
        shutil.copytree(run / f"checkpoint-{min(step, 6)}", root / f"checkpoint-{step}")
    (root / "checkpoint-4" / "trainer_state.json").unlink()
    (root / "checkpoint-6" / "adapter_model.safetensors").unlink()
    old = time.time() - 60
    for p in root.rglob("*"):
        os.utime(p, (old, old))
    (root / "checkpoint-8" / "trainer_state.json").touch()  # written just now
    found = discover(root, settle_s=5.0)
    assert [c.step for c in found.checkpoints] == [2]
    assert found.checkpoints[0].kind == "adapter"
    reasons = {p.name: why for p, why in found.skipped}
    assert "trainer_state.json" in reasons["checkpoint-4"]
    assert "no adapter weights" in reasons["checkpoint-6"]
    assert "still being written" in reasons["checkpoint-8"]


def test_store_only_mode_draws_the_same_curve(tracked) -> None:
    _, _, results, work, first = tracked
    again = run_track(
        results=results, out=work / "store_only", run_name="sft", base_name="base", progress=False
    )
    assert again.evaluations == [] and again.steps == [2, 4, 6]
    assert again.curve.equals(first.curve)
    assert (work / "store_only" / "curve.csv").read_text() == (
        work / "out" / "curve.csv"
    ).read_text()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "nope"), "no such directory or file"),
        (lambda d: str(d / "ckpt-*"), "matches no file or folder"),
        (lambda d: (d / "checkpoint-last").mkdir() or str(d), "integer step"),
        (lambda d: (d / "model.gguf").write_bytes(b"GGUF") and str(d), "no step in its name"),
    ],
)
def test_bad_checkpoints_is_one_line_exit_2(tmp_path: Path, capsys, make, message) -> None:
    spec = make(tmp_path)
    code = main(
        ["track", "--base", "smollm2-135m-instruct", "--checkpoints", spec, "--tasks", "piqa:validation",
         "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o")]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_gguf_files_with_a_step(smollm2_gguf: Path, tmp_path: Path, capsys) -> None:
    """Two GGUF 'checkpoints' (copies of the base GGUF) on llama.cpp, through the CLI: identical
    weights forget nothing."""
    ck = tmp_path / "ck"
    ck.mkdir()
    for step in (10, 20):
        shutil.copy(smollm2_gguf, ck / f"model-step-{step}.gguf")
        old = time.time() - 60
        os.utime(ck / f"model-step-{step}.gguf", (old, old))
    code = main(
        ["track", "--base", str(smollm2_gguf), "--base-name", "smol", "--checkpoints", str(ck),
         "--run-name", "copies", "--tasks", "piqa:validation", "--limit", "4", "--seeds", "0",
         "--backend", "llamacpp", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
         "--no-report", "--no-progress", "--bootstrap", "0"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = pacsv.read_csv(tmp_path / "o" / "curve.csv").to_pylist()
    totals = [r for r in rows if r["category"] == "Total"]
    assert [r["step"] for r in totals] == [10, 20]
    assert all(r["F_true"] == 0 and r["BT_true"] == 0 for r in totals)


def test_store_only_with_the_callbacks_base_name(tracked, tmp_path: Path) -> None:
    """The training callback stores the base as `<run>/step-0`: that is the base of the curve,
    not a checkpoint compared with itself."""
    _, _, results, _, first = tracked
    store = ResultsStore(tmp_path / "r")
    src = ResultsStore(results)
    for old, new in [("base", "sft/step-0"), *((m, m) for m in first.models)]:
        t = src.read(models=[old])
        t = t.set_column(t.schema.get_field_index("model"), "model", pa.array([new] * t.num_rows))
        store.write(t, new, "copy")
    r = run_track(
        results=tmp_path / "r", out=tmp_path / "o", run_name="sft", base_name="sft/step-0",
        progress=False, report=False,
    )  # fmt: skip
    assert r.steps == [2, 4, 6] and r.curve.equals(first.curve)


def test_watch_picks_up_a_new_checkpoint(
    smollm2_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--watch: a checkpoint written while the watch waits is evaluated on the next pass (and
    only it), the curve gains its step; Ctrl-C ends the watch with the last pass's outputs."""
    import forgetmap.track.run as track_run

    ck = tmp_path / "ck"
    ck.mkdir()

    def put(step: int) -> None:
        shutil.copy(smollm2_gguf, ck / f"model-step-{step}.gguf")
        old = time.time() - 60  # written a minute ago: settled
        os.utime(ck / f"model-step-{step}.gguf", (old, old))

    put(10)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the watch's wait: a checkpoint arrives, then Ctrl-C
        waits.append(seconds)
        if len(waits) == 1:
            put(20)
        elif len(waits) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(track_run.time, "sleep", sleep)
    r = run_track(
        str(smollm2_gguf), ck, results=tmp_path / "r", out=tmp_path / "o", run_name="copies",
        base_name="smol", tasks="piqa:validation", limit=2, seeds=(0,), backend="llamacpp",
        elicitation="loglik", watch=5.0, settle_s=0.0, bootstrap=0, report=False,
        progress=False,
    )  # fmt: skip
    assert waits == [5.0, 5.0, 5.0]
    assert r.steps == [10, 20]
    # the second pass evaluated the new checkpoint only (the base's records were all stored);
    # the third found nothing new and rewrote nothing
    assert [(e.model, e.n_written) for e in r.evaluations] == [("smol", 0), ("copies/step-20", 2)]
    rows = pacsv.read_csv(tmp_path / "o" / "curve.csv").to_pylist()
    assert sorted({row["step"] for row in rows}) == [10, 20]
