"""forgetmap report: tables, figures and the report build.

Records are written through the real ResultsStore from real benchmark items (shared/data via the
suite loaders); only the models' answers are simulated (seeded draws with known accuracies),
because running four real models for every report test would take minutes. Every number in the
report comes from the real `forgetmap.analysis.compare.compare` on those records.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore

TASKS = (
    "commonsense_qa:validation",
    "bbh:sports_understanding",
    "bbh:navigate",
    "mmlu:global_facts",
    "social_iqa:validation",
    "mmlu:abstract_algebra",
    "mmlu:anatomy",
)
SEEDS = (0, 1, 2)
N_ITEMS = 24
XSS = "<script>alert(1)</script>"
# (before, after, accuracy before, accuracy after): two sizes of one family, for the size figure
PAIRS = (
    ("toy-org/Toy-1B", "toy-org/Toy-1B-Instruct", 0.55, 0.60),
    ("toy-org/Toy-3B", "toy-org/Toy-3B-Instruct", 0.70, 0.62),
)


def _answers(tasks, items, acc, rng, model, seed) -> dict[str, list]:
    """One model's records for one seed: correct with probability `acc`; a quarter of the wrong
    answers are format failures (`no_answer`)."""
    n = len(items)
    correct = rng.random(n) < acc
    no_answer = (~correct) & (rng.random(n) < 0.25)
    pick = rng.integers(0, 1000, n)
    preds, statuses, responses = [], [], []
    for i, it in enumerate(items):
        if correct[i]:
            p = it.gold
        elif no_answer[i]:
            p = None
        else:
            others = [chr(65 + j) for j in range(len(it.choices)) if chr(65 + j) != it.gold]
            p = others[pick[i] % len(others)]
        preds.append(p)
        statuses.append("no_answer" if p is None else "ok")
        responses.append(f"Thinking step by step.\n{'Answer: ' + p if p else 'Not sure.'}")
    return {
        "model": [model] * n,
        "task": list(tasks),
        "item_id": [it.item_id for it in items],
        "seed": [seed] * n,
        "n_choices": [len(it.choices) for it in items],
        "gold": [it.gold for it in items],
        "pred": preds,
        "extract_status": statuses,
        "correct": correct.tolist(),
        "response": responses,
        "question": [it.question for it in items],
        "choices": [list(it.choices) for it in items],
        "elicitation": ["cot_chat"] * n,
        "prompt_hash": ["h-" + it.item_id for it in items],
    }


def make_store(root: Path, pairs=PAIRS, tasks=TASKS) -> tuple[ResultsStore, list[tuple[str, str]]]:
    """A results dir with every model of `pairs` on `tasks` × SEEDS, items from shared/data.

    Item 0 flips 1→0 on every seed of the first pair, and its after-response carries a script
    tag: the report must list it (most-flipped first) and escape it.
    """
    from forgetmap.suite.loaders import load_items

    items, task_of = [], []
    for task in tasks:
        got = load_items(task, limit=N_ITEMS)
        items += got
        task_of += [task] * len(got)
    store = ResultsStore(root)
    rng = np.random.default_rng(7)
    gold0 = items[0].gold
    wrong0 = "A" if gold0 != "A" else "B"
    for before, after, acc_b, acc_a in pairs:
        for model, acc in ((before, acc_b), (after, acc_a)):
            for seed in SEEDS:
                cols = _answers(task_of, items, acc, rng, model, seed)
                if model == pairs[0][0]:
                    cols["correct"][0], cols["pred"][0], cols["extract_status"][0] = (
                        True,
                        gold0,
                        "ok",
                    )
                if model == pairs[0][1]:
                    cols["correct"][0], cols["pred"][0], cols["extract_status"][0] = (
                        False,
                        wrong0,
                        "ok",
                    )
                    cols["response"][0] = f"I will answer now {XSS} Answer: {wrong0}"
                store.append(pa.table(cols), model, run_id=f"run-s{seed}")
    return store, [(b, a) for b, a, _, _ in pairs]


# test_html.py imports these fixtures; the memo makes both modules share one build per session
_MEMO: dict[str, object] = {}


@pytest.fixture(scope="session")
def study(tmp_path_factory, data_dir):
    """(store, pairs, comparison from the real compare)."""
    from forgetmap.analysis.compare import compare

    if "study" not in _MEMO:
        store, pairs = make_store(tmp_path_factory.mktemp("results"))
        _MEMO["study"] = (store, pairs, compare(store, pairs, bootstrap=200).to_dict())
    return _MEMO["study"]


GROUPS = {"Toy instruction tuning": [(b, a) for b, a, _, _ in PAIRS]}


@pytest.fixture(scope="session")
def built(study, tmp_path_factory):
    """The full report of the study, built once (path of report.html)."""
    from forgetmap.report.build import build_report

    if "built" not in _MEMO:
        store, _, comparison = study
        out = tmp_path_factory.mktemp("report")
        _MEMO["built"] = build_report(comparison, store, out, groups=GROUPS, title="Toy study")
    return _MEMO["built"]


def _relabelled(comparison: dict, n: int) -> dict:
    """`n` pairs made from the real ones by renaming (values untouched): for width tests."""
    src = comparison["pairs"]
    out = []
    for i in range(n):
        p = copy.deepcopy(src[i % len(src)])
        p["before"], p["after"] = f"org/Base-{i}", f"org/Tuned_{i}&co"
        out.append(p)
    return {**comparison, "pairs": out}


# -- tables ----------------------------------------------------------------------------------------
CELL = re.compile(r"^(\d+\.\d) ± (\d+\.\d)(†?) \((\d+\.\d)\)$")


def _expect(block: dict, metric: str, acc: str) -> tuple[float, float, float]:
    return (
        round(block[metric]["mean"] * 100, 1),
        round(block[metric]["std"] * 100, 1),
        round(block[acc]["mean"] * 100, 1),
    )


@pytest.mark.parametrize(
    ("metric", "bracket", "acc"),
    [
        ("F_true", "ceiling", "F_max"),  # the study's tables: the ceiling in brackets
        ("BT_true", "ceiling", "BT_max"),
        ("F_true", "accuracy", "acc_pre"),
        ("BT_true", "accuracy", "acc_post"),
    ],
)
def test_table_cells_equal_comparison_values(study, metric, bracket, acc):
    from forgetmap.analysis.results import TOTAL, CategorySummary
    from forgetmap.report.model import build_model
    from forgetmap.report.tables import build_parts

    _, _, comparison = study
    model = build_model(comparison, GROUPS)
    parts = build_parts(model, metric, bracket=bracket)
    assert f"± std over seeds ({acc})" in parts[0].caption
    assert len(parts) == 1
    part = parts[0]
    cats = set(comparison["pairs"][0]["categories"])
    assert set(part.rows) == cats | {TOTAL} and part.rows[-1] == TOTAL
    assert len(cats) == 7  # one category per task here
    checked = 0
    for j, pair in enumerate(comparison["pairs"]):
        for i, row in enumerate(part.rows):
            block = pair["total"] if row == TOTAL else pair["categories"][row]
            m = CELL.match(part.cells[i][j])
            assert m, part.cells[i][j]
            got = tuple(float(x) for x in m.group(1, 2, 4))
            assert got == pytest.approx(_expect(block, metric, acc), abs=0.051)
            # † exactly where the comparison says the value is not distinguishable from noise
            summary = CategorySummary.from_dict(block)
            assert (m.group(3) == "†") == (summary.distinguishable(metric) is False)
            checked += 1
    assert checked == 2 * 8


def test_tables_split_into_parts_of_at_most_four_columns(study):
    from forgetmap.report.model import build_model
    from forgetmap.report.tables import build_parts, to_csv, to_markdown

    wide = _relabelled(study[2], 9)
    model = build_model(wide)
    parts = build_parts(model, "F_true")
    assert [len(p.pairs) for p in parts] == [4, 4, 1]
    assert [p.part for p in parts] == [1, 2, 3] and {p.n_parts for p in parts} == {3}
    assert [p.after for part in parts for p in part.pairs] == [p["after"] for p in wide["pairs"]]
    md = to_markdown(parts)
    header_lines = [ln for ln in md.splitlines() if ln.startswith("| Category")]
    assert [ln.count(" | ") for ln in header_lines] == [4, 4, 1]
    # CSV has no page width: the whole table in one, pairs as columns
    rows = list(csv.reader(io.StringIO(to_csv(model, "F_true"))))
    assert len(rows[0]) == 1 + 9 and rows[-1][0] == "Total"
    assert rows[1][1:5] == parts[0].cells[0] and rows[1][9] == parts[2].cells[0][0]


def test_latex_is_structurally_valid_booktabs(study):
    from forgetmap.report.model import build_model
    from forgetmap.report.tables import build_parts, to_latex

    wide = _relabelled(study[2], 6)
    tex = to_latex(build_parts(build_model(wide), "BT_true"))
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 2
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 2
    for env in re.findall(r"\\begin\{tabular\}\{(l c*)\}(.*?)\\end\{tabular\}", tex, re.S):
        spec, body = env
        ncols = len(spec)
        assert body.count(r"\toprule") == 1 and body.count(r"\bottomrule") == 1
        assert body.index(r"\toprule") < body.index(r"\midrule") < body.index(r"\bottomrule")
        rows = [ln for ln in body.splitlines() if ln.endswith(r"\\")]
        assert len(rows) == 2 + 7 + 1  # two header rows, categories, Total
        for ln in rows:
            assert len(re.findall(r"(?<!\\)&", ln)) == ncols - 1, ln
    # special characters of model ids are escaped; braces balance
    assert r"Tuned\_0\&co" in tex and "Tuned_0" not in tex
    assert tex.count("{") - tex.count(r"\{") == tex.count("}") - tex.count(r"\}")
    assert r"$\pm$" in tex and "±" not in tex


def test_per_task_csvs_hold_every_metric_pvalues_and_cis(built, study):
    _, _, comparison = study
    tables = built.parent / "tables"
    with open(tables / "per_task_seed.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [c for p in comparison["pairs"] for c in p["cells"]]
    assert len(rows) == len(cells) == 2 * len(TASKS) * len(SEEDS)
    for col in (
        "n00",
        "n01",
        "n10",
        "n11",
        "F_true",
        "BT_true",
        "F_max",
        "p_mcnemar",
        "ci_F_true_lo",
        "ci_F_true_hi",
        "ci_BT_true_lo",
        "ci_acc_change_hi",
    ):
        assert col in rows[0], col
    first = comparison["pairs"][0]["cells"][0]
    r0 = rows[0]
    assert (r0["task"], int(r0["seed"])) == (first["task"], first["seed"])
    assert float(r0["p_mcnemar"]) == pytest.approx(first["p_mcnemar"])
    assert float(r0["ci_F_true_hi"]) == pytest.approx(first["ci"]["F_true"][1])
    with open(tables / "per_task.csv", newline="") as fh:
        pooled = list(csv.DictReader(fh))
    assert len(pooled) == 2 * len(TASKS)
    assert {"pooled_p_mcnemar", "F_true_mean", "F_true_std"} <= set(pooled[0])
    for f in ("forgetting", "backward_transfer"):
        for ext in ("tex", "md", "csv"):
            assert (tables / f"{f}.{ext}").stat().st_size > 200


# -- figures ---------------------------------------------------------------------------------------
def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_figures_written_as_png_and_svg(built):
    figs = built.parent / "figures"
    stems = {p.stem for p in figs.glob("*.png")}
    assert stems == {
        "radar_toy_instruction_tuning",
        "map_toy_instruction_tuning",
        "conventional_toy_instruction_tuning",
        "size_scaling",
    }
    for stem in stems:
        png = figs / f"{stem}.png"
        w, h = _png_size(png)
        assert w > 1200 and h > 600, (stem, w, h)  # 300 dpi
        assert png.stat().st_size > 30_000
        svg = (figs / f"{stem}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
        assert (figs / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
    # the plotly page (interactive extra): self-contained, one figure per radar/map
    page = (figs / "interactive.html").read_text()
    assert page.count("Plotly.newPlot") == 2
    assert not re.search(r"<script[^>]*\ssrc=", page)
    # hollow markers and daggers where a value is not distinguishable from noise, CIs on hover
    assert "circle-open" in page and "95% CI [" in page
    assert "†" in page or "\\u2020" in page  # plotly writes its JSON ASCII-escaped


def test_figure_pixels_are_not_blank(built):
    import matplotlib.image as mpimg

    img = mpimg.imread(built.parent / "figures" / "radar_toy_instruction_tuning.png")
    rgb = img[..., :3]
    non_white = (rgb < 0.95).any(axis=-1).mean()
    assert 0.03 < non_white < 0.6
    # the two pairs' trace colours (Okabe-Ito blue and vermillion) are both drawn
    for colour in ((0x00, 0x72, 0xB2), (0xD5, 0x5E, 0x00)):
        target = np.array(colour) / 255
        assert (np.abs(rgb - target).max(axis=-1) < 0.03).sum() > 500


def test_size_figure_needs_two_sizes_and_radar_needs_three_categories(study, tmp_path):
    from forgetmap.report.figures import write_figures
    from forgetmap.report.model import build_model

    comparison = copy.deepcopy(study[2])
    comparison["pairs"] = comparison["pairs"][:1]
    pair = comparison["pairs"][0]
    pair["categories"] = {k: pair["categories"][k] for k in ("Logic", "Math")}
    result = write_figures(build_model(comparison), tmp_path, formats=("png",))
    stems = sorted(p.stem for p in result.files)
    assert stems == ["bars_all_pairs", "conventional_all_pairs", "map_all_pairs"]
    assert any("Size figure skipped" in n for n in result.notes)


def _renamed(study, pairs):
    """The study's comparison document with its first pair's numbers under other model ids."""
    import copy

    doc = copy.deepcopy(study[2])
    doc["pairs"] = [dict(doc["pairs"][0], before=b, after=a) for b, a in pairs]
    return doc


def test_parse_size_and_families(study):
    from forgetmap.report.model import build_model
    from forgetmap.report.sizes import parse_size, size_families

    assert parse_size("Qwen/Qwen2.5-1.5B-Instruct") == 1.5e9
    assert parse_size("google/gemma-3-270m-it") == 2.7e8
    assert parse_size("meta-llama/Llama-3.1-8B") == 8e9
    assert parse_size("nvidia/OpenCodeReasoning-Nemotron-1.1-7B") == 7e9
    assert parse_size("GAIR/LIMO") is None
    assert parse_size("mistralai/Mixtral-8x7B") is None
    pairs = [
        ("Qwen/Qwen2.5-3B", "Qwen/Qwen2.5-3B-Instruct"),
        ("Qwen/Qwen2.5-14B", "Qwen/Qwen2.5-14B-Instruct"),
        ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"),
        ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-Coder-7B"),
        ("Qwen/Qwen2.5-32B-Instruct", "GAIR/LIMO"),
    ]
    model = build_model(_renamed(study, pairs))
    fams = size_families(model.pairs)
    assert list(fams) == ["Qwen2.5-{size} → Qwen2.5-{size}-Instruct"]
    assert [s for s, _ in fams["Qwen2.5-{size} → Qwen2.5-{size}-Instruct"]] == [3e9, 7e9, 14e9]


# -- model / errors --------------------------------------------------------------------------------
def test_group_with_unknown_pair_is_a_clear_error(study):
    from forgetmap.report.model import build_model

    with pytest.raises(ForgetmapError, match=r"group 'g'.*a/x -> b/y"):
        build_model(study[2], {"g": [("a/x", "b/y")]})
    with pytest.raises(ForgetmapError, match="no pairs"):
        build_model({"pairs": [], "settings": study[2]["settings"]})


def test_labels_disambiguate_same_after_name(study):
    from forgetmap.report.model import build_model

    model = build_model(_renamed(study, [("q/A-7B", "q/M"), ("q/B-7B", "q/M")]))
    assert [p.label for p in model.pairs] == ["A-7B → M", "B-7B → M"]


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_report_with_pairs_file(study, tmp_path, capsys):
    from forgetmap.cli.main import main

    store, pairs, _ = study
    pf = tmp_path / "pairs.tsv"
    pf.write_text("# pairs\n" + "".join(f"{b}\t{a}\n" for b, a in pairs))
    out = tmp_path / "rep"
    code = main(
        [
            "report",
            "--results",
            str(store.root),
            "--pairs",
            str(pf),
            "--out",
            str(out),
            "--no-interactive",
            "--formats",
            "png",
            "--max-items",
            "5",
            "--bootstrap",
            "50",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in printed
    html = (out / "report.html").read_text()
    assert "Showing the 5 items flipped the same way on the most seeds" in html
    # consistent flips first: the item forgotten on all three seeds is among the five shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    items = sorted((out / "items").glob("*.csv"))
    assert len(items) == 2
    with open(items[0], newline="") as fh:
        listed = list(csv.DictReader(fh))
    assert len({(r["task"], r["item_id"]) for r in listed}) > 5  # the CSV has all of them
    assert any(XSS in (r["response_after"] or "") for r in listed)  # full text kept in the CSV


def test_cli_report_errors(study, tmp_path, capsys):
    from forgetmap.cli.main import main

    store, _, _ = study
    bad = tmp_path / "pairs.tsv"
    bad.write_text("toy-org/Toy-1B toy-org/Toy-1B-Instruct\n")
    assert (
        main(
            [
                "report",
                "--results",
                str(store.root),
                "--pairs",
                str(bad),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "before<TAB>after" in capsys.readouterr().err
    assert main(["report", "--results", str(store.root), "--out", str(tmp_path / "o")]) == 2
    assert "--pairs" in capsys.readouterr().err
    missing = tmp_path / "p2.tsv"
    missing.write_text("toy-org/Toy-1B\tnobody/Nothing\n")
    assert (
        main(
            [
                "report",
                "--results",
                str(store.root),
                "--pairs",
                str(missing),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "nobody/Nothing" in capsys.readouterr().err


def test_single_seed_tables_have_no_std(study):
    import pyarrow.compute as pc

    from forgetmap.analysis.compare import compare
    from forgetmap.report.model import build_model
    from forgetmap.report.tables import build_parts

    store, pairs, _ = study
    table = store.read()
    one = compare(table.filter(pc.equal(table.column("seed"), 0)), pairs, bootstrap=0).to_dict()
    part = build_parts(build_model(one), "F_true")[0]
    for row, cells in zip(part.rows, part.cells, strict=True):
        for j, cell in enumerate(cells):
            pair = one["pairs"][j]
            block = pair["total"] if row == "Total" else pair["categories"][row]
            assert block["F_true"]["std"] is None
            assert (
                cell == f"{block['F_true']['mean'] * 100:.1f} ({block['F_max']['mean'] * 100:.1f})"
            )


def test_cli_report_from_saved_comparison(study, tmp_path, capsys):
    """--comparison reuses a compare --json; a pair the results dir lacks loses only its listing."""
    import json

    from forgetmap.cli.main import main

    store, _, comparison = study
    saved = copy.deepcopy(comparison)
    saved["pairs"][1]["before"], saved["pairs"][1]["after"] = "elsewhere/A-1B", "elsewhere/B-1B"
    cj = tmp_path / "cmp.json"
    cj.write_text(json.dumps(saved))
    out = tmp_path / "rep"
    args = ["report", "--comparison", str(cj), "--results", str(store.root), "--out", str(out)]
    assert main([*args, "--no-interactive", "--formats", "png"]) == 0
    captured = capsys.readouterr()
    assert "elsewhere/A-1B" in captured.err  # the warning names the pair
    html = (out / "report.html").read_text()
    assert "A-1B → B-1B: no item listing" in html
    assert html.count('class="drill"') == 1
    assert json.loads((out / "comparison.json").read_text()) == saved


STUDY_YAML = """
name: toy
title: Toy study from a config
backend: hf
model_sets:
  base: {kind: base, models: [toy-org/Toy-1B, toy-org/Toy-3B]}
  tuned: {kind: post, models: [toy-org/Toy-1B-Instruct, toy-org/Toy-3B-Instruct, toy-org/Toy-9B]}
