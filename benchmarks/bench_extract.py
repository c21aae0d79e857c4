"""Extraction quality on the hand-labelled set of real model outputs (`make bench-extract`).

Reports, on the REAL outputs -- all of them, and the held-out split labelled after the rules
were frozen (the hand-written synthetic formats are reported apart):
- overall agreement with the hand labels where an answer is present (goal >= 99.5%) and the
  number of answers invented where the labeller found none (goal 0);
- per rule, in the ordered pipeline: how often it fired and its precision;
- per rule in isolation (only that rule enabled, multiple-choice outputs): precision and recall
  (recall = share of the answer-present multiple-choice outputs that rule alone recovers);
- a baseline measured in the same run: the strict last-line `Answer: X` parse alone (what a
  strict harness would score), with its agreement and the speed ratio of the full extractor.

    python benchmarks/bench_extract.py [--labelled FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from forgetmap.suite.extract import AnswerMode, extract, rule_names

ROOT = Path(__file__).resolve().parents[1]
MC_RULES = rule_names(AnswerMode.LETTER)  # the single-letter rows of the rule table, in order
DEFAULT = ROOT / "tests" / "fixtures" / "extraction" / "labelled.jsonl"
_STRICT = re.compile(r"^Answer: ([A-Z])$")


def _strict_baseline(response: str) -> str | None:
    lines = [ln.strip() for ln in (response or "").splitlines() if ln.strip()]
    m = _STRICT.match(lines[-1]) if lines else None
    return m.group(1) if m else None


def _pred(r: dict, rules: tuple[str, ...] | None = None) -> tuple[str | None, str | None]:
    ex = extract(r["response"], r["choices"], r["k"], r["task"], rules=rules)
    return ex.pred, ex.rule


def _summary(rows: list[dict]) -> dict:
    present = [r for r in rows if r["label"] is not None]
    absent = [r for r in rows if r["label"] is None]
    preds = [_pred(r) for r in rows]
    by_key = {id(r): p for r, p in zip(rows, preds, strict=True)}
    agree = sum(by_key[id(r)][0] == r["label"] for r in present)
    invented = [r for r in absent if by_key[id(r)][0] is not None]
    missed = [r for r in present if by_key[id(r)][0] is None]
    wrong = [r for r in present if by_key[id(r)][0] not in (None, r["label"])]
    fired: Counter[str] = Counter()
    fired_ok: Counter[str] = Counter()
    for r, (pred, rule) in zip(rows, preds, strict=True):
        if pred is None:
            continue
        base = (rule or "?").split(":")[0]
        fired[base] += 1
        fired_ok[base] += pred == r["label"]
    # rules in isolation apply to multiple-choice outputs (free-form ones have their own path)
    mc = [r for r in rows if r["choices"] or r["k"]]
    mc_present = sum(r["label"] is not None for r in mc)
    isolated = {}
    for rule in MC_RULES:
        got = [(r, _pred(r, (rule,))[0]) for r in mc]
        fired_n = sum(p is not None for _, p in got)
        correct = sum(p is not None and p == r["label"] for r, p in got)
        isolated[rule] = {
            "fired": fired_n,
            "precision": correct / fired_n if fired_n else None,
            "recall": correct / mc_present if mc_present else None,
        }
    base_agree = sum(
        _strict_baseline(r["response"]) == r["label"] for r in present if r["choices"] or r["k"]
    )
    n_mc_present = sum(1 for r in present if r["choices"] or r["k"])
    return {
        "n": len(rows),
        "answer_present": len(present),
        "answer_absent": len(absent),
        "agreement": agree / len(present) if present else None,
        "agreed": agree,
        "invented": len(invented),
        "missed": len(missed),
        "wrong": len(wrong),
        "pipeline": {k: {"fired": fired[k], "precision": fired_ok[k] / fired[k]} for k in fired},
        "isolated": isolated,
        "strict_baseline_agreement_mc": base_agree / n_mc_present if n_mc_present else None,
        "disagreements": [
            {
                "model": r.get("model"),
                "task": r["task"],
                "label": r["label"],
                "pred": by_key[id(r)][0],
                "rule": by_key[id(r)][1],
                "tail": r["response"][-160:],
            }
            for r in missed + wrong + invented
        ],
    }


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:6.2f}"


def _print(name: str, s: dict) -> None:
    print(
        f"\n== {name}: {s['n']} outputs, answer present {s['answer_present']}, "
        f"absent {s['answer_absent']}"
    )
    print(
        f"agreement where an answer is present: {s['agreed']}/{s['answer_present']} = "
        f"{_pct(s['agreement']).strip()}%  (goal >= 99.5%)"
    )
    print(f"answers invented where none is present: {s['invented']}  (goal 0)")
    print(f"missed: {s['missed']}  wrong answer: {s['wrong']}")
    print(
        f"strict last-line baseline agreement (MC): {_pct(s['strict_baseline_agreement_mc']).strip()}%"
    )
    print(
        f"{'rule':<14}{'pipeline fired':>15}{'prec %':>9}{'alone fired':>13}{'prec %':>9}{'recall %':>10}"
    )
    for rule in MC_RULES:
        p = s["pipeline"].get(rule, {"fired": 0, "precision": None})
        i = s["isolated"][rule]
        print(
            f"{rule:<14}{p['fired']:>15}{_pct(p['precision']):>9}{i['fired']:>13}"
            f"{_pct(i['precision']):>9}{_pct(i['recall']):>10}"
        )
    for d in s["disagreements"]:
        print(
            f"  ! {d['model']} {d['task']} label={d['label']} pred={d['pred']} rule={d['rule']}: "
            f"{d['tail']!r}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labelled", type=Path, default=DEFAULT)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=20, help="passes for the speed comparison")
    args = ap.parse_args(argv)
    rows = [json.loads(x) for x in args.labelled.read_text(encoding="utf-8").splitlines() if x]
    real = [r for r in rows if r["source"] == "real"]
    synth = [r for r in rows if r["source"] == "synthetic"]
    out = {"real": _summary(real), "synthetic": _summary(synth)}
    _print("REAL model outputs (all)", out["real"])
    for split in sorted({r.get("split", "dev") for r in real} - {"dev"}):
        part = [r for r in real if r.get("split") == split]
        out[f"real_{split}"] = _summary(part)
        _print(
            f"REAL, split {split} (labelled blind after the rules were frozen)",
            part and out[f"real_{split}"],
        )
    _print("SYNTHETIC formats (hand-written; not part of the real figures)", out["synthetic"])

    t0 = time.perf_counter()
    for _ in range(args.repeat):
        for r in rows:
            _strict_baseline(r["response"])
    base_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        for r in rows:
            extract(r["response"], r["choices"], r["k"], r["task"])
    full_s = time.perf_counter() - t0
    n = args.repeat * len(rows)
    out["speed"] = {
        "responses_per_s": n / full_s,
        "baseline_responses_per_s": n / base_s,
        "slowdown_vs_strict_baseline": full_s / base_s,
    }
    print(
        f"\nspeed: {n / full_s:,.0f} responses/s; strict-regex baseline {n / base_s:,.0f}/s "
        f"(ratio {full_s / base_s:.1f}x slower, same run)"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
