"""The run scheduler: (model, tasks, seeds) -> per-sample records, resumable, one model load.

Every (task, item, seed) still missing from the store becomes one request of a single stream
(the study re-created its engine for every task and seed). The stream is sorted so that requests
sharing a prompt sit together (the seeds of one item follow each other: llama.cpp reuses the KV
prefix, HF batches equal lengths, vLLM's prefix cache hits), and results are written through
`ResultsStore.write` in small atomic batches. A crash or SIGKILL loses at most the batch not yet
flushed; a rerun skips every (task, item_id, seed, prompt_hash) already stored for the model, so no
record is ever written twice.

Two runs of one model at once (two jobs, a retried job) cooperate through the store: each batch is
checked against the stored keys under the model's lock (what the other run stored first is dropped,
never written twice), and before each engine batch the requests another run has stored meanwhile
are dropped too, so the work is not done twice either. A run holds its run lock while it lives, so
`forgetmap runs` tells a running run from a killed one (interrupted).

Keys stored with another prompt (changed prompts or elicitation under the same model name) are an
error unless `on_duplicate` says to keep them ("skip") or evaluate again and replace them
("replace").

`loglik` elicitation: pred is the option with the highest summed log-likelihood. Scoring has no
randomness, so it is computed once per item and the same record is written for every seed
(identical by construction; seeds are kept so pairing with sampled runs works).
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from forgetmap.engine.backends import load_backend
from forgetmap.engine.backends.base import Backend, require_chat_template
from forgetmap.engine.types import GenRequest, GenResult, LoglikRequest, SamplingParams
from forgetmap.errors import ForgetmapError
from forgetmap.records import DUPLICATE_POLICIES, RECORD_SCHEMA, ResultsStore, check_model_name
from forgetmap.records.schema import ELICITATIONS, generation_elicitation
from forgetmap.records.store import RunInfo

if TYPE_CHECKING:
    from forgetmap.engine.types import BackendInfo, LoglikResult
    from forgetmap.suite.items import LoadedTask
    from forgetmap.suite.protocol import Protocol
    from forgetmap.suite.registry import TaskSpec

DEFAULT_SEEDS = (0, 1, 2)


@dataclass
class RunSummary:
    """What one `evaluate` call did."""

    model: str
    run_id: str
    results: Path
    elicitation: str
    n_planned: int  # records the run covers (tasks x items x seeds)
    n_skipped: int  # already in the store (resume)
    n_written: int
    elapsed_s: float
    tokens_in: int = 0
    tokens_out: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)
    n_concurrent: int = 0  # records a concurrent run of the model stored first (not written here)


@dataclass
class _Entry:
    """One (task, item) with its prompt; `seeds` still to do."""

    spec: Any
    item: Any
    prompt: Any
    seeds: list[int]
    rendered: str = ""


@dataclass
class _Unit:
    entry: _Entry
    seed: int


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def done_keys(store: ResultsStore, model: str) -> set[tuple[str, str, int, str | None]]:
    """(task, item_id, seed, prompt_hash) of every record already stored for `model`."""
    return store.stored_keys(model)


def evaluate(
    model: str,
    backend: str | Backend = "hf",
    tasks: str | Sequence[str | TaskSpec] | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    results: str | os.PathLike[str] = "results",
    elicitation: str | None = None,
    limit: int | None = None,
    max_new_tokens: int = 32768,
    temperature: float = 0.6,
    top_p: float = 0.95,
    data_dir: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    suite: str | None = None,
    model_name: str | None = None,
    data_parallel: int = 1,
    flush_size: int = 32,
    flush_seconds: float = 20.0,
    progress: bool = True,
    run_id: str | None = None,
    protocol: str | Protocol | None = None,
    on_duplicate: str = "error",
    **backend_kw: Any,
) -> RunSummary:
    """Evaluate `model` on `tasks` (names, globs or TaskSpecs; or `suite`) for every seed.

    `backend` is a backend name (the model is loaded once here, or once per Ray replica with
    `data_parallel > 1`) or an already loaded `Backend`. `model_name` labels the records (default:
    `model` as given). `protocol` is a built-in protocol name, a protocol file or a loaded
    `Protocol` (default `forgetmap`); items it uses as exemplars are not evaluated. Returns a
    RunSummary; the run manifest (protocol included) sits next to the records.
    `on_duplicate`: items already stored for the model with another prompt are an error, or are
    kept ("skip"), or evaluated again and replaced ("replace").
    """
    from forgetmap.suite.protocol_loader import load_protocol

    t0 = time.time()
    label = check_model_name(model_name or model)
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ForgetmapError(
            f"--on-duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}"
        )
    seeds = [int(s) for s in seeds]
    specs = _check_request(tasks, suite, seeds, elicitation, max_new_tokens)
    sp = dict(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
    proto = load_protocol(protocol)
    data_dir = Path(data_dir) if data_dir is not None else None
    loaded = [proto.load(s, data_dir=data_dir, limit=limit) for s in specs]
    store = ResultsStore(results)
    run_id = run_id or new_run_id()

    if elicitation is not None and not isinstance(backend, Backend):
        # Prompts are known without the model: a finished run returns without loading it.
        entries, n_planned, n_skipped = _plan(
            store, label, specs, loaded, seeds, elicitation, data_dir, proto, on_duplicate
        )
        if not entries:
            return RunSummary(
                label, run_id, Path(results), elicitation, n_planned, n_skipped, 0,
                time.time() - t0,
            )  # fmt: skip
    t_load = time.time()
    engine = _open_engine(
        backend, model, batch_size, data_parallel, need_loglik=elicitation == "loglik", **backend_kw
    )
    try:
        t_loaded = time.time()
        if elicitation is None:
            elicitation = generation_elicitation(engine.has_chat_template)
        elif elicitation == "cot_chat":
            require_chat_template(engine, model)

        entries, n_planned, n_skipped = _plan(
            store, label, specs, loaded, seeds, elicitation, data_dir, proto, on_duplicate
        )
        manifest = _start_manifest(
            engine.info(), model, elicitation, proto, specs, loaded, seeds, limit, data_dir,
            data_parallel, sp, t0, n_planned, n_skipped,
        )  # fmt: skip
        manifest["on_duplicate"] = on_duplicate
        writer = _Writer(
            store, label, run_id, elicitation, flush_size, flush_seconds, proto, on_duplicate
        )
        if entries:
            with store.start_run(label, run_id) as others:
                _note_others(label, others)
                store.write_manifest(label, run_id, manifest)
                _execute(engine, entries, writer, manifest, progress, sp, (t0, t_load, t_loaded))
    finally:
        if not isinstance(backend, Backend):
            engine.close()
    return RunSummary(
        label, run_id, Path(results), elicitation, n_planned, n_skipped, writer.n_written,
        time.time() - t0, writer.tokens_in, writer.tokens_out, manifest, writer.n_concurrent,
    )  # fmt: skip


def _note_others(label: str, others: list[RunInfo]) -> None:
    """Tell the user that another run of this model is in progress, and what happens now."""
    if not others:
        return
    from rich.console import Console
    from rich.markup import escape

    who = "; ".join(
        f"run {o.run_id} (pid {o.manifest.get('pid', '?')} on {o.manifest.get('host', '?')}, "
        f"started {o.manifest.get('started', '?')})"
        for o in others
    )
    Console(stderr=True, soft_wrap=True).print(
        f"[yellow]note[/] another run of {escape(label)} is in progress: {escape(who)}. Both go "
        "on; what one of them has stored, the other skips, and no record is written twice.",
        highlight=False,
    )


def _execute(
    engine: Backend,
    entries: list[_Entry],
    writer: _Writer,
    manifest: dict[str, Any],
    progress: bool,
    sp: dict[str, Any],
    times: tuple[float, float, float],
) -> None:
    """Every request, flushed as it goes; the manifest ends complete or interrupted."""
    t0, t_load, t_loaded = times
    status = "interrupted"
    try:
        todo = sum(len(e.seeds) for e in entries)
        with _progress(progress, todo, writer.model) as advance:
            if writer.elicitation == "loglik":
                _run_loglik(engine, entries, writer, advance)
            else:
                _run_generate(engine, entries, sp, writer, advance)
        writer.flush()
        status = "complete"
    finally:
        writer.flush()
        manifest.update(_end_fields(status, writer, t0, t_load, t_loaded))
        writer.store.write_manifest(writer.model, writer.run_id, manifest)


def _check_request(
    tasks: str | Sequence[str | TaskSpec] | None,
    suite: str | None,
    seeds: list[int],
    elicitation: str | None,
    max_new_tokens: int,
) -> list[Any]:
    """Check the run's arguments (one clear error each) and resolve the tasks to TaskSpecs."""
    from forgetmap.suite.registry import resolve_tasks

    if not seeds or len(set(seeds)) != len(seeds):
        raise ForgetmapError(f"--seeds must be distinct integers, got {seeds}")
    if elicitation is not None and elicitation not in ELICITATIONS:
        raise ForgetmapError(
            f"unknown elicitation {elicitation!r}; choose one of {', '.join(ELICITATIONS)}"
        )
    if max_new_tokens < 1:
        raise ForgetmapError("--max-new-tokens must be at least 1")
    if isinstance(tasks, str):
        return resolve_tasks(suite, tasks.split(","))
    if tasks and all(isinstance(t, str) for t in tasks):
        return resolve_tasks(suite, [str(t) for t in tasks])
    if tasks:
        return list(tasks)
    return resolve_tasks(suite, None)


