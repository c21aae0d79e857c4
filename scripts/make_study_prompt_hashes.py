"""Regenerate tests/fixtures/study_prompts/hashes.json: SHA-256 of the prompts the study's own
prompt functions produce, for a sample of items of every benchmark, in both of its modes.

The `study` protocol (forgetmap.suite.study_protocol) renders the study's prompts from its code
without running it; tests/test_study_protocol.py checks that, item by item, its prompts equal
these hashes, which were made by RUNNING the study's code with lighteval 0.10. Only hashes (and
the gold letters, which are no text) are written: nothing of the study enters the repository.
An item the study's code drops is recorded with sha256 null; one it fails on (its few-shot
dyck_languages template holds braces that str.format reads as fields) with the error's type.

Two steps in two environments (the study's modules import lighteval 0.10; the items come from
forgetmap's loaders):

    .venv/bin/python scripts/make_study_prompt_hashes.py rows
        project venv: every item of the sampled tasks, in dataset order, as the Hub row its
        prompt function reads (`meta["row"]`), and the study task behind each forgetmap task
        -> .dev/study_prompts/rows.json
    /work/venvs/study/bin/python scripts/make_study_prompt_hashes.py render
        study venv (lighteval==0.10.0 torch==2.13.0 'transformers<4.56' datasets==3.6.0
        langdetect 'pyarrow<20' xxhash==3.5.0): imports the study's two task modules (copies in the dev dir
        with the two fixes of scripts/make_post_forget_fixtures.py: the exemplar path and the
        missing comma; lighteval's IFEval names bound where the zero-shot module looks them up), builds each task's documents as lighteval 0.10 does (random.seed(1234),
        then the prompt function over the rows in dataset order) and hashes the queries of the
        sampled items -> tests/fixtures/study_prompts/hashes.json

The study checkout is FORGETMAP_STUDY_REPO, else reference/post-forget beside the data dir.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("FORGETMAP_DEV_DIR", ROOT / ".dev")) / "study_prompts"
OUT = ROOT / "tests" / "fixtures" / "study_prompts" / "hashes.json"
DATA_DIR = Path(os.environ.get("FORGETMAP_DATA_DIR", ROOT.parent / "shared" / "data"))
STUDY_REPO = Path(
    os.environ.get("FORGETMAP_STUDY_REPO", DATA_DIR.parent / "reference" / "post-forget")
)
SALAD_DIR = ROOT / "tests" / "fixtures" / "salad"  # SALAD-Bench is not in the offline data
SEED = 1234  # lighteval 0.10 pipeline._init_random_seeds

# forgetmap task -> how many of its items to hash (first items, plus every item whose source
# text carries leading/trailing whitespace, up to the same number again, plus the last item)
SAMPLE = {
    "mmlu:abstract_algebra": 3,
    "mmlu:high_school_european_history": 3,
    "mmlu:moral_scenarios": 3,
    "mmlu:professional_law": 3,
    "bbh:boolean_expressions": 3,
    "bbh:causal_judgement": 2,
    "bbh:date_understanding": 3,
    "bbh:dyck_languages": 2,
    "bbh:movie_recommendation": 3,
    "bbh:object_counting": 3,
    "bbh:ruin_names": 3,
    "bbh:snarks": 2,
    "bbh:tracking_shuffled_objects_three_objects": 2,
    "bbh:web_of_lies": 2,
    "gpqa:diamond": 6,
    "musr:murder_mysteries": 2,
    "musr:object_placements": 2,
    "musr:team_allocation": 2,
    "arc:easy": 3,
    "arc:challenge": 3,
    "truthfulqa:mc1": 3,
    "hellaswag:validation": 3,
    "social_iqa:validation": 3,
    "mctest:test": 3,
    "piqa:validation": 3,
    "commonsense_qa:validation": 3,
    "salad_bench:mrq": 3,
    "ifeval:prompts": 3,
}
# items the study's code drops, hashed too (as null)
ALWAYS = {
    "bbh:movie_recommendation": ["88564a537fcf30cd"],
    "bbh:ruin_names": ["480506415bc44387", "623a2f77bd6ac320"],
}


def _has_edge_space(value: Any) -> bool:
    if isinstance(value, str):
        return value != value.strip()
    if isinstance(value, dict):
        return any(_has_edge_space(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_edge_space(v) for v in value)
    return False


def make_rows() -> None:
    os.environ.setdefault("FORGETMAP_STUDY_REPO", str(STUDY_REPO))
    from forgetmap.suite.loaders import load_items
    from forgetmap.suite.registry import get_task
    from forgetmap.suite.study_protocol import load_study_protocol

    proto = load_study_protocol()
    tasks = []
    for task, n in SAMPLE.items():
        spec = get_task(task)
        data_dir = SALAD_DIR if spec.benchmark == "salad_bench" else DATA_DIR
        items = load_items(spec, data_dir=data_dir)
        edgy = [it.item_id for it in items if _has_edge_space(it.meta["row"])][:n]
        sample = [it.item_id for it in items[:n]] + edgy + [items[-1].item_id]
        sample += [i for i in ALWAYS.get(task, []) if i in {it.item_id for it in items}]
        modes = {}
        for mode in ("chat", "fewshot"):
            cfg = proto.checkout.config(mode, spec)
            modes[mode] = None if cfg is None else cfg["name"]
        tasks.append(
            {
                "task": task,
                "study_tasks": modes,
                "sample": list(dict.fromkeys(sample)),
                "items": [{"item_id": it.item_id, "row": it.meta["row"]} for it in items],
            }
        )
    DEV.mkdir(parents=True, exist_ok=True)
    (DEV / "rows.json").write_text(json.dumps(tasks, default=str), encoding="utf-8")
    print(f"wrote {DEV / 'rows.json'}: {len(tasks)} tasks")


def _letter(g: Any, n: int, letters: list[str]) -> str:
    """A gold index as its letter: ints (-1 is the last option), digit strings, letters."""
    if isinstance(g, str) and not g.lstrip("-").isdigit():
        return g
    return letters[int(g) % n]


def _import(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_render() -> None:
    """Run the study's real prompt functions (study venv, lighteval 0.10)."""
    import lighteval

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_post_forget_fixtures import (
        COT_JSON,
        FEWSHOT_MODULE,
        LIGHTEVAL_IFEVAL_NAMES,
        ZEROSHOT_MODULE,
        repaired_source,
    )

    exec(LIGHTEVAL_IFEVAL_NAMES, {})  # noqa: S102 - our own lines: lighteval 0.10's IFEval names

    DEV.mkdir(parents=True, exist_ok=True)
    few = DEV / "study_few_shot.py"
    few.write_text(repaired_source(STUDY_REPO / FEWSHOT_MODULE, STUDY_REPO / COT_JSON))
    modules = {
        "chat": _import(STUDY_REPO / ZEROSHOT_MODULE, "study_prompt"),
        "fewshot": _import(few, "study_few_shot"),
    }
    configs = {m: {c.name: c for c in mod.TASKS_TABLE} for m, mod in modules.items()}
    letters = modules["chat"].LETTER_INDICES
    entries = []
    for t in json.loads((DEV / "rows.json").read_text(encoding="utf-8")):
        want = set(t["sample"])
        for mode, name in t["study_tasks"].items():
            if name is None:
                continue
            cfg = configs[mode][name]
            random.seed(SEED)  # as lighteval's pipeline, right before it builds the documents
            for i, item in enumerate(t["items"]):
                line = {**item["row"], "__few_shots": False, "__index": i}
                try:
                    doc, error = cfg.prompt_function(line, name), None
                except Exception as exc:  # noqa: BLE001 - the study's code fails on this item
                    doc, error = None, type(exc).__name__
                if item["item_id"] not in want:
                    continue
                entry = {"task": t["task"], "mode": mode, "item_id": item["item_id"]}
                if error:
                    entries.append({**entry, "sha256": None, "gold": None, "error": error})
                    continue
                if not doc:
                    entries.append({**entry, "sha256": None, "gold": None})
                    continue
                gi = doc.gold_index if isinstance(doc.gold_index, list) else [doc.gold_index]
                n = len(doc.choices)
                gold = "".join(sorted(_letter(g, n, letters) for g in gi)) if n else None
                sha = hashlib.sha256(doc.query.encode("utf-8")).hexdigest()
                entries.append({**entry, "sha256": sha, "gold": gold})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    source = (
        (STUDY_REPO / "SOURCE.md").read_text(encoding="utf-8")
        if (STUDY_REPO / "SOURCE.md").exists()
        else ""
    )
    commit = next((w.strip("`.,()") for w in source.split() if len(w.strip("`.,()")) == 40), None)
    doc = {
        "made_by": "scripts/make_study_prompt_hashes.py (render step: the study's code run with "
        f"lighteval {lighteval.__version__})",
        "study_commit": commit,
        "document_seed": SEED,
        "entries": entries,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(entries)} hashed prompts")


if __name__ == "__main__":
    steps = {"rows": make_rows, "render": make_render}
    for step in sys.argv[1:] or ["rows"]:
        if step not in steps:
            print(f"unknown step {step!r}; choose from {', '.join(steps)}", file=sys.stderr)
            sys.exit(2)
        steps[step]()
