"""Data parallel: N engine replicas as Ray actors behind the ordinary `Backend` interface.

Each actor loads the model once (a vLLM replica may itself be tensor parallel: it then asks Ray
for `tensor_parallel_size` GPUs). The runner's sorted request stream is cut into batches that are
handed out on demand (two in flight per replica), so a slow replica never holds the others up;
results come back to the driver, which alone writes the store, so resume and the no-duplicate
guarantee are exactly those of a single-process run. `RAY_ADDRESS` (or an earlier `ray.init`)
selects the cluster; otherwise a local one is started and stopped again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from forgetmap.engine.backends.base import Backend
from forgetmap.engine.types import BackendInfo, GenRequest, GenResult, LoglikRequest, LoglikResult
from forgetmap.errors import ForgetmapError


class _Replica:
    """The actor body: one loaded backend."""

    def __init__(self, backend: str, model: str, kw: dict[str, Any]):
        from forgetmap.engine.backends import load_backend

        self.b = load_backend(backend, model, **kw)

    def meta(self) -> tuple[bool, int, str, BackendInfo]:
        return self.b.has_chat_template, self.b.batch_size, self.b.order, self.b.info()

    def render_many(self, messages: list) -> list[str]:
        return self.b.render_many(messages)

    def generate(self, batch: list[GenRequest]) -> list[GenResult]:
        return self.b.generate(batch)

    def loglik(self, batch: list[LoglikRequest]) -> list[LoglikResult]:
        return self.b.loglik(batch)


class RayPool(Backend):
    name = "ray"

    def __init__(self, replicas: int, backend: str, model: str, **kw: Any):
        try:
            import ray
        except ImportError:
            raise ForgetmapError(
                "--data-parallel needs Ray: pip install 'forgetmap[ray]'"
            ) from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS") or None, log_to_driver=False)
            self._started = True
        gpus = 0
        if backend == "vllm":
            gpus = int(kw.get("tensor_parallel_size") or 1)
        elif backend == "hf" and ray.cluster_resources().get("GPU", 0) >= replicas:
            gpus = 1
        actor = ray.remote(num_cpus=1, num_gpus=gpus)(_Replica)
        self.actors = [actor.remote(backend, model, kw) for _ in range(replicas)]
        try:
            metas = ray.get([a.meta.remote() for a in self.actors])
        except ray.exceptions.RayActorError as exc:
            raise ForgetmapError(f"a {backend} replica failed to load {model}: {exc}") from None
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, ForgetmapError) else exc
            raise ForgetmapError(str(cause)) from None
        self._chat, self.batch_size, self.order, self._info = metas[0]
        self.backend = backend
        self.replicas = replicas

    @property
    def has_chat_template(self) -> bool:
        return self._chat

    def render_many(self, messages: Sequence[Sequence[dict]]) -> list[str]:
        return self._ray.get(self.actors[0].render_many.remote([list(m) for m in messages]))

    def render_chat(self, messages: Sequence[dict]) -> str:
        return self.render_many([messages])[0]

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        out: dict[int, GenResult] = {}
        batches = [list(requests[i :: len(self.actors)]) for i in range(len(self.actors))]
        for _, res in self.run_batches([b for b in batches if b]):
            out.update((r.key, r) for r in res)
        return [out[r.key] for r in requests]

    def loglik(self, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        out: dict[int, LoglikResult] = {}
        batches = [list(requests[i :: len(self.actors)]) for i in range(len(self.actors))]
        for _, res in self.run_batches([b for b in batches if b], kind="loglik"):
            out.update((r.key, r) for r in res)
        return [out[r.key] for r in requests]

    def run_batches(
        self, batches: Iterable[list[Any]], kind: str = "generate"
    ) -> Iterator[tuple[list[Any], list[Any]]]:
        """Hand batches to idle replicas (two in flight each); yield them as they finish."""
        ray = self._ray
        todo = iter(batches)
        inflight: dict[Any, tuple[list[Any], Any]] = {}

        def submit(actor: Any) -> bool:
            batch = next(todo, None)
            if batch is None:
                return False
            ref = (actor.generate if kind == "generate" else actor.loglik).remote(batch)
            inflight[ref] = (batch, actor)
            return True

        for a in self.actors:
            for _ in range(2):
                submit(a)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1)
            batch, actor = inflight.pop(ready[0])
            try:
                res = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, ForgetmapError) else exc
                raise ForgetmapError(f"replica failed: {cause}") from None
            submit(actor)
            yield batch, res

    def info(self) -> BackendInfo:
        i = self._info
        i.extra = {**i.extra, "data_parallel": self.replicas, "ray": self._ray.__version__}
        return i

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
        if self._started:
            self._ray.shutdown()
