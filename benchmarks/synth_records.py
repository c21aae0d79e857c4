"""Study-scale synthetic per-sample records for `make bench`.

70 models (10 "base" models, each with 6 post-trained descendants; the 60 base->descendant pairs
are the comparison), the study suite's tasks at their official item counts, 3 seeds: ~8.8M rows,
written through the real ResultsStore (one run per model) under .bench/. Correctness follows a
simple item-response model (shared item difficulty, model skill, per-seed sampling noise), so
flips, accuracies and chance terms look like real data; k per item follows each task's real option
counts (ARC 3-5, MuSR object_placements 2-5, TruthfulQA MC1 2-13, free-form tasks none).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from forgetmap.records import ResultsStore  # noqa: E402

MMLU = {
    "abstract_algebra": 100, "anatomy": 135, "astronomy": 152, "business_ethics": 100,
    "clinical_knowledge": 265, "college_biology": 144, "college_chemistry": 100,
    "college_computer_science": 100, "college_mathematics": 100, "college_medicine": 173,
    "college_physics": 102, "computer_security": 100, "conceptual_physics": 235,
    "econometrics": 114, "electrical_engineering": 145, "elementary_mathematics": 378,
    "formal_logic": 126, "global_facts": 100, "high_school_biology": 310,
    "high_school_chemistry": 203, "high_school_computer_science": 100,
    "high_school_european_history": 165, "high_school_geography": 198,
    "high_school_government_and_politics": 193, "high_school_macroeconomics": 390,
    "high_school_mathematics": 270, "high_school_microeconomics": 238, "high_school_physics": 151,
    "high_school_psychology": 545, "high_school_statistics": 216, "high_school_us_history": 204,
    "high_school_world_history": 237, "human_aging": 223, "human_sexuality": 131,
    "international_law": 121, "jurisprudence": 108, "logical_fallacies": 163,
    "machine_learning": 112, "management": 103, "marketing": 234, "medical_genetics": 100,
    "miscellaneous": 783, "moral_disputes": 346, "moral_scenarios": 895, "nutrition": 306,
    "philosophy": 311, "prehistory": 324, "professional_accounting": 282, "professional_law": 1534,
    "professional_medicine": 272, "professional_psychology": 612, "public_relations": 110,
    "security_studies": 245, "sociology": 201, "us_foreign_policy": 100, "virology": 166,
    "world_religions": 171,
}  # fmt: skip
# BBH: (items, k); k None = free-form
BBH = {
    "boolean_expressions": (250, 2), "causal_judgement": (187, 2), "date_understanding": (250, 6),
    "disambiguation_qa": (250, 3), "dyck_languages": (250, None), "formal_fallacies": (250, 2),
    "geometric_shapes": (250, 11), "hyperbaton": (250, 2), "logical_deduction_five_objects": (250, 5),
    "logical_deduction_seven_objects": (250, 7), "logical_deduction_three_objects": (250, 3),
    "movie_recommendation": (250, 6), "multistep_arithmetic_two": (250, None), "navigate": (250, 2),
    "object_counting": (250, 19), "penguins_in_a_table": (146, 5),
    "reasoning_about_colored_objects": (250, 18), "ruin_names": (250, 6),
    "salient_translation_error_detection": (250, 6), "snarks": (178, 2),
    "sports_understanding": (250, 2), "temporal_sequences": (250, 4),
    "tracking_shuffled_objects_five_objects": (250, 5),
    "tracking_shuffled_objects_seven_objects": (250, 7),
    "tracking_shuffled_objects_three_objects": (250, 3), "web_of_lies": (250, 2),
    "word_sorting": (250, None),
}  # fmt: skip
# other benchmarks: (items, k or a {k: share} mix, None = free-form / no options)
OTHER = {
    "arc:easy": (2376, {3: 0.01, 4: 0.98, 5: 0.01}),
    "arc:challenge": (1172, {3: 0.01, 4: 0.98, 5: 0.01}),
    "gpqa:diamond": (198, 4),
    "musr:murder_mysteries": (250, 2),
    "musr:object_placements": (256, {2: 0.3, 3: 0.4, 4: 0.2, 5: 0.1}),
    "musr:team_allocation": (250, 3),
    "truthfulqa:mc1": (817, {2: 0.1, 3: 0.1, 4: 0.2, 5: 0.2, 6: 0.1, 7: 0.1, 8: 0.1, 13: 0.1}),
    "hellaswag:validation": (10042, 4),
    "social_iqa:validation": (1954, 3),
    "mctest:test": (840, 4),
    "piqa:validation": (1838, 2),
    "commonsense_qa:validation": (1221, 5),
    "ifeval:prompts": (541, None),
}
SEEDS = (0, 1, 2)
N_BASE, N_CHILD = 10, 6


def task_table() -> list[tuple[str, int, object]]:
    """(task, n_items, k spec) for every task of the synthetic study."""
    out: list[tuple[str, int, object]] = [(f"mmlu:{s}", n, 4) for s, n in MMLU.items()]
    out += [(f"bbh:{s}", n, k) for s, (n, k) in BBH.items()]
    out += [(t, n, k) for t, (n, k) in OTHER.items()]
    return out


def models_and_pairs(n_base: int = N_BASE) -> tuple[list[str], list[tuple[str, str]]]:
    """The first `n_base` families (a smaller study is a prefix of the full one)."""
    models, pairs = [], []
    for b in range(n_base):
        base = f"org{b}/base-{b}"
        models.append(base)
        for c in range(N_CHILD):
            child = f"org{b}/base-{b}-post{c}"
            models.append(child)
            pairs.append((base, child))
    return models, pairs


def _item_frame(rng: np.random.Generator):
    """Per item (across tasks): task index, item id, k, gold letter, difficulty."""
    tasks = task_table()
    names = [t for t, _, _ in tasks]
    t_idx, ids, ks = [], [], []
    for i, (_, n, kspec) in enumerate(tasks):
        t_idx.append(np.full(n, i))
        ids.append(np.arange(n))
        if kspec is None:
            ks.append(np.zeros(n, np.int64))
        elif isinstance(kspec, dict):
            ks.append(
                rng.choice(
                    list(kspec), size=n, p=np.array(list(kspec.values())) / sum(kspec.values())
                )
            )
        else:
            ks.append(np.full(n, kspec))
    t_idx, ids, k = np.concatenate(t_idx), np.concatenate(ids), np.concatenate(ks)
    diff = rng.normal(0.0, 1.5, t_idx.size)
    gold = np.where(k > 0, rng.integers(0, np.maximum(k, 1)), 0)
    return names, t_idx, ids, k, gold, diff


def generate(
    root: Path, progress: bool = True, n_base: int = N_BASE
) -> tuple[list[str], list[tuple[str, str]]]:
    """Write the synthetic study into `root` (skipped when a complete copy is there). With
    `n_base` < N_BASE only the first families are written, each model's records identical to
    the full study's (same random stream, drawn in the same order)."""
    models, pairs = models_and_pairs(n_base)
    store = ResultsStore(root)
    marker = root / ".complete"
    if marker.exists():
        return models, pairs
    rng = np.random.default_rng(20251017)
    names, t_idx, ids, k, gold, diff = _item_frame(rng)
    n_items = t_idx.size
    S = len(SEEDS)
    task_col = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(t_idx, S), pa.int32()), pa.array(names)
    ).cast(pa.string())
    id_col = pa.array(np.tile(ids, S).astype(str))
    seed_col = pa.array(np.repeat(np.array(SEEDS, np.int64), n_items))
    k_rep = np.tile(k, S)
    k_col = pa.array(np.where(k_rep > 0, k_rep, 0).astype(np.int32), mask=k_rep == 0)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRS"))
    gold_rep = np.tile(gold, S)
    gold_col = pa.array(letters[gold_rep])
    hash_col = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(t_idx, S), pa.int32()), pa.array([f"h{i:04d}" for i in range(len(names))])
    ).cast(pa.string())
    skill_base = rng.normal(0.3, 0.8, N_BASE)[:n_base]
    for mi, model in enumerate(models):
        b, c = divmod(mi, N_CHILD + 1)
        skill = skill_base[b] + (0 if c == 0 else rng.normal(0.2, 0.5))
        task_shift = rng.normal(0, 0.4, len(names))[t_idx]
        p = 1.0 / (1.0 + np.exp(-(skill + task_shift - diff)))
        chance = np.where(k > 0, 1.0 / np.maximum(k, 1), 0.0)
        p = chance + (1 - chance) * p
        correct = rng.random((S, n_items)) < p[None, :]
        corr = correct.ravel()
        no_answer = (~corr) & (rng.random(corr.size) < 0.04)
        wrong = (gold_rep + 1 + rng.integers(0, 3, corr.size)) % np.maximum(k_rep, 1)
        pred = np.where(corr, letters[gold_rep], letters[wrong])
        pred_col = pa.array(pred, mask=no_answer)
        status = pa.DictionaryArray.from_arrays(
            pa.array(no_answer.astype(np.int32)), pa.array(["ok", "no_answer"])
        ).cast(pa.string())
        table = pa.table(
            {
                "model": pa.array([model] * corr.size),
                "task": task_col,
                "item_id": id_col,
                "seed": seed_col,
                "n_choices": k_col,
                "gold": gold_col,
                "pred": pred_col,
                "extract_status": status,
                "correct": pa.array(corr),
                "prompt_hash": hash_col,
                "elicitation": pa.array(["cot_chat"] * corr.size),
            }
        )
        store.append(table, model, "run0", source=f"synthetic {model}")
        if progress:
            print(f"\r  generated {mi + 1}/{len(models)} models", end="", flush=True)
    if progress:
        print()
    marker.write_text("ok\n")
    return models, pairs


if __name__ == "__main__":
    generate(ROOT / ".bench" / "study")