def _start_manifest(
    info: BackendInfo,
    model: str,
    elicitation: str,
    proto: Protocol,
    specs: Sequence[TaskSpec],
    loaded: Sequence[LoadedTask],
    seeds: list[int],
    limit: int | None,
    data_dir: str | os.PathLike[str] | None,
    data_parallel: int,
    sampling: dict[str, Any],
    t0: float,
    n_planned: int,
    n_skipped: int,
) -> dict[str, Any]:
    """The run manifest as written when generation starts (docs/records.md: run metadata)."""
    return {
        "status": "running",
        "backend": info.backend,
        "backend_info": {
            "model_path": info.model_path,
            "device": info.device,
            "dtype": info.dtype,
            "has_chat_template": info.has_chat_template,
            **info.extra,
        },
        "versions": {**_versions(), **info.versions},
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "platform": platform.platform(),
        "model_spec": model,
        "elicitation": elicitation,
        "protocol": proto.manifest(list(specs), data_dir),
        "sampling": {**sampling, "seeds": seeds},
        "tasks": [s.name for s in specs],
        "limit": limit,
        "data_dir": str(data_dir or os.environ.get("FORGETMAP_DATA_DIR") or ""),
        "datasets": {
            lt.task: {
                "source": lt.source,
                "hub_revision": s.hub_revision,
                "n_items": len(lt.items),
                **({"n_excluded": len(lt.excluded)} if lt.excluded else {}),
            }
            for s, lt in zip(specs, loaded, strict=False)
        },
        "data_parallel": data_parallel,
        "argv": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "n_planned": n_planned,
        "n_skipped_resume": n_skipped,
    }


