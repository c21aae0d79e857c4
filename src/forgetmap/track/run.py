"""`run_track`: evaluate a training run's checkpoints against its base and draw the curve.

One pass: find the complete checkpoints (`track.checkpoints`), evaluate the base once and each
checkpoint once through the engine (resumable: what is stored is skipped, a finished model is
not even loaded), then compare every checkpoint of the run found in the store with the base
(`forgetmap.compare`) and write the outputs (`track.outputs`). Records of checkpoint N of run R
are stored under the model name `R/step-N` (`track.naming`), so without `checkpoints` the curve
comes from records already in the store, e.g. written by the training callback. `watch` repeats
the pass every `watch` seconds, picking up new checkpoints, until interrupted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.markup import escape

from forgetmap.analysis.compare import compare
from forgetmap.analysis.results import Comparison
from forgetmap.engine.backends import resolve_model
from forgetmap.engine.runner import DEFAULT_SEEDS, RunSummary, evaluate
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.track.checkpoints import SETTLE_S, TRAINER_DIR, Checkpoint, discover
from forgetmap.track.naming import checkpoint_model_name, parse_checkpoint_model_name
from forgetmap.track.outputs import write_outputs


@dataclass
class TrackResult:
    """What one pass of `run_track` did and wrote."""

    run: str
    base: str  # the base's model name in the store
    steps: list[int]  # every checkpoint of the run in the store, compared with the base
    models: list[str]  # their model names, in step order
    evaluations: list[RunSummary]  # the engine runs of this pass (base first)
    comparison: Comparison
    curve: pa.Table
    first_forgotten: pa.Table
    files: dict[str, Path]
    notes: list[str] = field(default_factory=list)  # checkpoints skipped (half-written)

    @property
    def n_written(self) -> int:
        """Records the engine wrote in this pass (0 when every checkpoint was done)."""
        return sum(s.n_written for s in self.evaluations)


def run_track(
    base: str | None = None,
    checkpoints: str | os.PathLike[str] | None = None,
    *,
    results: str | os.PathLike[str] = "results",
    out: str | os.PathLike[str] = "track",
    run_name: str | None = None,
    base_name: str | None = None,
    tasks: str | Sequence[str] | None = None,
    suite: str | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    elicitation: str | None = "loglik",
    backend: str = "hf",
    limit: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    protocol: str | None = None,
    watch: float | None = None,
    settle_s: float = SETTLE_S,
    bootstrap: int = 1000,
    report: bool = True,
    progress: bool = True,
    console: Console | None = None,
    **eval_kw: Any,
) -> TrackResult:
    """Evaluate `base` and every complete checkpoint under `checkpoints` (a directory or a glob)
    on `tasks`/`suite` x `seeds`, compare each with the base, write the curve into `out`.

    `run_name` (default: the checkpoints folder's name) and `base_name` (default: `base` as
    given) are the model names in `results`. Without `checkpoints`, nothing is evaluated: the
    curve is drawn from the records of `run_name`'s checkpoints already stored beside
    `base_name`'s. `watch` (seconds) repeats the pass until Ctrl-C, then returns the last one.
    `eval_kw` goes to `forgetmap.evaluate` (max_new_tokens, batch_size, backend options...).
    """
    console = console or Console(stderr=True)
    if checkpoints is None:
        if not run_name or not base_name:
            raise ForgetmapError(
                "without --checkpoints, give --run-name and --base-name: the curve is then drawn "
                "from the records of that run already in the results directory"
            )
        if watch is not None:
            raise ForgetmapError("--watch needs --checkpoints (a folder to poll)")
    elif base is None:
        raise ForgetmapError("--checkpoints needs --base (the model the run started from)")
    run = run_name or _default_run_name(Path(os.fspath(checkpoints or ".")))
    label = base_name or str(base)
    plan = _Plan(
        base, label, run, checkpoints, results, out, settle_s, bootstrap, report, progress,
        console,
        dict(
            tasks=tasks, suite=suite, seeds=tuple(seeds), elicitation=elicitation,
            backend=backend, limit=limit, data_dir=data_dir, protocol=protocol, **eval_kw,
        ),
    )  # fmt: skip
    result = plan.once()
    while watch is not None:
        try:
            time.sleep(watch)
            result = plan.once(only_if_new=True) or result
        except KeyboardInterrupt:
            console.print("watch stopped; the outputs are those of the last pass")
            break
    return result


def _default_run_name(path: Path) -> str:
    """The run's name from `--checkpoints`: the folder holding the checkpoints."""
    p = path.expanduser().absolute()
    while any(ch in p.name for ch in "*?[") or TRAINER_DIR.match(p.name) or p.suffix == ".gguf":
        p = p.parent
    return p.name or "run"


