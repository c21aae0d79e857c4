"""The probe set a training callback evaluates at each checkpoint: small, fixed, stratified.

Forgetting measured during training has to be cheap (it runs at every save) and comparable from
step to step (the same items every time). A probe set is the same number of items from each of a
few tasks spread over categories, chosen by a seeded hash of (task, item_id): the choice depends
on neither file order nor machine, and a larger set contains the smaller one. Its power is
stated up front: the minimum detectable F_true per category and Total of
`forgetmap.metrics.power` for the design (docs/tracking.md).

The default tasks are ones a 135M-parameter model already answers above chance when scored by
log-likelihood (ARC-Easy, PIQA, HellaSwag): on tasks at chance there is nothing to forget.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from forgetmap.errors import ForgetmapError
from forgetmap.metrics.power import PlanTask, plan_mde
from forgetmap.suite.items import LoadedTask
from forgetmap.suite.protocol import Protocol
from forgetmap.suite.registry import TaskSpec, list_tasks, resolve_tasks

#: the suite (suite/tasks.yaml) whose tasks the default probe set samples
DEFAULT_PROBE_SUITE = "probe"
DEFAULT_ITEMS_PER_TASK = 200
#: accuracy the stated MDE assumes (a small model by log-likelihood on the default tasks)
ASSUMED_ACC = 0.5
PROBE_SALT = "forgetmap-probe/v1"


def probe_rank(task: str, item_id: str, seed: int) -> bytes:
    """The sort key of an item in the probe order: blake2b over salt, seed, task and item_id."""
    text = f"{PROBE_SALT}|{seed}|{task}|{item_id}".encode()
    return hashlib.blake2b(text, digest_size=8).digest()


@dataclass(frozen=True)
class ProbeSet:
    """Per task, the item ids probed; with the design's MDE (category and "Total" -> F_true)."""

    items: dict[str, tuple[str, ...]]
    categories: dict[str, str]  # task -> category
    seed: int
    n_seeds: int
    mde: dict[str, float]
    design_acc: float = ASSUMED_ACC

    @property
    def tasks(self) -> list[str]:
        return list(self.items)

    @property
    def n_items(self) -> int:
        return sum(len(v) for v in self.items.values())

    def protocol(self, base: Protocol) -> ProbeProtocol:
        """`base` restricted to the probe items (prompts, and so prompt hashes, unchanged)."""
        values = {f.name: getattr(base, f.name) for f in fields(base) if f.init}
        return ProbeProtocol(**values, probe_items={t: frozenset(v) for t, v in self.items.items()})

    def describe(self) -> str:
        """One line for logs and docs: size, tasks and the stated MDE of the Total."""
        per = ", ".join(f"{t} {len(v)}" for t, v in self.items.items())
        return (
            f"{self.n_items} probe items ({per}), {self.n_seeds} seed(s): MDE of Total F_true "
            f"{self.mde['Total']:.3f} (alpha 0.05, power 0.8, accuracy {self.design_acc:g})"
        )


@dataclass
class ProbeProtocol(Protocol):
    """A protocol whose `load` keeps only the probe items of each task (in the task's order)."""

    probe_items: dict[str, frozenset[str]] | None = None

    def load(
        self,
        task: str | TaskSpec,
        data_dir: str | Path | None = None,
        limit: int | None = None,
        source: str | None = None,
    ) -> LoadedTask:
        loaded = super().load(task, data_dir=data_dir, limit=None, source=source)
        keep = (self.probe_items or {}).get(loaded.task)
        if keep is None:
            raise ForgetmapError(f"{loaded.task} is not a task of the probe set")
        items = [it for it in loaded.items if it.item_id in keep]
        if limit is not None:
            items = items[:limit]
        return LoadedTask(
            loaded.task, items, loaded.skipped, loaded.repaired, loaded.source,
            loaded.description, excluded=loaded.excluded,
        )  # fmt: skip


def probe_set(
    tasks: str | Sequence[str] | None = None,
    items_per_task: int = DEFAULT_ITEMS_PER_TASK,
    seed: int = 0,
    n_seeds: int = 1,
    protocol: str | Protocol | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    design_acc: float = ASSUMED_ACC,
) -> ProbeSet:
    """The first `items_per_task` items of each task in probe order (`probe_rank`), with the
    design's MDE. `tasks` None: the `probe` suite's. Items a protocol keeps out (its few-shot
    exemplars) are never probes; a task with fewer items contributes all of them."""
    from forgetmap.suite.protocol_loader import load_protocol

    if items_per_task < 1:
        raise ForgetmapError(f"items_per_task must be at least 1, got {items_per_task}")
    if tasks is None:
        specs = list_tasks(DEFAULT_PROBE_SUITE)
    else:
        specs = resolve_tasks(None, tasks.split(",") if isinstance(tasks, str) else list(tasks))
    proto = load_protocol(protocol)
    items: dict[str, tuple[str, ...]] = {}
    plan: list[PlanTask] = []
    for spec in specs:
        if spec.free_form:
            raise ForgetmapError(f"{spec.name}: free-form answers cannot be probed by loglik")
        loaded = proto.load(spec, data_dir=Path(data_dir) if data_dir else None)
        if not loaded.items:
            raise ForgetmapError(f"{spec.name}: no items to probe")
        ids = sorted(
            (it.item_id for it in loaded.items), key=lambda i: probe_rank(spec.name, i, seed)
        )
        items[spec.name] = tuple(ids[:items_per_task])
        ks = [it.k for it in loaded.items if it.k]
        k = max(set(ks), key=ks.count) if ks else spec.k
        plan.append(PlanTask(spec.name, _category(spec), len(items[spec.name]), k))
    res = plan_mde(plan, n_seeds, design_acc)
    mde = {c: float(m) for c, m in zip([*res.categories, "Total"], res.mde, strict=True)}
    return ProbeSet(items, {p.name: p.category for p in plan}, seed, n_seeds, mde, design_acc)


def _category(spec: TaskSpec) -> str:
    return spec.category or spec.benchmark