def _end_fields(
    status: str, writer: _Writer, t0: float, t_load: float, t_loaded: float
) -> dict[str, Any]:
    """What the manifest gains when the run stops: status, timings, counts, throughput."""
    t_end = time.time()
    gen_s = max(t_end - t_loaded, 1e-9)
    return {
        "status": status,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_end)),
        "timings": {
            "load_data_s": round(t_load - t0, 3),
            "load_model_s": round(t_loaded - t_load, 3),
            "generate_s": round(gen_s, 3),
            "total_s": round(t_end - t0, 3),
        },
        "n_written": writer.n_written,
        "n_concurrent": writer.n_concurrent,
        "tokens_in": writer.tokens_in,
        "tokens_out": writer.tokens_out,
        "throughput": {
            "records_per_s": round(writer.n_written / gen_s, 3),
            "tokens_out_per_s": round(writer.tokens_out / gen_s, 3),
            "tokens_in_per_s": round(writer.tokens_in / gen_s, 3),
        },
    }


# -- planning -------------------------------------------------------------------------------------


def _open_engine(
    backend: str | Backend,
    model: str,
    batch_size: int | None,
    data_parallel: int,
    need_loglik: bool,
    **kw: Any,
) -> Backend:
    if isinstance(backend, Backend):
        if data_parallel > 1:
            raise ForgetmapError("data_parallel > 1 needs a backend name, not a loaded backend")
        return backend
    if batch_size is not None:
        kw["batch_size"] = batch_size
    if data_parallel > 1:
        from forgetmap.engine.ray_dp import RayPool

        return RayPool(data_parallel, backend, model, need_loglik=need_loglik, **kw)
    return load_backend(backend, model, need_loglik=need_loglik, **kw)


