"""Write the HELM fixture, and a second OpenCompass layout, in those tools' documented formats.

HELM is not run here (heavy install, no Hub access for its scenarios); OpenCompass is (see
`make_importer_fixtures.py opencompass`), and this adds the layouts that run does not produce.
Both are written in the formats the tools' code writes (OpenCompass:
`predictions/<model>/<dataset>.json` from PPLInferencerOutputHandler and
`results/<model>/<dataset>.json` with AccwithDetailsEvaluator-style `details`; HELM:
`runs/<suite>/<run>/{run_spec,instances,display_predictions}.json`). The answers in them are
real: each model's loglikelihood choices on the 8 ARC-Easy items, taken from the lm-eval
fixture (tests/fixtures/importers/lm_eval, produced by really running lm-eval).

    python scripts/make_importer_fixtures_docfmt.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "importers"
LETTERS = "ABCDEFGHIJ"
ABBR = {
    "models/smollm2-135m-instruct": "smollm2-135m-instruct-hf",
    "models/gemma3-270m": "gemma3-270m-hf",
}


def lm_eval_choices() -> dict[str, list[dict]]:
    """model -> per-item rows (doc, option logliks, gold index) of the lm-eval arc_mini task."""
    out: dict[str, list[dict]] = {}
    for res in sorted((FIXTURES / "lm_eval" / "seed0").rglob("results_*.json")):
        body = json.loads(res.read_text())
        args = body["config"]["model_args"]
        model = (
            args["pretrained"]
            if isinstance(args, dict)
            else args.split("pretrained=")[1].split(",")[0]
        )
        samples = sorted(res.parent.glob("samples_arc_mini_2*.jsonl"))
        rows = []
        for line in samples[0].read_text().splitlines():
            o = json.loads(line)
            lls = [float(r[0]) for r in o["filtered_resps"]]
            rows.append(
                {
                    "doc_id": o["doc_id"],
                    "doc": o["doc"],
                    "lls": lls,
                    "gold": int(o["target"]),
                    "prompt": o["arguments"]["gen_args_0"]["arg_0"],
                }
            )
        out[model] = sorted(rows, key=lambda r: r["doc_id"])
    return out


def opencompass(data: dict[str, list[dict]]) -> None:
    root = FIXTURES / "opencompass" / "20251128_120000"
    shutil.rmtree(root.parent, ignore_errors=True)
    for i, (model, rows) in enumerate(sorted(data.items())):
        abbr = ABBR[model]
        preds, details = {}, {}
        for j, r in enumerate(rows):
            k = len(r["lls"])
            entry = {"origin_prompt": r["prompt"]}
            for c in range(k):
                entry[f"label: {LETTERS[c]}"] = {
                    "testing input": r["prompt"],
                    "prompt": r["prompt"] + " " + r["doc"]["choices"]["text"][c],
                    "PPL": -r["lls"][c],
                }
            pred = LETTERS[min(range(k), key=lambda c: -r["lls"][c])]
            entry["prediction"] = pred
            entry["gold"] = LETTERS[r["gold"]]
            preds[str(j)] = entry
            details[str(j)] = {
                "prompt": r["prompt"],
                "pred": pred,
                "refr": LETTERS[r["gold"]],
                "is_correct": pred == LETTERS[r["gold"]],
            }
        pdir = root / "predictions" / abbr
        pdir.mkdir(parents=True)
        (pdir / "arc-e-mini.json").write_text(json.dumps(preds, indent=4))
        acc = 100 * sum(d["is_correct"] for d in details.values()) / len(details)
        rdir = root / "results" / abbr
        rdir.mkdir(parents=True)
        body = {"accuracy": acc}
        if i == 0:  # one model with per-sample eval details, one without (both layouts occur)
            body["details"] = details
        (rdir / "arc-e-mini.json").write_text(json.dumps(body, indent=4))
    print("wrote", root)


def helm(data: dict[str, list[dict]]) -> None:
    root = FIXTURES / "helm" / "benchmark_output" / "runs" / "v1"
    shutil.rmtree(root.parents[1], ignore_errors=True)
    for model, rows in sorted(data.items()):
        helm_model = "local/" + model.split("/")[-1]
        name = f"arc_mini:subset=easy,method=multiple_choice_joint,model={helm_model.replace('/', '_')}"
        d = root / name
        d.mkdir(parents=True)
        spec = {
            "name": name,
            "scenario_spec": {
                "class_name": "helm.benchmark.scenarios.arc_scenario.ARCScenario",
                "args": {"subset": "easy"},
            },
            "adapter_spec": {
                "method": "multiple_choice_joint",
                "model": helm_model,
                "model_deployment": helm_model,
                "max_train_instances": 0,
                "num_train_trials": 1,
                "temperature": 0.0,
                "max_tokens": 1,
            },
            "metric_specs": [
                {
                    "class_name": "helm.benchmark.metrics.basic_metrics.BasicGenerationMetric",
                    "args": {"names": ["exact_match", "quasi_exact_match"]},
                }
            ],
            "groups": ["arc_mini"],
        }
        instances, preds = [], []
        for r in rows:
            iid = f"id{r['doc_id']}"
            refs = [
                {"output": {"text": t}, "tags": ["correct"] if c == r["gold"] else []}
                for c, t in enumerate(r["doc"]["choices"]["text"])
            ]
            instances.append(
                {
                    "input": {"text": r["doc"]["question"]},
                    "references": refs,
                    "split": "test",
                    "id": iid,
                }
            )
            k = len(r["lls"])
            p = max(range(k), key=lambda c: (r["lls"][c], -c))
            em = float(p == r["gold"])
            preds.append(
                {
                    "instance_id": iid,
                    "perturbation": None,
                    "train_trial_index": 0,
                    "predicted_text": f" {LETTERS[p]}",
                    "truncated_predicted_text": None,
                    "base64_images": None,
                    "mapped_output": r["doc"]["choices"]["text"][p],
                    "reference_index": None,
                    "stats": {
                        "num_prompt_tokens": 80.0,
                        "num_output_tokens": 1.0,
                        "exact_match": em,
                        "quasi_exact_match": em,
                    },
                }
            )
        (d / "run_spec.json").write_text(json.dumps(spec, indent=2))
        (d / "instances.json").write_text(json.dumps(instances, indent=2))
        (d / "display_predictions.json").write_text(json.dumps(preds, indent=2))
    print("wrote", root)


def helm_trials() -> None:
    """A HELM run with num_train_trials = 2 (in HELM each trial draws other in-context examples;
    the instance ids repeat per trial), in the format helm-run writes, filled with the two
    models' real answers to the two repeats of lm-eval's sampled arc_mini_cot task
    (lm_eval_repeats/torch1234, filter flexible-extract): trial t = repeat t."""
    root = FIXTURES / "helm_trials" / "benchmark_output" / "runs" / "v1"
    shutil.rmtree(root.parents[1], ignore_errors=True)
    for samples in sorted(
        (FIXTURES / "lm_eval_repeats" / "torch1234").rglob("samples_arc_mini_cot_*")
    ):
        res = next(samples.parent.glob("results_*.json"))
        model = json.loads(res.read_text())["config"]["model_args"]["pretrained"]
        helm_model = "local/" + model.split("/")[-1]
        name = f"arc_mini_cot:subset=easy,method=multiple_choice_joint,model={helm_model.replace('/', '_')}"
        d = root / name
        d.mkdir(parents=True)
        spec = {
            "name": name,
            "scenario_spec": {
                "class_name": "helm.benchmark.scenarios.arc_scenario.ARCScenario",
                "args": {"subset": "easy"},
            },
            "adapter_spec": {
                "method": "multiple_choice_joint",
                "model": helm_model,
                "model_deployment": helm_model,
                "max_train_instances": 0,
                "num_train_trials": 2,
                "temperature": 0.6,
                "max_tokens": 12,
            },
            "metric_specs": [
                {
                    "class_name": "helm.benchmark.metrics.basic_metrics.BasicGenerationMetric",
                    "args": {"names": ["exact_match", "quasi_exact_match"]},
                }
            ],
            "groups": ["arc_mini_cot"],
        }
        instances, preds = [], []
        rows = [json.loads(x) for x in samples.read_text().splitlines() if x.strip()]
        for o in rows:
            if o["filter"] != "flexible-extract":
                continue
            iid = f"id{o['doc_id']}"
            gold = "ABCDE".index(o["target"])
            refs = [
                {"output": {"text": t}, "tags": ["correct"] if c == gold else []}
                for c, t in enumerate(o["doc"]["choices"]["text"])
            ]
            instances.append({"input": {"text": o["doc"]["question"]}, "references": refs,
                              "split": "test", "id": iid})  # fmt: skip
            for trial, answer in enumerate(o["filtered_resps"][0]):
                text = "" if answer == "[invalid]" else f" {answer}"
                em = float(answer == o["target"])
                preds.append(
                    {
                        "instance_id": iid,
                        "perturbation": None,
                        "train_trial_index": trial,
                        "predicted_text": text,
                        "truncated_predicted_text": None,
                        "base64_images": None,
                        "mapped_output": None,
                        "reference_index": None,
                        "stats": {"num_output_tokens": 12.0, "exact_match": em,
                                  "quasi_exact_match": em},
                    }
                )  # fmt: skip
        (d / "run_spec.json").write_text(json.dumps(spec, indent=2))
        (d / "instances.json").write_text(json.dumps(instances, indent=2))
        (d / "display_predictions.json").write_text(json.dumps(preds, indent=2))
    print("wrote", root)


if __name__ == "__main__":
    choices = lm_eval_choices()
    opencompass(choices)
    helm(choices)
    helm_trials()