@dataclass
class _Plan:
    base: str | None
    base_name: str
    run: str
    checkpoints: str | os.PathLike[str] | None
    results: str | os.PathLike[str]
    out: str | os.PathLike[str]
    settle_s: float
    bootstrap: int
    report: bool
    progress: bool
    console: Console
    eval_kw: dict[str, Any]
    done: set[int] = field(default_factory=set)  # steps evaluated by an earlier pass

    def once(self, only_if_new: bool = False) -> TrackResult | None:
        """One pass; with `only_if_new`, None (nothing rewritten) when no new checkpoint came."""
        evaluations: list[RunSummary] = []
        notes: list[str] = []
        if self.checkpoints is not None:
            found = discover(self.checkpoints, self.settle_s)
            notes = found.notes()
            for n in notes:
                self.console.print(f"[yellow]note:[/] {escape(n)}", highlight=False)
            todo = [c for c in found.checkpoints if c.step not in self.done]
            if only_if_new and not todo:
                return None
            evaluations = self._evaluate(todo)
        store = ResultsStore(self.results)
        steps, models = _stored_checkpoints(store, self.run, self.base_name)
        if not steps:
            where = f" under {self.checkpoints}" if self.checkpoints is not None else ""
            raise ForgetmapError(
                f"no complete checkpoint of run {self.run!r}{where} and none in {self.results} "
                f"(checkpoint model names are {self.run}/step-<N>)"
            )
        if self.base_name not in store.models():
            raise ForgetmapError(f"base model {self.base_name!r} has no records in {self.results}")
        return self._write(store, steps, models, evaluations, notes)

    def _evaluate(self, todo: list[Checkpoint]) -> list[RunSummary]:
        """The base, then each checkpoint not done yet; each is skipped by the engine when its
        records are all stored."""
        assert self.base is not None
        out = [self._eval(self.base, self.base_name, "base")]
        adapter_base = resolve_model(self.base)
        for i, ck in enumerate(todo, 1):
            name = checkpoint_model_name(self.run, ck.step)
            extra: dict[str, Any] = {}
            if ck.kind == "adapter":
                if self.eval_kw["backend"] != "hf":
                    raise ForgetmapError(
                        f"{ck.path} is a PEFT adapter: it loads on --backend hf only"
                    )
                extra["base"] = adapter_base
            out.append(self._eval(str(ck.path), name, f"{i}/{len(todo)} step {ck.step}", extra))
            self.done.add(ck.step)
        return out

    def _eval(
        self, model: str, name: str, what: str, extra: dict[str, Any] | None = None
    ) -> RunSummary:
        s = evaluate(
            model,
            model_name=name,
            results=self.results,
            progress=self.progress,
            **self.eval_kw,
            **(extra or {}),
        )
        verb = "done before" if s.n_written == 0 else f"{s.n_written} records written"
        self.console.print(
            f"[bold]{escape(what)}[/] {escape(name)}: {verb} ({s.n_skipped} skipped)",
            highlight=False,
        )
        return s

    def _write(
        self,
        store: ResultsStore,
        steps: list[int],
        models: list[str],
        evaluations: list[RunSummary],
        notes: list[str],
    ) -> TrackResult:
        comparison = compare(store, [(self.base_name, m) for m in models], bootstrap=self.bootstrap)
        written = write_outputs(
            store, comparison, self.base_name, self.run, steps, models, Path(self.out), notes,
            report=self.report, console=self.console,
        )  # fmt: skip
        return TrackResult(
            self.run, self.base_name, steps, models, evaluations, comparison, written.curve,
            written.first_forgotten, written.files, notes,
        )  # fmt: skip


def _stored_checkpoints(store: ResultsStore, run: str, base: str) -> tuple[list[int], list[str]]:
    """(steps, model names) of every checkpoint of `run` with records in `store`, by step; the
    base is not one of them even when named like one (the callback stores it as `run/step-0`)."""
    found = sorted(
        (parsed[1], m)
        for m in store.models()
        if (parsed := parse_checkpoint_model_name(m)) is not None and parsed[0] == run and m != base
    )
    return [s for s, _ in found], [m for _, m in found]