groups:
  small:
    title: Instruction tuning (1B)
    pairs: [toy-org/Toy-1B -> toy-org/Toy-1B-Instruct]
  large:
    title: Instruction tuning (3B)
    pairs: [toy-org/Toy-3B -> toy-org/Toy-3B-Instruct, toy-org/Toy-1B -> toy-org/Toy-9B]
"""


def test_cli_report_with_study_config(study, tmp_path, capsys):
    """--study: the config's groups (titles) become the report's; unevaluated pairs are named."""
    from forgetmap.cli.main import main

    store = study[0]
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(STUDY_YAML)
    out = tmp_path / "rep"
    base = [
        "report",
        "--results",
        str(store.root),
        "--study",
        str(cfg),
        "--no-interactive",
        "--formats",
        "png",
    ]
    assert main([*base, "--out", str(out), "--bootstrap", "50"]) == 0
    assert "toy-org/Toy-1B -> toy-org/Toy-9B" in capsys.readouterr().err
    stems = sorted(p.stem for p in (out / "figures").glob("radar_*.png"))
    assert stems == ["radar_instruction_tuning_1b", "radar_instruction_tuning_3b"]
    html = (out / "report.html").read_text()
    assert "<h1>Toy study from a config</h1>" in html
    tex = (out / "tables" / "forgetting.tex").read_text()
    assert "Instruction tuning (1B)" in tex and "Instruction tuning (3B)" in tex
    # a saved comparison with the study's groups; a file that is not one is named
    saved = ["--comparison", str(out / "comparison.json"), "--formats", "png"]
    assert main([*base, *saved, "--out", str(tmp_path / "rep3")]) == 0
    assert "toy-org/Toy-1B -> toy-org/Toy-9B" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[]")
    bad = ["report", "--comparison", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x")]
    assert main(bad) == 2
    assert "not a `forgetmap compare --json` file" in capsys.readouterr().err
    # --group takes one group
    out2 = tmp_path / "rep2"
    assert main([*base, "--group", "small", "--out", str(out2), "--bootstrap", "50"]) == 0
    assert sorted(p.stem for p in (out2 / "figures").glob("radar_*.png")) == [
        "radar_instruction_tuning_1b"
    ]
    assert main([*base, "--group", "nope", "--out", str(out2)]) == 2
    assert "no group or model set named 'nope'" in " ".join(capsys.readouterr().err.split())
    # the paper study has no results here: a clear error, not an empty report
    paper = Path(__file__).resolve().parents[1] / "configs" / "studies" / "paper.yaml"
    args = ["report", "--results", str(store.root), "--study", str(paper), "--out", str(out2)]
    assert main(args) == 2
    assert "none of the study's pairs has results" in " ".join(capsys.readouterr().err.split())


def test_report_on_imported_lm_eval_logs(tmp_path, capsys):
    """`forgetmap report` on real lm-eval logs (tests/fixtures/importers: lm-eval really run on
    Gemma-3-270M and SmolLM2-135M-Instruct), one SmolLM2 response given a script tag first."""
    import json
    import shutil

    from forgetmap.cli.main import main

    fixture = Path(__file__).parent / "fixtures" / "importers" / "lm_eval"
    logs = tmp_path / "lm_eval"
    shutil.copytree(fixture, logs)
    (samples,) = (logs / "seed0").glob("*smollm2*/samples_arc_mini_gen_*.jsonl")
    lines = samples.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["doc_id"] == 0 and first["filtered_resps"] == ["A"]  # correct; gemma is not
    first["resps"] = [[first["resps"][0][0] + " " + XSS]]
    samples.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")

    res = tmp_path / "res"
    assert main(["import", "lm-eval", str(logs), "--results", str(res)]) == 0
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("models/gemma3-270m\tmodels/smollm2-135m-instruct\n")
    out = tmp_path / "report"
    args = ["report", "--results", str(res), "--pairs", str(pairs), "--out", str(out)]
    assert main([*args, "--formats", "png,pdf"]) == 0
    # compare's warnings (the two models saw different chat templates) are printed plainly
    assert "prompt_hash differs" in capsys.readouterr().err
    for stem in ("forgetting", "backward_transfer"):
        for ext in ("tex", "md", "csv"):
            assert (out / "tables" / f"{stem}.{ext}").stat().st_size > 100
    # two categories (the two lm-eval tasks): bars instead of a radar, plus map and Figure 10
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert pngs == ["bars_all_pairs.png", "conventional_all_pairs.png", "map_all_pairs.png"]
    assert sorted(p.stem for p in (out / "figures").glob("*.pdf")) == [p[:-4] for p in pngs]
    assert not list((out / "figures").glob("*.svg"))  # only the formats asked for
    assert main([*args, "--formats", "png,gif"]) == 2
    assert "unknown figure format(s) gif" in capsys.readouterr().err
    html = (out / "report.html").read_text()
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A) cellular" in html  # the real response text is shown
    md = (out / "tables" / "forgetting.md").read_text()
    assert "smollm2-135m-instruct (from models/gemma3-270m)" in md


def test_many_pairs_split_over_several_radar_figures(study, tmp_path):
    from forgetmap.report.figures import MAX_TRACES, write_figures
    from forgetmap.report.model import build_model

    wide = _relabelled(study[2], MAX_TRACES + 1)
    result = write_figures(build_model(wide), tmp_path, formats=("png",))
    assert sorted(p.stem for p in result.files) == [
        "conventional_all_pairs_1",
        "conventional_all_pairs_2",
        "map_all_pairs",
        "radar_all_pairs_1",
        "radar_all_pairs_2",
    ]
    assert "(2/2)" in result.captions[tmp_path / "radar_all_pairs_2.png"]


def test_radar_on_the_studys_fixed_scale(study):
    from forgetmap.errors import ForgetmapError
    from forgetmap.report.figures import radar_figure
    from forgetmap.report.model import build_model

    model = build_model(study[2], GROUPS)
    group = next(iter(model.groups))
    pairs, cats = model.groups[group], model.group_categories(group)
    fixed = radar_figure(pairs, cats, "t", scale="study")
    for ax in fixed.axes[:2]:  # forgetting and backward transfer panels
        assert ax.get_ylim() == (0.0, 50.0)
        assert list(ax.get_yticks()) == [15.0, 30.0, 45.0]
    auto = radar_figure(pairs, cats, "t")
    assert auto.axes[0].get_ylim() != (0.0, 50.0) or auto.axes[1].get_ylim() != (0.0, 50.0)
    with pytest.raises(ForgetmapError, match="--radar-scale must be one of auto, study"):
        radar_figure(pairs, cats, "t", scale="big")
