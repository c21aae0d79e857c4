"""Plan and run a study: derive models (merges, quantizations), evaluate each unique model once,
compare every pair, write the report.

Evaluation resumes through the engine (done (task, item, seed, prompt) records are skipped), and
derived models already made are reused, so rerunning a study after a crash or with more groups
only does the missing work. ML libraries are imported only when a step needs them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from forgetmap.analysis.results import Comparison
from forgetmap.atomic import atomic_write_text
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.records.schema import model_slug
from forgetmap.study.config import Model, Pair, Study

DERIVED_DIR = ".derived"  # dot dir: the results store ignores it


@dataclass
class ModelPlan:
    model: Model
    tasks: list[str]
    n_items: int
    unknown: list[str]  # tasks whose item count is unknown here
    requests: int
    tokens_expected: int
    tokens_max: int


@dataclass
class Plan:
    study: Study
    models: list[ModelPlan]
    pairs: list[Pair]
    groups: dict[str, Any]
    derived: list[Model] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(m.requests for m in self.models)

    @property
    def tokens_expected(self) -> int:
        return sum(m.tokens_expected for m in self.models)

    @property
    def tokens_max(self) -> int:
        return sum(m.tokens_max for m in self.models)


def official_counts() -> dict[str, int]:
    """Item counts of the official evaluation sets (for plans without a data dir)."""
    text = resources.files("forgetmap.study").joinpath("official_counts.json").read_text()
    return json.loads(text)["counts"]


def _task_names(m: Model) -> list[str]:
    from forgetmap.suite.registry import resolve_tasks

    return [t.name for t in resolve_tasks(m.suite, list(m.tasks) or None)]


def _count(
    task: str, counts: dict[str, int], data_dir: str | None, cache: dict[str, int | None]
) -> int | None:
    if task in cache:
        return cache[task]
    n: int | None = counts.get(task)
    if n is None:
        try:
            from forgetmap.suite.loaders import load_task

            n = load_task(task, data_dir=data_dir).n_items
        except ForgetmapError:
            n = None
    cache[task] = n
    return n


def make_plan(study: Study, groups: list[str] | tuple[str, ...] = (), limit: int | None = None,
              data_dir: str | None = None) -> Plan:  # fmt: skip
    """What `groups` of the study would run: models with request/token counts, pairs, merges."""
    models, pairs, sel = study.select(groups)
    limit = limit or study.limit
    counts = official_counts()
    cache: dict[str, int | None] = {}
    plans = []
    for m in models:
        names = _task_names(m)
        n_items, unknown = 0, []
        for t in names:
            n = _count(t, counts, data_dir, cache)
            if n is None:
                unknown.append(t)
                continue
            n_items += min(n, limit) if limit else n
        req = n_items * len(study.sampling.seeds)
        plans.append(
            ModelPlan(
                m,
                names,
                n_items,
                unknown,
                req,
                req * min(study.estimate[m.kind], m.max_new_tokens),
                req * m.max_new_tokens,
            )  # fmt: skip
        )
    return Plan(study, plans, pairs, sel, [m for m in models if m.derived])


def _protocol_label(ref: str) -> str:
    from pathlib import Path

    return Path(ref).name if "/" in ref else ref


def print_plan(plan: Plan, console: Console) -> None:
    """The dry-run view: models, pairs per group, merges, requests and generated tokens."""
    st = plan.study
    s = st.sampling
    console.print(f"[bold]{st.title}[/]  ({st.source})")
    console.print(
        f"sampling: temperature {s.temperature}, top_p {s.top_p}, seeds {list(s.seeds)}, "
        f"max_new_tokens {s.max_new_tokens} (per-model overrides below); backend {st.backend}"
    )
    console.print(f"\n[bold]models[/] ({len(plan.models)} unique, each evaluated once)")
    for mp in plan.models:
        m = mp.model
        what = f"suite {m.suite}" if m.suite else f"{len(mp.tasks)} tasks"
        extra = (
            f"  [yellow]{len(mp.unknown)} task(s) of unknown size: {', '.join(mp.unknown)}[/]"
            if mp.unknown
            else ""
        )
        made = ""
        if m.merge is not None:
            made = f"  [cyan](merge: {m.merge.describe()})[/]"
        elif m.quantize is not None:
            made = f"  [cyan](quantized {m.quantize[1]} from {m.quantize[0]})[/]"
        opts = "".join(f" · {k} {v}" for k, v in sorted(m.backend_options.items()))
        console.print(
            f"  {m.id}  [dim]set {m.set} · {m.kind} · {m.elicitation} · "
            f"protocol {_protocol_label(m.protocol)} · {what} · "
            f"max {m.max_new_tokens} tok{opts} · {mp.requests:,} requests[/]{made}{extra}"
        )
    console.print(f"\n[bold]pairs[/] ({len(plan.pairs)})")
    for g in plan.groups.values():
        console.print(f"  [bold]{g.title}[/] [dim]({g.name}, {len(g.pairs)} pairs)[/]")
        for p in g.pairs:
            console.print(f"    {p.before} -> {p.after}")
    merges = [m for m in plan.derived if m.merge is not None]
    if merges:
        console.print(f"\n[bold]merges[/] ({len(merges)}, each compared against both parents)")
        for m in merges:
            console.print(f"  {m.id}: {m.merge.describe()}  [dim]{m.merge.source}[/]")
    quants = [m for m in plan.derived if m.quantize is not None]
    if quants:
        console.print(f"\n[bold]quantizations[/] ({len(quants)})")
        for m in quants:
            console.print(f"  {m.id}: {m.quantize[0]} -> {m.quantize[1]}")
    console.print(
        f"\n[bold]requests[/]: {plan.requests:,} (items x {len(s.seeds)} seeds, all models)\n"
        f"[bold]generated tokens[/]: ~{plan.tokens_expected:,} expected "
        f"(mean response: base {st.estimate['base']}, post {st.estimate['post']} tokens), "
        f"at most {plan.tokens_max:,}"
    )


def derived_path(results: Path, m: Model) -> Path:
    base = results / DERIVED_DIR / model_slug(m.id)
    return base.with_suffix(".gguf") if m.quantize is not None else base


def _load_path(study: Study, results: Path, m: Model) -> str:
    return str(derived_path(results, m)) if m.derived else m.load


def make_derived(study: Study, results: Path, models: list[Model], console: Console) -> None:
    """Make merges and quantizations that do not exist yet (sources first)."""
    from forgetmap.merge.mergekit_runner import is_complete, run_merge
    from forgetmap.merge.quantize import quantize_gguf

    for m in models:
        out = derived_path(results, m)
        if m.quantize is not None:
            if out.is_file():
                continue
            src_model = study.models[m.quantize[0]]
            src = _load_path(study, results, src_model)
            from forgetmap.engine.local_models import resolve_alias

            alias = resolve_alias(src)
            console.print(f"quantizing {src_model.id} -> {m.id} ({m.quantize[1]})")
            quantize_gguf(alias or src, out, m.quantize[1])
        elif m.merge is not None:
            if is_complete(out):
                continue
            mapping = {p: _load_path(study, results, study.models[p]) for p in m.merge.parents}
            console.print(f"merging {m.id}: {m.merge.describe()}")
            run_merge(m.merge, out, model_map=mapping)


@dataclass
class StudyOutcome:
    results: Path
    report: Path | None
    comparison: Comparison | None
    compared: list[Pair]
    skipped_pairs: list[Pair]
    summaries: list[Any]


def run_study(
    study: Study,
    results: str | os.PathLike[str],
    groups: list[str] | tuple[str, ...] = (),
    out: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    data_dir: str | None = None,
    console: Console | None = None,
    progress: bool = True,
    report: bool = True,
) -> StudyOutcome:
    """Run the selected part of `study` into `results`; the report goes to `out` (default
    RESULTS/report)."""
    from forgetmap.engine.runner import evaluate

    console = console or Console(stderr=True)
    res = Path(results)
    res.mkdir(parents=True, exist_ok=True)
    models, pairs, sel = study.select(groups)
    limit = limit or study.limit
    # make the selected merges/quantizations first (their sources need no evaluation for that)
    derived = [m for m in models if m.derived]
    if derived:
        make_derived(study, res, derived, console)
    summaries = []
    s = study.sampling
    for i, m in enumerate(models, 1):
        tasks = list(m.tasks)
        console.print(
            f"[bold]\\[{i}/{len(models)}] evaluating {m.id}[/] "
            f"[dim]({m.backend}, {m.elicitation}, protocol {_protocol_label(m.protocol)})[/]"
        )
        summaries.append(
            evaluate(
                _load_path(study, res, m),
                backend=m.backend,
                tasks=tasks or None,
                suite=m.suite,
                seeds=list(s.seeds),
                results=res,
                elicitation=m.elicitation,
                protocol=m.protocol,
                limit=limit,
                max_new_tokens=m.max_new_tokens,
                temperature=s.temperature,
                top_p=s.top_p,
                data_dir=data_dir,
                model_name=m.id,
                progress=progress,
                **m.backend_options,
            )
        )
    store = ResultsStore(res)
    present = set(store.models())
    compared = [p for p in pairs if p.before in present and p.after in present]
    skipped = [p for p in pairs if p not in compared]
    for p in skipped:
        console.print(f"[yellow]not compared (a model has no records yet): {p}[/]")
    if not compared:
        return StudyOutcome(res, None, None, [], skipped, summaries)
    from forgetmap.analysis.compare import compare

    with console.status(f"comparing {len(compared)} pair(s)…"):
        comparison = compare(store, [tuple(p) for p in compared])
    atomic_write_text(res / "comparison.json", comparison.to_json())
    report_path = None
    if report:
        from forgetmap.report.build import build_report

        groups_for_report = study.report_groups(groups, keep={tuple(p) for p in compared})
        report_path = build_report(
            comparison, store, Path(out) if out else res / "report", groups=groups_for_report,
            title=study.title, console=console,
        )  # fmt: skip
    return StudyOutcome(res, report_path, comparison, compared, skipped, summaries)