def _plan(
    store: ResultsStore,
    label: str,
    specs: Sequence[TaskSpec],
    loaded: Sequence[LoadedTask],
    seeds: list[int],
    elicitation: str,
    data_dir: Path | None,
    protocol: Protocol,
    on_duplicate: str = "error",
) -> tuple[list[_Entry], int, int]:
    """Prompts of every item, minus the (task, item_id, seed, prompt_hash) already stored.

    An item stored with another prompt_hash is a conflict: an error naming it, kept
    (on_duplicate="skip") or evaluated again, replacing it ("replace")."""
    from forgetmap.suite.prompts import build_prompt

    done = done_keys(store, label)
    other_prompt = {k[:3]: k[3] for k in done}
    conflicts: list[tuple[str, str, int]] = []
    entries: list[_Entry] = []
    n_planned = n_skipped = 0
    for spec, lt in zip(specs, loaded, strict=False):
        if elicitation == "loglik" and spec.free_form:
            raise ForgetmapError(
                f"{spec.name}: {spec.answer_mode} answers cannot be scored by loglik (no options)"
            )
        seen: set[str] = set()
        for item in lt.items:
            if item.item_id in seen:
                raise ForgetmapError(f"{spec.name}: duplicate item_id {item.item_id!r} in the data")
            seen.add(item.item_id)
            prompt = build_prompt(spec, item, elicitation, data_dir=data_dir, protocol=protocol)
            todo = [
                s for s in seeds if (spec.name, item.item_id, s, prompt.prompt_hash) not in done
            ]
            clash = [s for s in todo if (spec.name, item.item_id, s) in other_prompt]
            if clash and on_duplicate != "replace":
                conflicts.extend((spec.name, item.item_id, s) for s in clash)
                todo = [s for s in todo if s not in clash]
            n_planned += len(seeds)
            n_skipped += len(seeds) - len(todo)
            if todo:
                entries.append(_Entry(spec, item, prompt, todo))
    if conflicts and on_duplicate == "error":
        t, i, s = conflicts[0]
        raise ForgetmapError(
            f"model {label!r}: {len(conflicts)} item(s) are already stored in {store.root} with "
            f"another prompt (e.g. {t} item {i!r} seed {s}; changed prompts, protocol, "
            "elicitation or few-shot settings); store this run under another --model-name, or "
            "pass --on-duplicate skip to keep the stored records or --on-duplicate replace to "
            "evaluate them again and replace them"
        )
    return entries, n_planned, n_skipped


# -- execution ------------------------------------------------------------------------------------


def _run_generate(
    engine: Backend,
    entries: list[_Entry],
    sp: dict[str, Any],
    writer: _Writer,
    advance: Callable[[int, int], None],
) -> None:
    chats = [e for e in entries if e.prompt.messages is not None]
    if chats:
        rendered = engine.render_many([tuple(e.prompt.messages) for e in chats])
        for e, r in zip(chats, rendered, strict=False):
            e.rendered = r
    for e in entries:
        if e.prompt.messages is None:
            e.rendered = e.prompt.text
    # Equal prompts together (their seeds adjacent), longest first where the backend pads.
    if engine.order == "length":
        entries.sort(key=lambda e: (-len(e.rendered), e.rendered))
    else:
        entries.sort(key=lambda e: e.rendered)
    units = [_Unit(e, s) for e in entries for s in e.seeds]
    reqs = [
        GenRequest(
            key=i,
            sampling=SamplingParams(seed=u.seed, stop=tuple(u.entry.prompt.stop), **sp),
            messages=tuple(u.entry.prompt.messages)
            if u.entry.prompt.messages is not None
            else None,
            text=u.entry.prompt.text if u.entry.prompt.messages is None else None,
        )
        for i, u in enumerate(units)
    ]
    chunk = max(1, engine.batch_size)
    batches = [reqs[i : i + chunk] for i in range(0, len(reqs), chunk)]
    fresh = _not_stored_meanwhile(batches, units, writer, advance)
    for batch, res in engine.run_batches(fresh):
        for req, r in zip(batch, res, strict=False):
            writer.add_generation(units[req.key], r)
        advance(len(batch), sum(r.n_tokens_out for r in res))
        writer.maybe_flush()


def _not_stored_meanwhile(
    batches: list[list[GenRequest]],
    units: list[_Unit],
    writer: _Writer,
    advance: Callable[[int, int], None],
    every_s: float = 1.0,
) -> Iterator[list[GenRequest]]:
    """The batches, minus requests whose record a concurrent run of the model has stored since
    the plan was made (checked at most every `every_s`: a directory listing, plus reading the
    keys of files not seen before)."""
    last = 0.0
    stored: set = set()
    for batch in batches:
        if time.time() - last >= every_s:
            stored, last = writer.store.stored_keys(writer.model), time.time()
        keep = [r for r in batch if _key(units[r.key]) not in stored]
        if len(keep) < len(batch):
            writer.n_concurrent += len(batch) - len(keep)
            advance(len(batch) - len(keep), 0)
        if keep:
            yield keep


def _key(u: _Unit) -> tuple[str, str, int, str]:
    return (u.entry.spec.name, u.entry.item.item_id, u.seed, u.entry.prompt.prompt_hash)


