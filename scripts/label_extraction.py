"""Build the labelled extraction set from generated outputs and hand labels.

Labelling is blind: `show` prints each output (task, options, full response) WITHOUT the
extractor's prediction, and the labeller writes one line per output into the labels TSV:

    <key>\t<label>\t<note>

A `#split: NAME` line starts a split: `dev` (default) was used to develop the rules;
`heldout1`, `heldout2`, ... were labelled blind after the rules were frozen at a commit, and
measured before any later change (a failure found there is fixed in the next commit, and the
labels after the next marker are held out from that fix).

label: the answer the response commits to as its final answer -- an option letter for
multiple choice (even a letter beyond the options), the answer text for free-form tasks -- or
`none` when it does not commit to exactly one answer (hedges, echoes the options, rambles, is
cut off before answering, contradicts itself at the end).

    python scripts/label_extraction.py show --outputs .dev/outputs.jsonl --start 0 --n 20
    python scripts/label_extraction.py build --outputs .dev/outputs.jsonl \\
        --labels tests/fixtures/extraction/labels_real.tsv \\
        --synthetic tests/fixtures/extraction/synthetic.jsonl \\
        --out tests/fixtures/extraction/labelled.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def key_of(r: dict) -> str:
    return hashlib.sha1(f"{r['model']}|{r['task']}|{r['item_id']}".encode()).hexdigest()[:10]


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def show(outputs: Path, start: int, n: int) -> None:
    rows = _read_jsonl(outputs)
    for i, r in enumerate(rows[start : start + n], start):
        opts = " | ".join(f"{LETTERS[j]}) {c[:50]}" for j, c in enumerate(r["choices"]))
        print(f"#{i} key={key_of(r)} {r['model']} {r['task']} k={r['k']}")
        print(f"   options: {opts or '(free-form)'}")
        print("   ---- response ----")
        print("   " + r["response"].replace("\n", "\n   "))
        print("   ------------------")


def build(outputs: Path, labels: Path, synthetic: Path | None, out: Path) -> None:
    rows = {key_of(r): r for r in _read_jsonl(outputs)}
    recs = []
    seen = set()
    split = "dev"
    for lineno, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#split:"):
            split = line.split(":", 1)[1].strip()
            continue
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise SystemExit(f"{labels}:{lineno}: expected key<TAB>label<TAB>note")
        key, label, note = parts
        if key not in rows:
            raise SystemExit(f"{labels}:{lineno}: unknown key {key}")
        if key in seen:
            raise SystemExit(f"{labels}:{lineno}: key {key} labelled twice")
        seen.add(key)
        r = rows[key]
        recs.append(
            {
                "id": key,
                "source": "real",
                "split": split,
                "model": r["model"],
                "task": r["task"],
                "item_id": r["item_id"],
                "elicitation": r["elicitation"],
                "choices": r["choices"],
                "k": r["k"],
                "gold": r["gold"],
                "response": r["response"],
                "label": None if label == "none" else label,
                "note": note,
            }
        )
    unlabelled = sorted(set(rows) - seen)
    if unlabelled:
        print(
            f"warning: {len(unlabelled)} outputs not labelled: {unlabelled[:5]}...", file=sys.stderr
        )
    if synthetic:
        for r in _read_jsonl(synthetic):
            recs.append({**r, "source": "synthetic"})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in recs:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(recs)} records to {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show")
    s.add_argument("--outputs", type=Path, required=True)
    s.add_argument("--start", type=int, default=0)
    s.add_argument("--n", type=int, default=20)
    b = sub.add_parser("build")
    b.add_argument("--outputs", type=Path, required=True)
    b.add_argument("--labels", type=Path, required=True)
    b.add_argument("--synthetic", type=Path, default=None)
    b.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "show":
        show(args.outputs, args.start, args.n)
    else:
        build(args.outputs, args.labels, args.synthetic, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
