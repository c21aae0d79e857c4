"""The one small interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from forgetmap.engine.types import BackendInfo, GenRequest, GenResult, LoglikRequest, LoglikResult
from forgetmap.errors import ForgetmapError


class Backend(ABC):
    """A loaded model that generates batches of requests (each with its own seed) and scores options.

    `batch_size` is how many requests the runner hands over at once; a backend may split further.
    """

    name: str = "?"
    batch_size: int = 8
    # How the runner orders the stream: "prefix" (equal prompts/prefixes adjacent: KV reuse) or
    # "length" (longest first, for backends that pad a batch to its longest prompt).
    order: str = "prefix"

    @property
    @abstractmethod
    def has_chat_template(self) -> bool:
        """Whether the model ships a chat template (decides the default elicitation)."""

    @abstractmethod
    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        """Generate every request; results in the same order."""

    def loglik(self, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        """Sum of log-probabilities of each option continuation after its context."""
        raise ForgetmapError(
            f"backend '{self.name}' cannot score log-likelihoods; use hf or llamacpp"
        )

    @abstractmethod
    def info(self) -> BackendInfo:
        """Facts for the run manifest (versions, device, dtype)."""

    def count_tokens(self, text: str) -> int:
        """Token count of a rendered prompt, for sorting and manifests (approximate if unknown)."""
        return max(1, len(text) // 4)

    def render_chat(self, messages: Sequence[dict]) -> str:
        """The chat template applied to messages, with the generation prompt (for sorting/caching)."""
        return "\n".join(str(m.get("content", "")) for m in messages)

    def render_many(self, messages: Sequence[Sequence[dict]]) -> list[str]:
        """render_chat for many prompts (one remote call for a Ray pool)."""
        return [self.render_chat(m) for m in messages]

    def run_batches(
        self, batches: Iterable[list[Any]], kind: str = "generate"
    ) -> Iterator[tuple[list[Any], list[Any]]]:
        """(batch, results) for each batch, in completion order (in order for one process)."""
        fn = self.generate if kind == "generate" else self.loglik
        for b in batches:
            yield b, fn(b)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model (GPU memory, server connections)."""


def require_chat_template(backend: Backend, model: str) -> None:
    if not backend.has_chat_template:
        raise ForgetmapError(
            f"model {model} has no chat template, so --elicitation cot_chat cannot be used; "
            "use --elicitation cot_fewshot (base models) or loglik"
        )