def _run_loglik(
    engine: Backend, entries: list[_Entry], writer: _Writer, advance: Callable[[int, int], None]
) -> None:
    reqs = [
        LoglikRequest(key=i, context=e.prompt.text, continuations=tuple(e.prompt.continuations))
        for i, e in enumerate(entries)
    ]
    chunk = max(1, engine.batch_size)
    batches = [reqs[i : i + chunk] for i in range(0, len(reqs), chunk)]
    for batch, res in engine.run_batches(batches, kind="loglik"):
        for req, r in zip(batch, res, strict=False):
            writer.add_loglik(entries[req.key], r)
        advance(sum(len(entries[q.key].seeds) for q in batch), 0)
        writer.maybe_flush()


# -- records --------------------------------------------------------------------------------------

_COLS = RECORD_SCHEMA.names  # the writer buffers one list per record column


class _Writer:
    """Buffers records and appends them as one atomic Parquet batch every `flush_size` rows or
    `flush_seconds`, whichever comes first."""

    def __init__(
        self,
        store: ResultsStore,
        model: str,
        run_id: str,
        elicitation: str,
        flush_size: int,
        flush_seconds: float,
        protocol: Protocol,
        on_duplicate: str = "error",
    ):
        self.store, self.model, self.run_id, self.elicitation = store, model, run_id, elicitation
        self.protocol = protocol
        self.flush_size, self.flush_seconds = max(1, flush_size), flush_seconds
        # keys a concurrent run stored first are skipped; "replace" re-evaluates other prompts'
        self.policy = "replace" if on_duplicate == "replace" else "skip"
        self.rows: dict[str, list[Any]] = {c: [] for c in _COLS}
        self.n_written = self.tokens_in = self.tokens_out = self.n_concurrent = 0
        self.last_flush = time.time()

    def _add(
        self,
        e: _Entry,
        seed: int,
        response: str,
        fields: dict[str, Any],
        r: GenResult | LoglikResult,
    ) -> None:
        item, spec = e.item, e.spec
        row = {
            "model": self.model,
            "task": spec.name,
            "item_id": item.item_id,
            "seed": seed,
            "n_choices": item.k,
            "gold": item.gold,
            "response": response,
            "prompt_hash": e.prompt.prompt_hash,
            "elicitation": self.elicitation,
            "category": spec.category,
            "question": item.full_question,
            "choices": list(item.choices),
            "n_tokens_in": r.n_tokens_in,
            "n_tokens_out": getattr(r, "n_tokens_out", 0),
            "finish_reason": getattr(r, "finish_reason", "loglik"),
            "run_id": self.run_id,
            **fields,
        }
        for c in _COLS:
            self.rows[c].append(row.get(c))
        self.tokens_in += r.n_tokens_in
        self.tokens_out += getattr(r, "n_tokens_out", 0)

    def _multi(self, spec: TaskSpec) -> str:
        return self.protocol.for_task(spec)["multi_answer"]

    def add_generation(self, unit: _Unit, r: GenResult) -> None:
        from forgetmap.suite.scoring import score_response

        e = unit.entry
        fields = score_response(e.spec, e.item, r.text, self._multi(e.spec))
        self._add(e, unit.seed, r.text, fields, r)

    def add_loglik(self, e: _Entry, r: LoglikResult) -> None:
        from forgetmap.suite.scoring import score_loglik

        fields, response = score_loglik(e.spec, e.item, r.logliks, self._multi(e.spec))
        for seed in e.seeds:
            self._add(e, seed, response, fields, r)

    def maybe_flush(self) -> None:
        n = len(self.rows["model"])
        if n >= self.flush_size or (n and time.time() - self.last_flush >= self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        n = len(self.rows["model"])
        self.last_flush = time.time()
        if not n:
            return
        table = pa.table(self.rows)
        self.rows = {c: [] for c in _COLS}
        res = self.store.write(
            table, self.model, self.run_id, source=f"run {self.run_id}", on_duplicate=self.policy
        )
        self.n_written += res.n_written
        self.n_concurrent += res.n_skipped


# -- progress and manifest ------------------------------------------------------------------------


class _progress:
    """Rich progress bar with records/s, generated tokens/s and ETA (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled and total > 0, total, label
        self.tokens = 0
        self.t0 = time.time()

    def __enter__(self) -> Callable[[int, int], None]:
        if not self.enabled:
            return lambda n, t: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.start()
        self.task = self.bar.add_task(f"eval {self.label}", total=self.total, rate="")

        def advance(n: int, tokens: int) -> None:
            self.tokens += tokens
            dt = max(time.time() - self.t0, 1e-9)
            done = self.bar.tasks[0].completed + n
            rate = f"{done / dt:.2f} rec/s {self.tokens / dt:.1f} tok/s"
            self.bar.update(self.task, advance=n, rate=rate)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("forgetmap", "pyarrow", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out
